// OpenSSH's SSHSIG signature format (PROTOCOL.sshsig), what `ssh-keygen -Y
// sign` writes and `ssh-keygen -Y verify` reads:
//
//   blob        = "SSHSIG" uint32(1) string(publickey) string(namespace)
//                 string(reserved) string(hash_algorithm) string(signature)
//   signed data = "SSHSIG" string(namespace) string(reserved)
//                 string(hash_algorithm) string(H(message))
//
// armored between -----BEGIN/END SSH SIGNATURE----- in base64 lines of 70
// characters. The message itself is never signed, only its hash, so a
// multi-gigabyte tar is hashed once as it streams. Pure.
import { SshReader, SshWireError, sshString, u32 } from './ssh-wire.ts';
import { sshSign, sshVerify, type SigningKey } from './ssh-keys.ts';

export const BUNDLE_NAMESPACE = 'astrago-bundle';
const MAGIC = Buffer.from('SSHSIG');
const VERSION = 1;
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
/** The hash algorithms PROTOCOL.sshsig allows; sha512 is what ssh-keygen uses. */
export const SSHSIG_HASHES = ['sha512', 'sha256'] as const;
export type SshsigHash = (typeof SSHSIG_HASHES)[number];

export interface Sshsig {
  publicKey: Buffer;
  namespace: string;
  hashAlgorithm: SshsigHash;
  /** the SSH signature blob (string algorithm, string signature) */
  signature: Buffer;
}

export class SshsigFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshsigFormatError';
  }
}

function signedData(namespace: string, hash: SshsigHash, messageDigest: Buffer): Buffer {
  return Buffer.concat([MAGIC, sshString(namespace), sshString(''), sshString(hash), sshString(messageDigest)]);
}

/** Signs a message's digest (computed with `hash`); returns the armored signature text. */
export function signDigest(key: SigningKey, namespace: string, hash: SshsigHash, messageDigest: Buffer): string {
  const signature = sshSign(key, signedData(namespace, hash, messageDigest));
  const blob = Buffer.concat([MAGIC, u32(VERSION), sshString(key.publicBlob), sshString(namespace), sshString(''), sshString(hash), sshString(signature)]);
  const b64 = blob.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}

/** Reads an armored SSHSIG signature; throws SshsigFormatError saying what is wrong. */
export function parseSshsig(text: string): Sshsig {
  const start = text.indexOf(BEGIN);
  const stop = text.indexOf(END);
  if (start === -1 || stop < start) throw new SshsigFormatError(`not an SSH signature (no '${BEGIN}' ... '${END}' block)`);
  const b64 = text.slice(start + BEGIN.length, stop).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new SshsigFormatError('the signature block is not base64');
  const blob = Buffer.from(b64, 'base64');
  try {
    const r = new SshReader(blob);
    if (!r.bytes(6, 'magic').equals(MAGIC)) throw new SshsigFormatError("not an SSHSIG blob (no 'SSHSIG' preamble)");
    const version = r.uint32('version');
    if (version !== VERSION) throw new SshsigFormatError(`SSHSIG version ${version} is not supported (expected ${VERSION})`);
    const publicKey = Buffer.from(r.string('public key'));
    const namespace = r.text('namespace');
    r.string('reserved'); // ignored, as the spec says
    const hashAlgorithm = r.text('hash algorithm');
    const signature = Buffer.from(r.string('signature'));
    r.end('SSHSIG blob');
    if (!(SSHSIG_HASHES as readonly string[]).includes(hashAlgorithm)) throw new SshsigFormatError(`hash algorithm '${hashAlgorithm}' is not allowed (sha512 or sha256)`);
    return { publicKey, namespace, hashAlgorithm: hashAlgorithm as SshsigHash, signature };
  } catch (err) {
    if (err instanceof SshWireError) throw new SshsigFormatError(`damaged SSHSIG blob (${err.message})`);
    throw err;
  }
}

/** Does the signature verify over this message digest (computed with sig.hashAlgorithm) in `namespace`? */
export function verifyDigest(sig: Sshsig, namespace: string, messageDigest: Buffer): boolean {
  if (sig.namespace !== namespace) return false;
  try {
    return sshVerify(sig.publicKey, signedData(namespace, sig.hashAlgorithm, messageDigest), sig.signature);
  } catch (err) {
    if (err instanceof SshWireError) return false;
    throw err;
  }
}
