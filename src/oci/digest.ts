// Content digests, parsed in one place: `sha256:<64 lowercase hex>` (the one
// algorithm the registries, the bundle and its cache use) and the bare hex a
// Helm index or a spec's files[].sha256 gives.
import { createHash } from 'node:crypto';
import { OperationError } from '../errors.ts';

export const SHA256_HEX_RE = /^[a-f0-9]{64}$/;
export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX_RE.test(value);
}

/** The hex of a sha256 digest; anything else is refused. */
export function hexOf(digest: string): string {
  if (!isDigest(digest)) throw new OperationError(`unsupported digest ${digest} (expected sha256:<64 hex>)`);
  return digest.slice(7);
}

/** sha256:<hex> of `data`. */
export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
