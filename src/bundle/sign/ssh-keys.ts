// SSH keys for SSHSIG: parsed with ssh2's public parser (utils.parseKey:
// OpenSSH, PEM and PPK private keys, passphrase-protected ones included, and
// `TYPE BASE64` public keys), then handed to node:crypto. The key types SSHSIG
// signatures are made with here: Ed25519, ECDSA (NIST P-256/384/521) and RSA
// (rsa-sha2-512; SHA-1 `ssh-rsa` signatures are refused, as OpenSSH does).
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import ssh2 from 'ssh2';
import { SshReader, sshMpint, sshString } from './ssh-wire.ts';

const { utils } = ssh2;

interface Algorithm {
  /** node:crypto digest name (null: the key type fixes it, Ed25519) */
  digest: string | null;
  /** ECDSA: bytes per coordinate (r and s are this wide in IEEE P1363 form) */
  width?: number;
}

const ECDSA: Record<string, Algorithm> = {
  'ecdsa-sha2-nistp256': { digest: 'sha256', width: 32 },
  'ecdsa-sha2-nistp384': { digest: 'sha384', width: 48 },
  'ecdsa-sha2-nistp521': { digest: 'sha512', width: 66 },
};
const RSA_SIGNATURES: Record<string, string> = { 'rsa-sha2-512': 'sha512', 'rsa-sha2-256': 'sha256' };

export interface SigningKey {
  /** the key type ('ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa') */
  type: string;
  /** the public key blob (what allowed_signers and the signature carry) */
  publicBlob: Buffer;
  privateKey: KeyObject;
}

export class SshKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshKeyError';
  }
}

export function supportedKeyType(type: string): boolean {
  return type === 'ssh-ed25519' || type === 'ssh-rsa' || type in ECDSA;
}

/** A private key file's text (and its passphrase) as a signing key; throws SshKeyError saying why not. */
export function parsePrivateKey(text: Buffer | string, passphrase?: string): SigningKey {
  const parsed = utils.parseKey(text, passphrase);
  if (parsed instanceof Error) {
    const msg = parsed.message;
    if (/encrypted|passphrase|bad decrypt/i.test(msg)) throw new SshKeyError(passphrase === undefined ? 'the key is encrypted: give its passphrase (--passphrase-env VAR)' : 'wrong passphrase, or the key is damaged');
    throw new SshKeyError(`not a private key ssh2 can read (${msg})`);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) throw new SshKeyError('holds a public key, not a private key');
  if (!supportedKeyType(key.type)) throw new SshKeyError(`key type ${key.type} is not supported for signing (Ed25519, ECDSA or RSA)`);
  return { type: key.type, publicBlob: Buffer.from(key.getPublicSSH()), privateKey: createPrivateKey(key.getPrivatePEM()) };
}

/** The key type named in a public key blob. */
export function blobKeyType(blob: Buffer): string {
  return new SshReader(blob).text('public key type');
}

/** A public key blob as a node:crypto key; throws SshKeyError for a blob it cannot read. */
export function publicKeyOf(blob: Buffer): KeyObject {
  const type = blobKeyType(blob);
  if (!supportedKeyType(type)) throw new SshKeyError(`key type ${type} is not supported (Ed25519, ECDSA or RSA)`);
  const parsed = utils.parseKey(`${type} ${blob.toString('base64')}`);
  if (parsed instanceof Error) throw new SshKeyError(`unreadable ${type} public key (${parsed.message})`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return createPublicKey(key!.getPublicPEM());
}

/** Signs `data`, returning the SSH signature blob (string algorithm, string signature). */
export function sshSign(key: SigningKey, data: Buffer): Buffer {
  if (key.type === 'ssh-ed25519') return Buffer.concat([sshString('ssh-ed25519'), sshString(sign(null, data, key.privateKey))]);
  const ec = ECDSA[key.type];
  if (ec) {
    const rs = sign(ec.digest, data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    const w = ec.width!;
    return Buffer.concat([sshString(key.type), sshString(Buffer.concat([sshMpint(rs.subarray(0, w)), sshMpint(rs.subarray(w))]))]);
  }
  return Buffer.concat([sshString('rsa-sha2-512'), sshString(sign('sha512', data, key.privateKey))]);
}

/** Checks an SSH signature blob over `data` with the public key blob; false when it does not verify. */
export function sshVerify(publicBlob: Buffer, data: Buffer, signatureBlob: Buffer): boolean {
  const type = blobKeyType(publicBlob);
  const key = publicKeyOf(publicBlob);
  const r = new SshReader(signatureBlob);
  const algo = r.text('signature algorithm');
  const sig = r.string('signature');
  r.end('signature blob');
  if (type === 'ssh-ed25519') return algo === type && verify(null, data, key, sig);
  const ec = ECDSA[type];
  if (ec) {
    if (algo !== type) return false;
    const w = ec.width!;
    const rs = new SshReader(sig);
    const p1363 = Buffer.concat([rs.mpint(w, 'ECDSA r'), rs.mpint(w, 'ECDSA s')]);
    rs.end('ECDSA signature');
    return verify(ec.digest, data, { key, dsaEncoding: 'ieee-p1363' }, p1363);
  }
  const digest = RSA_SIGNATURES[algo];
  return digest !== undefined && verify(digest, data, key, sig);
}
