// The registry connection bundle install pushes through: TLS (private CA,
// explicit --insecure), plain HTTP only for --insecure or a loopback host,
// credentials from the docker config, Basic or Bearer-token auth per
// repository scope. Also the one place install splits an image reference.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { InputError, OperationError, errorMessage } from '../errors.ts';
import type { RegistryTarget } from './install-plan.ts';
import type { PushRequest, PushResponse, PushSession } from './registry/push.ts';
import { DEFAULT_RETRY, isTransientError, isTransientStatus, retryDelay } from './registry/retry.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SessionOptions {
  target: RegistryTarget;
  caFile?: string;
  insecure?: boolean;
  env: NodeJS.ProcessEnv;
}

export interface SplitReference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** docker.io/library/nginx:1.25 -> {registry: docker.io, repository: library/nginx, tag: 1.25}; Docker's defaulting rules. */
export function splitReference(ref: string): SplitReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  let registry = 'docker.io';
  let repository = rest;
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    repository = rest.slice(slash + 1);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  if (!tag && !digest) tag = 'latest';
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/** user:password for a registry host from the docker config (auths.HOST.auth), if any. */
async function dockerCredentials(host: string, env: NodeJS.ProcessEnv): Promise<{ username: string; password: string } | undefined> {
  const file = join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let cfg: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    cfg = JSON.parse(text);
  } catch (err) {
    throw new InputError({ file, expected: `valid JSON (${errorMessage(err)})` });
  }
  for (const [k, v] of Object.entries(cfg.auths ?? {})) {
    if (k.replace(/^https?:\/\//, '').replace(/\/.*$/, '') !== host) continue;
    if (v.auth) {
      const dec = Buffer.from(v.auth, 'base64').toString('utf8');
      const i = dec.indexOf(':');
      if (i > 0) return { username: dec.slice(0, i), password: dec.slice(i + 1) };
    }
    if (v.username && v.password) return { username: v.username, password: v.password };
  }
  return undefined;
}

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function parseChallenge(h: string | undefined): { scheme: string; params: Record<string, string> } | undefined {
  if (!h) return undefined;
  const m = /^(\w+)\s*(.*)$/.exec(h.trim());
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!] = p[2]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

export async function openPushSession(opts: SessionOptions): Promise<PushSession> {
  const host = opts.target.host;
  let ca: string | undefined;
  if (opts.caFile) {
    try {
      ca = await readFile(opts.caFile, 'utf8');
    } catch (err) {
      throw new InputError({ file: opts.caFile, expected: `a readable CA file (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})` });
    }
  }
  const agent = new Agent({ connect: { ca, rejectUnauthorized: !opts.insecure }, connections: 32, pipelining: 1 });
  const creds = await dockerCredentials(host, opts.env);
  const tokens = new Map<string, string>();
  let challenge: ReturnType<typeof parseChallenge>;

  // HTTPS first; plain HTTP only when allowed (--insecure or loopback), as Docker does.
  const plainAllowed = opts.insecure || isLoopback(host);
  let baseUrl = `https://${host}`;
  const ping = async (url: string) => {
    // A busy registry (5xx/429) would hide its auth challenge: ask again.
    for (let attempt = 1; ; attempt++) {
      const res = await request(`${url}/v2/`, { method: 'GET', dispatcher: agent, headersTimeout: 30_000 });
      await res.body.dump();
      if (!isTransientStatus(res.statusCode) || attempt >= DEFAULT_RETRY.attempts) return res;
      await sleep(retryDelay(attempt, flatHeaders(res.headers)['retry-after']));
    }
  };
  try {
    const res = await ping(baseUrl);
    challenge = parseChallenge(flatHeaders(res.headers)['www-authenticate']);
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    const tlsish = /EPROTO|ERR_SSL|wrong version/i.test(`${code} ${errorMessage(err)}`);
    if (!plainAllowed || !tlsish) {
      throw new OperationError(`cannot reach registry ${host} over HTTPS: ${errorMessage(err)}${tlsish ? ' (plain HTTP is used only with --insecure or for a loopback address)' : ''}${/certificate|self.signed|UNABLE_TO_VERIFY/i.test(errorMessage(err)) ? ' (give its CA with --ca-file, or --insecure)' : ''}`);
    }
    baseUrl = `http://${host}`;
    try {
      const res = await ping(baseUrl);
      challenge = parseChallenge(flatHeaders(res.headers)['www-authenticate']);
    } catch (err2) {
      throw new OperationError(`cannot reach registry ${host}: ${errorMessage(err2)}`);
    }
  }

  const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;

  const token = async (scopes: string[]): Promise<string | undefined> => {
    if (challenge?.scheme !== 'bearer') return undefined;
    const key = scopes.join(' ');
    const have = tokens.get(key);
    if (have) return have;
    const u = new URL(challenge.params.realm!);
    if (challenge.params.service) u.searchParams.set('service', challenge.params.service);
    for (const s of scopes) u.searchParams.append('scope', s);
    const res = await request(u, { method: 'GET', dispatcher: agent, headers: basic ? { authorization: basic } : {} });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new OperationError(`registry ${host}: the token service refused ${creds ? `user ${creds.username}` : 'anonymous access'} (HTTP ${res.statusCode})`);
    const t = (JSON.parse(text) as { token?: string; access_token?: string });
    const value = t.token ?? t.access_token;
    if (!value) throw new OperationError(`registry ${host}: the token service answered without a token`);
    tokens.set(key, value);
    return value;
  };

  const authHeader = async (req: PushRequest): Promise<string | undefined> => {
    if (challenge?.scheme === 'basic') return basic;
    const scopes = [`repository:${req.repository}:pull,push`, ...(req.alsoPull ? [`repository:${req.alsoPull}:pull`] : [])];
    const t = await token(scopes);
    return t ? `Bearer ${t}` : undefined;
  };

  return {
    baseUrl,
    async request(req: PushRequest): Promise<PushResponse> {
      const url = /^https?:\/\//.test(req.path) ? req.path : `${baseUrl}${req.path}`;
      // Only send credentials to the registry itself (an upload Location could point elsewhere).
      const sameOrigin = new URL(url).host === new URL(baseUrl).host;
      const auth = sameOrigin ? await authHeader(req) : undefined;
      // Requests without a body that change nothing (HEAD, GET, opening an upload or a
      // mount) are retried here on transient faults; uploads and manifest PUTs are
      // retried by the caller, which restarts the upload.
      const retryable = req.method === 'HEAD' || req.method === 'GET' || (req.method === 'POST' && req.body === undefined);
      let res: Dispatcher.ResponseData;
      for (let attempt = 1; ; attempt++) {
        const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : req.body();
        try {
          res = await request(url, {
            method: req.method,
            dispatcher: agent,
            headers: { ...req.headers, ...(auth ? { authorization: auth } : {}) },
            body,
            headersTimeout: 300_000,
            bodyTimeout: 300_000,
          });
        } catch (err) {
          if (retryable && attempt < DEFAULT_RETRY.attempts && isTransientError(err)) {
            await sleep(retryDelay(attempt, undefined));
            continue;
          }
          throw new OperationError(`${req.method} ${new URL(url).pathname}: ${errorMessage(err)}`);
        }
        if (retryable && attempt < DEFAULT_RETRY.attempts && isTransientStatus(res.statusCode)) {
          await res.body.dump();
          await sleep(retryDelay(attempt, flatHeaders(res.headers)['retry-after']));
          continue;
        }
        break;
      }
      if (res.statusCode === 401) {
        await res.body.dump();
        throw new OperationError(`registry ${host} refused ${creds ? `user ${creds.username}` : 'anonymous access'} for ${req.repository} (HTTP 401)${creds ? '' : '; log in first (docker login / skopeo login write ~/.docker/config.json)'}`);
      }
      return {
        status: res.statusCode,
        headers: flatHeaders(res.headers),
        text: () => res.body.text(),
      };
    },
  };
}
