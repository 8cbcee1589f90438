// Revoked keys, as `ssh-keygen -Y verify -r FILE` (and sshd's RevokedKeys)
// read them: a text list of public keys, one a line, or an OpenSSH KRL
// (PROTOCOL.krl) from `ssh-keygen -k`. Of a KRL, the sections about plain keys
// count (explicit keys, SHA-1 and SHA-256 fingerprints); certificate sections
// do not apply (certificate signatures are not accepted at all). Pure.
import { createHash } from 'node:crypto';
import { InputError } from '../../errors.ts';
import { SshReader, SshWireError } from './ssh-wire.ts';

const KRL_MAGIC = Buffer.from('SSHKRL\n\0', 'latin1');
const SECTION_EXPLICIT_KEY = 2;
const SECTION_FINGERPRINT_SHA1 = 3;
const SECTION_SIGNATURE = 4;
const SECTION_FINGERPRINT_SHA256 = 5;

export interface RevokedKeys {
  has(key: Buffer): boolean;
  count: number;
}

export function parseRevokedKeys(data: Buffer, file: string): RevokedKeys {
  const keys = new Set<string>();
  const sha1 = new Set<string>();
  const sha256 = new Set<string>();
  if (data.subarray(0, KRL_MAGIC.length).equals(KRL_MAGIC)) readKrl(data, file, keys, sha1, sha256);
  else {
    data.toString('utf8').split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const b64 = line.split(/\s+/)[1];
      if (!b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new InputError({ file, line: i + 1, expected: "a public key 'KEYTYPE BASE64KEY [COMMENT]' (or give an OpenSSH KRL)" });
      keys.add(Buffer.from(b64, 'base64').toString('hex'));
    });
  }
  return {
    count: keys.size + sha1.size + sha256.size,
    has(key) {
      return keys.has(key.toString('hex')) || sha1.has(createHash('sha1').update(key).digest('hex')) || sha256.has(createHash('sha256').update(key).digest('hex'));
    },
  };
}

function readKrl(data: Buffer, file: string, keys: Set<string>, sha1: Set<string>, sha256: Set<string>): void {
  try {
    const r = new SshReader(data);
    r.bytes(KRL_MAGIC.length, 'magic');
    r.uint32('format version');
    r.bytes(8, 'krl version');
    r.bytes(8, 'generated date');
    r.bytes(8, 'flags');
    r.string('reserved');
    r.string('comment');
    while (r.left() > 0) {
      const type = r.bytes(1, 'section type')[0]!;
      if (type === SECTION_SIGNATURE) return; // the KRL's own signatures follow: nothing more about keys
      const section = new SshReader(r.string('section'));
      const into = type === SECTION_EXPLICIT_KEY ? keys : type === SECTION_FINGERPRINT_SHA1 ? sha1 : type === SECTION_FINGERPRINT_SHA256 ? sha256 : undefined;
      if (!into) continue; // certificate sections
      while (section.left() > 0) into.add(section.string('entry').toString('hex'));
    }
  } catch (err) {
    if (err instanceof SshWireError) throw new InputError({ file, expected: `an OpenSSH KRL (${err.message})` });
    throw err;
  }
}
