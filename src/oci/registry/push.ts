// Pushing to a registry (OCI distribution spec): blob HEAD, cross-repository
// mount, upload (POST, then PUT; large blobs in PATCH chunks streamed from
// the file), manifest HEAD and PUT. Transport, TLS and auth belong to the
// session; this module knows only the protocol.
import type { Readable } from 'node:stream';
import { OperationError } from '../../errors.ts';
import { MANIFEST_ACCEPT } from './client.ts';

export interface PushRequest {
  method: 'HEAD' | 'GET' | 'POST' | 'PUT' | 'PATCH';
  /** the repository the request acts on (auth scope: pull,push) */
  repository: string;
  /** '/v2/…' or an absolute URL (an upload Location) */
  path: string;
  headers?: Record<string, string>;
  /** a buffer, or a factory for a fresh stream (called again on a retry) */
  body?: Buffer | (() => Readable);
  /** another repository read by this request (a mount's `from`: pull scope) */
  alsoPull?: string;
}

export interface PushResponse {
  status: number;
  headers: Record<string, string | undefined>;
  /** the response body as text (read once) */
  text(): Promise<string>;
}

/** What push needs from the registry client: one authenticated request. */
export interface PushSession {
  /** base URL of the registry, e.g. https://harbor.site.local:443 */
  baseUrl: string;
  request(req: PushRequest): Promise<PushResponse>;
}

/** Blobs above this are sent in PATCH chunks of this size (proxies with body limits, progress). */
export const CHUNK_BYTES = 64 << 20;

async function fail(what: string, res: PushResponse): Promise<never> {
  let detail = '';
  try {
    const text = (await res.text()).trim();
    try {
      // The distribution spec's error body: {"errors":[{"code":"DIGEST_INVALID","message":"…"}]}
      const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      detail = (j.errors ?? []).map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ');
    } catch {
      detail = text.slice(0, 400);
    }
  } catch {
    /* no body */
  }
  const hint = res.status === 404 && /NAME_UNKNOWN|project/i.test(detail) ? ' (on Harbor, the first component of the prefix must be an existing project)' : '';
  // (the status rides along: retry.ts's transientFailure retries 5xx/429 answers)
  throw Object.assign(new OperationError(`${what}: the registry answered HTTP ${res.status}${detail ? `: ${detail}` : ''}${hint}`), { status: res.status });
}

async function drain(res: PushResponse): Promise<void> {
  try {
    await res.text();
  } catch {
    /* nothing to read */
  }
}

export async function blobExists(s: PushSession, repository: string, digest: string): Promise<boolean> {
  const res = await s.request({ method: 'HEAD', repository, path: `/v2/${repository}/blobs/${digest}` });
  await drain(res);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  return await fail(`HEAD blob ${digest} in ${repository}`, res);
}

/**
 * Cross-repository mount: 201 when the registry linked the blob; otherwise
 * (202) the upload session it opened instead, to upload into.
 */
export async function mountBlob(s: PushSession, repository: string, digest: string, from: string): Promise<{ mounted: true } | { mounted: false; location: string }> {
  const q = new URLSearchParams({ mount: digest, from });
  const res = await s.request({ method: 'POST', repository, alsoPull: from, path: `/v2/${repository}/blobs/uploads/?${q}`, headers: { 'content-length': '0' } });
  if (res.status === 201) return (await drain(res), { mounted: true });
  if (res.status === 202 && res.headers.location) return (await drain(res), { mounted: false, location: res.headers.location });
  return await fail(`mount blob ${digest} from ${from} into ${repository}`, res);
}

export async function startUpload(s: PushSession, repository: string): Promise<string> {
  const res = await s.request({ method: 'POST', repository, path: `/v2/${repository}/blobs/uploads/`, headers: { 'content-length': '0' } });
  if (res.status === 202 && res.headers.location) return (await drain(res), res.headers.location);
  return await fail(`start upload in ${repository}`, res);
}

/** An upload Location may be absolute or relative to the registry. */
export function uploadUrl(baseUrl: string, location: string, digest?: string): string {
  const u = new URL(location, baseUrl);
  if (digest) u.searchParams.set('digest', digest);
  return u.toString();
}

export interface BlobSource {
  size: number;
  /** a fresh stream of bytes [start, end) of the blob */
  open(start: number, end: number): Readable;
}

/**
 * Uploads one blob: a single PUT with the whole body for small blobs, PATCH
 * chunks then an empty PUT for large ones. The registry checks the digest.
 */
export async function uploadBlob(s: PushSession, repository: string, digest: string, src: BlobSource, location?: string, chunkBytes = CHUNK_BYTES): Promise<void> {
  let loc = location ?? (await startUpload(s, repository));
  if (src.size > chunkBytes) {
    for (let start = 0; start < src.size; start += chunkBytes) {
      const end = Math.min(src.size, start + chunkBytes);
      const res = await s.request({
        method: 'PATCH',
        repository,
        path: uploadUrl(s.baseUrl, loc),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start), 'content-range': `${start}-${end - 1}` },
        body: () => src.open(start, end),
      });
      if (res.status !== 202 || !res.headers.location) await fail(`upload blob ${digest} to ${repository} (bytes ${start}-${end - 1})`, res);
      await drain(res);
      loc = res.headers.location!;
    }
    const res = await s.request({ method: 'PUT', repository, path: uploadUrl(s.baseUrl, loc, digest), headers: { 'content-length': '0' } });
    if (res.status !== 201) await fail(`finish upload of blob ${digest} to ${repository}`, res);
    await drain(res);
    return;
  }
  const res = await s.request({
    method: 'PUT',
    repository,
    path: uploadUrl(s.baseUrl, loc, digest),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(src.size) },
    body: () => src.open(0, src.size),
  });
  if (res.status !== 201) await fail(`upload blob ${digest} to ${repository}`, res);
  await drain(res);
}

/** The digest the registry serves for repository:reference, or undefined when it has none. */
export async function manifestDigest(s: PushSession, repository: string, reference: string): Promise<string | undefined> {
  const res = await s.request({ method: 'HEAD', repository, path: `/v2/${repository}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT } });
  await drain(res);
  if (res.status === 404) return undefined;
  if (res.status === 200) return res.headers['docker-content-digest'] ?? (reference.startsWith('sha256:') ? reference : undefined);
  return await fail(`HEAD manifest ${repository}:${reference}`, res);
}

/**
 * PUTs manifest bytes exactly as stored (so the digest cannot change) under
 * `reference` (a tag or the digest itself); checks the digest the registry computed.
 */
export async function putManifest(s: PushSession, repository: string, reference: string, mediaType: string, bytes: Buffer, digest: string): Promise<void> {
  const res = await s.request({ method: 'PUT', repository, path: `/v2/${repository}/manifests/${reference}`, headers: { 'content-type': mediaType, 'content-length': String(bytes.length) }, body: bytes });
  if (res.status !== 201) await fail(`push manifest ${repository}:${reference}`, res);
  await drain(res);
  const got = res.headers['docker-content-digest'];
  if (got && got !== digest) throw new OperationError(`push manifest ${repository}:${reference}: the registry computed ${got}, expected ${digest}`);
}
