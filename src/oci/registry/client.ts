// The OCI distribution (Registry HTTP API v2) client: pulls here; pushes in push.ts.
//
// Every registry call goes through ONE function, `RegistryClient.send()`:
// endpoint/scheme + dispatcher (transport.ts), auth (auth.ts: 401 -> challenge
// -> retry once with Basic or a Bearer token for the request's scope), and
// retries with backoff + jitter on 5xx/429 (Retry-After) and dropped
// connections (retry.ts). A push operation calls
//   client.send(registry, { method: 'PUT', path: `/v2/${repo}/manifests/${tag}`, scope: 'pull,push', repository: repo, headers, body })
// and gets undici's ResponseData back (read or dump its body). The retries are
// retry.ts's one policy (retryingRequest). Bodies that are streams are not
// retried (the caller restarts an upload); buffers are.
// `path` may also be an absolute URL (an upload Location); credentials go only
// to the registry's own origin.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import { OperationError } from '../../errors.ts';
import type { RegistrySettings } from './settings.ts';
import { dispatcherTokenFetcher, findCredentials, RegistryAuth, repositoryScope } from './auth.ts';
import { formatReference, type ImageReference } from '../reference.ts';
import { DEFAULT_RETRY, retryingRequest, type RetryPolicy } from './retry.ts';
import { Transport } from './transport.ts';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(', ');
/** Manifests are small; a larger answer is refused rather than buffered. */
const MANIFEST_LIMIT = 4 << 20;

export function isIndex(mediaType: string): boolean {
  return mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList;
}

export interface SendOptions {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** '/v2/…' or an absolute URL */
  path: string;
  /** repository the request acts on (auth scope); none for GET /v2/ (a token without scope, as `docker login` asks) */
  repository?: string;
  /** token scope actions, default 'pull' */
  scope?: string;
  /** more token scopes the request needs, e.g. 'repository:FROM:pull' for a cross-repository mount (push.ts) */
  extraScopes?: string[];
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  signal?: AbortSignal;
}

export interface ClientOptions {
  registries?: RegistrySettings[];
  env?: NodeJS.ProcessEnv;
  connections?: number;
  retry?: RetryPolicy;
  /** called when a request is retried (for logs) */
  onRetry?: (what: string, attempt: number, reason: string) => void;
}

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

type AnyResponse = Dispatcher.ResponseData;

export class RegistryClient {
  readonly transport: Transport;
  readonly #env: NodeJS.ProcessEnv;
  readonly #retry: RetryPolicy;
  readonly #auth = new Map<string, RegistryAuth>();
  /** registry -> whether it honoured an explicit byte range */
  readonly #ranges = new Map<string, boolean>();
  readonly #onRetry: ClientOptions['onRetry'];

  constructor(opts: ClientOptions = {}) {
    this.transport = new Transport({ registries: opts.registries, env: opts.env, connections: opts.connections });
    this.#env = opts.env ?? process.env;
    this.#retry = opts.retry ?? DEFAULT_RETRY;
    this.#onRetry = opts.onRetry;
  }

