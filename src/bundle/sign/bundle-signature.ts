// Signing a bundle with an SSH key, and judging a bundle's signature against
// an allowed_signers file: FILE.tar.sig is an SSHSIG signature (namespace
// astrago-bundle) of the whole tar, so `ssh-keygen -Y verify` checks it too.
// A split bundle is signed as the tar its parts make up.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { errorMessage, InputError, OperationError, UsageError } from '../../errors.ts';
import { expandHome, fingerprint } from '../../preflight/hosts/known-hosts.ts';
import { judgeSigner, parseAllowedSigners, type AllowedSigner } from './allowed-signers.ts';
import { parseRevokedKeys, type RevokedKeys } from './revoked-keys.ts';
import { parsePrivateKey, SshKeyError, type SigningKey } from './ssh-keys.ts';
import { BUNDLE_NAMESPACE, parseSshsig, signDigest, SshsigFormatError, verifyDigest, type Sshsig } from './sshsig.ts';
import { signatureFileFor } from './signature-file.ts';

export { signatureFileFor };

async function readInput(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(expandHome(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError({ file, expected: code === 'ENOENT' ? `${what} not found` : `cannot read the ${what} (${code ?? errorMessage(err)})` });
  }
}

/** Reads a private key; its passphrase comes from the environment variable named, never from the command line. */
export async function loadSigningKey(keyFile: string, passphraseEnv: string | undefined, env: NodeJS.ProcessEnv): Promise<SigningKey> {
  let passphrase: string | undefined;
  if (passphraseEnv !== undefined) {
    passphrase = env[passphraseEnv];
    if (passphrase === undefined) throw new UsageError(`bundle sign: --passphrase-env names ${passphraseEnv}, which is not set`);
  }
  const text = await readInput(keyFile, 'private key');
  try {
    return parsePrivateKey(text, passphrase);
  } catch (err) {
    if (err instanceof SshKeyError) throw new InputError({ file: keyFile, expected: `an Ed25519, ECDSA or RSA private key: ${err.message}` });
    throw err;
  }
}

/** sha512 of the files read in order (the parts of a split bundle make one message). */
async function sha512Of(files: string[]): Promise<Buffer> {
  const h = createHash('sha512');
  for (const f of files) for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest();
}

/** Writes NAME.tar.sig (temp name, then rename) over the tar `files` make up. */
export async function signBundle(tarName: string, files: string[], key: SigningKey): Promise<{ sigFile: string; fingerprint: string; type: string }> {
  const digest = await sha512Of(files);
  const sigFile = signatureFileFor(tarName);
  const tmp = `${sigFile}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, signDigest(key, BUNDLE_NAMESPACE, 'sha512', digest), { flag: 'wx', mode: 0o644 });
    await rename(tmp, sigFile);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new OperationError(`${sigFile}: cannot write (${errorMessage(err)})`);
  }
  return { sigFile, fingerprint: fingerprint(key.publicBlob), type: key.type };
}

export interface SignerPolicy {
  file: string;
  signers: AllowedSigner[];
  identity?: string;
  revoked?: RevokedKeys;
}

/** Reads --allowed-signers (and --revoked-keys); a bad line is an InputError naming it. */
export async function loadSignerPolicy(allowedSigners: string, opts: { identity?: string; revokedKeys?: string } = {}): Promise<SignerPolicy> {
  const signers = parseAllowedSigners((await readInput(allowedSigners, 'allowed signers file')).toString('utf8'), allowedSigners);
  if (signers.length === 0) throw new InputError({ file: allowedSigners, expected: 'at least one signer line (PRINCIPALS [OPTIONS] KEYTYPE BASE64KEY)' });
  const revoked = opts.revokedKeys ? parseRevokedKeys(await readInput(opts.revokedKeys, 'revoked keys file'), opts.revokedKeys) : undefined;
  return { file: allowedSigners, signers, ...(opts.identity !== undefined ? { identity: opts.identity } : {}), ...(revoked ? { revoked } : {}) };
}

export type SignatureRead = { sig: Sshsig } | { problem: string };

/** Reads NAME.tar.sig; a missing or unreadable signature is a problem (fail closed). */
export async function readSignature(sigFile: string): Promise<SignatureRead> {
  let text: string;
  try {
    text = await readFile(sigFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? 'unsigned: no signature file (a signature is required by --allowed-signers)' : `cannot read the signature (${code ?? errorMessage(err)})` };
  }
  try {
    return { sig: parseSshsig(text) };
  } catch (err) {
    if (err instanceof SshsigFormatError) return { problem: err.message };
    throw err;
  }
}

export interface SignatureVerdict {
  ok: boolean;
  message: string;
  fingerprint?: string;
  principals?: string[];
}

/** Judges a read signature over the message digest (hex, computed with sig.hashAlgorithm). */
export function judgeSignature(sig: Sshsig, digestHex: string, policy: SignerPolicy): SignatureVerdict {
  if (sig.namespace !== BUNDLE_NAMESPACE) return { ok: false, message: `signature for namespace '${sig.namespace}', not ${BUNDLE_NAMESPACE}` };
  let who;
  try {
    who = judgeSigner(policy.signers, sig.publicKey, BUNDLE_NAMESPACE, { file: policy.file, ...(policy.identity !== undefined ? { identity: policy.identity } : {}), ...(policy.revoked ? { revoked: (k: Buffer) => policy.revoked!.has(k) } : {}) });
  } catch (err) {
    return { ok: false, message: `the signature's public key is unreadable (${errorMessage(err)})` };
  }
  if (!who.ok) return { ok: false, message: who.reason, fingerprint: who.fingerprint };
  let good: boolean;
  try {
    good = verifyDigest(sig, BUNDLE_NAMESPACE, Buffer.from(digestHex, 'hex'));
  } catch (err) {
    return { ok: false, message: `cannot check the signature (${errorMessage(err)})`, fingerprint: who.fingerprint };
  }
  if (!good) return { ok: false, message: `BAD signature by ${who.fingerprint}: the tar is not what was signed (changed, or a signature of another file)`, fingerprint: who.fingerprint };
  return { ok: true, message: `good signature by ${who.principals.join(',')} (${who.fingerprint}, ${policy.file} line ${who.line})`, fingerprint: who.fingerprint, principals: who.principals };
}