  #authFor(registry: string, dispatcher: Dispatcher): RegistryAuth {
    let a = this.#auth.get(registry);
    if (!a) {
      a = new RegistryAuth(registry, findCredentials(registry, this.transport.settingsFor(registry), this.#env), dispatcherTokenFetcher(dispatcher));
      this.#auth.set(registry, a);
    }
    return a;
  }

  /** The user name of the credentials found for `registry`, if any (never the secret). */
  userFor(registry: string): string | undefined {
    return findCredentials(registry, this.transport.settingsFor(registry), this.#env)?.username;
  }

  /** Token requests made so far (all registries). */
  tokenFetches(): number {
    let n = 0;
    for (const a of this.#auth.values()) n += a.tokenFetches;
    return n;
  }

  /** One authenticated, retried registry request (see the top of this file). */
  async send(registry: string, opts: SendOptions): Promise<Dispatcher.ResponseData> {
    const ep = await this.transport.endpoint(registry);
    const auth = this.#authFor(registry, ep.dispatcher);
    const scope = [...(opts.repository !== undefined ? [repositoryScope(opts.repository, opts.scope ?? 'pull')] : []), ...(opts.extraScopes ?? [])].join(' ');
    const url = /^https?:\/\//.test(opts.path) ? opts.path : `${ep.baseUrl}${opts.path}`;
    const sameOrigin = new URL(url).origin === new URL(ep.baseUrl).origin;
    const replayable = opts.body === undefined || Buffer.isBuffer(opts.body);
    const what = `${opts.method ?? 'GET'} ${registry}${new URL(url).pathname}`;
    let authTried = false;
    let authorization = sameOrigin ? await auth.header(scope) : undefined;
    const once = () => request(url, { method: opts.method ?? 'GET', dispatcher: ep.dispatcher, headers: { 'user-agent': 'astrago-check', ...opts.headers, ...(authorization ? { authorization } : {}) }, body: opts.body, signal: opts.signal });
    try {
      return await retryingRequest(
        async () => {
          const res = await once();
          // An auth round trip (401 -> challenge -> token) is part of the try, not a failure.
          if (res.statusCode !== 401 || !sameOrigin || authTried || !replayable) return res;
          await res.body.dump();
          authTried = true;
          authorization = await auth.challenged(header(res.headers, 'www-authenticate'), scope, authorization);
          return await once();
        },
        { policy: this.#retry, replayable, onRetry: (attempt, reason) => this.#onRetry?.(what, attempt, reason), ...(opts.signal ? { signal: opts.signal } : {}) },
      );
    } catch (err) {
      if (err instanceof OperationError) throw err;
      throw new OperationError(`${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Fails with the registry's own error text, e.g. MANIFEST_UNKNOWN. */
  async #fail(what: string, res: AnyResponse): Promise<never> {
    let detail = '';
    try {
      const text = (await res.body.text()).slice(0, 2000);
      const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      detail = (j.errors ?? []).map((e) => `${e.code ?? ''}${e.message ? ` ${e.message}` : ''}`.trim()).join('; ');
    } catch {
      /* not JSON */
    }
    const hint = res.statusCode === 401 || res.statusCode === 403 ? ' (check credentials: spec registries[] or ~/.docker/config.json)' : '';
    throw new OperationError(`${what}: HTTP ${res.statusCode}${detail ? ` ${detail}` : ''}${hint}`);
  }

  /** GET a manifest (or index) by tag or digest; verifies a requested digest. */
  async getManifest(ref: ImageReference, reference: string = ref.digest ?? ref.tag ?? 'latest'): Promise<FetchedManifest> {
    const what = `${formatReference({ ...ref, tag: reference.startsWith('sha256:') ? undefined : reference, digest: reference.startsWith('sha256:') ? reference : undefined })}`;
    const res = await this.send(ref.registry, { path: `/v2/${ref.repository}/manifests/${reference}`, repository: ref.repository, headers: { accept: MANIFEST_ACCEPT } });
    if (res.statusCode !== 200) await this.#fail(`manifest ${what}`, res);
    const len = Number(header(res.headers, 'content-length') ?? 0);
    if (len > MANIFEST_LIMIT) {
      await res.body.dump();
      throw new OperationError(`manifest ${what}: ${len} bytes, larger than a manifest can be`);
    }
    const bytes = Buffer.from(await res.body.arrayBuffer());
    if (bytes.length > MANIFEST_LIMIT) throw new OperationError(`manifest ${what}: larger than a manifest can be`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new OperationError(`manifest ${what}: content has digest ${digest}, not the requested ${reference}`);
    }
    let mediaType = (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim();
    try {
      const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
      // The document's own mediaType is authoritative; registries sometimes label loosely.
      if (parsed.mediaType) mediaType = parsed.mediaType;
      else if (!Object.values(MEDIA).includes(mediaType as never)) mediaType = parsed.manifests ? MEDIA.ociIndex : MEDIA.ociManifest;
    } catch {
      throw new OperationError(`manifest ${what}: not JSON`);
    }
    return { mediaType, digest, bytes };
  }

  /** HEAD a blob: its size, or undefined when the registry does not have it. */
  async headBlob(registry: string, repository: string, digest: string): Promise<number | undefined> {
    const res = await this.send(registry, { method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, repository });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw new OperationError(`HEAD blob ${digest} in ${registry}/${repository}: HTTP ${res.statusCode}`);
    return Number(header(res.headers, 'content-length') ?? NaN);
  }

  /**
   * GET a blob as a stream, from byte `offset` on (HTTP Range), up to byte
   * `end` - 1 when `end` is given. `partial` says whether the registry
   * honoured the range (206); when it answered 200 the stream starts at byte 0
   * and the caller must start over. What a registry did with an explicit
   * range is remembered (honoursRanges).
   */
  async getBlob(registry: string, repository: string, digest: string, offset = 0, signal?: AbortSignal, end?: number): Promise<{ body: Readable; partial: boolean; length: number | undefined }> {
    const bounded = end !== undefined && end > offset;
    const headers: Record<string, string> = bounded ? { range: `bytes=${offset}-${end - 1}` } : offset > 0 ? { range: `bytes=${offset}-` } : {};
    const res = await this.send(registry, { path: `/v2/${repository}/blobs/${digest}`, repository, headers, ...(signal ? { signal } : {}) });
    if (res.statusCode === 416 && offset > 0) {
      // Our partial is already as long as (or longer than) the blob: start over.
      // The short error body is dropped with its connection (reading it through was not reliable).
      res.body.destroy();
      return this.getBlob(registry, repository, digest, 0, signal);
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) await this.#fail(`blob ${digest} of ${registry}/${repository}`, res);
    if (bounded) this.#ranges.set(registry, res.statusCode === 206);
    // A range answer must start where it was asked to: anything else would put bytes in the wrong place.
    const got = /^bytes (\d+)-/.exec(header(res.headers, 'content-range') ?? '');
    if (res.statusCode === 206 && got && Number(got[1]) !== offset) {
      res.body.destroy();
      throw new OperationError(`blob ${digest} of ${registry}/${repository}: asked for bytes from ${offset}, the registry answered ${header(res.headers, 'content-range')}`);
    }
    const len = header(res.headers, 'content-length');
    return { body: res.body, partial: res.statusCode === 206, length: len === undefined ? undefined : Number(len) };
  }

  /** Whether `registry` answered a byte range with just those bytes (undefined: not asked yet). */
  honoursRanges(registry: string): boolean | undefined {
    return this.#ranges.get(registry);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
