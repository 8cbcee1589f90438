// Registry credentials, found in one place, and the auth handshake:
// anonymous, Basic, and the Bearer token flow (WWW-Authenticate challenge ->
// token service with scope -> token, cached per scope until it expires).
// Where credentials come from, first match wins:
//   1. the spec's registries[] entry (username + passwordEnv or passwordFile)
//   2. $DOCKER_CONFIG/config.json or ~/.docker/config.json `auths` (what
//      `docker login`, skopeo and crane write): base64 `auth` or username/password.
// Credential helpers (credsStore) are not run: a packaging job has no desktop keychain.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { request, type Dispatcher } from 'undici';
import { InputError, OperationError } from '../../errors.ts';
import type { RegistrySettings } from './settings.ts';
import { DOCKER_HUB } from '../reference.ts';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header: `Bearer realm="…",service="…",scope="a b"` or `Basic realm=…`. */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/gy;
  re.lastIndex = 0;
  const rest = m[2]!;
  let p: RegExpExecArray | null;
  while ((p = re.exec(rest)) !== null) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
    if (re.lastIndex >= rest.length) break;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** A repository scope for the token service: repository:NAME:pull[,push]. */
export function repositoryScope(repository: string, actions: string): string {
  return `repository:${repository}:${actions}`;
}

function configKeyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

/** Looks `registry` up in a docker config.json text. */
export function dockerConfigCredentials(text: string, registry: string, file = 'config.json'): Credentials | undefined {
  let cfg: { auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }> };
  try {
    cfg = JSON.parse(text);
  } catch {
    throw new InputError({ file, expected: 'invalid JSON in the docker config' });
  }
  const wanted = registry === DOCKER_HUB ? ['index.docker.io', 'docker.io', 'registry-1.docker.io'] : [registry];
  for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
    if (!wanted.includes(configKeyHost(key)) || !entry) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
    }
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  }
  return undefined;
}

export function findCredentials(registry: string, settings: RegistrySettings | undefined, env: NodeJS.ProcessEnv): Credentials | undefined {
  if (settings?.username) {
    let password: string | undefined;
    if (settings.passwordEnv) {
      password = env[settings.passwordEnv];
      if (password === undefined) throw new InputError({ file: 'bundle spec', field: `registries[${settings.host}].passwordEnv`, expected: `environment variable ${settings.passwordEnv} is not set` });
    } else if (settings.passwordFile) {
      try {
        password = readFileSync(settings.passwordFile, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new InputError({ file: settings.passwordFile, expected: `cannot read password file (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
      }
    }
    if (password !== undefined) return { username: settings.username, password };
  }
  const dir = env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker');
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return dockerConfigCredentials(text, registry, file);
}

function basic(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}

/** GETs a token URL with these headers; the preflight checks pass one that goes over the node's own route. */
export type TokenFetcher = (url: URL, headers: Record<string, string>) => Promise<{ status: number; body: string }>;

/** A token fetcher through an undici dispatcher (the registry client's transport). */
export function dispatcherTokenFetcher(dispatcher: Dispatcher): TokenFetcher {
  return async (url, headers) => {
    const res = await request(url, { dispatcher, headers });
    return { status: res.statusCode, body: await res.body.text() };
  };
}

/** The token service refused (`status`), or answered 200 with no usable token (`problem`). */
export class TokenError extends OperationError {
  readonly status: number;
  readonly problem: string | undefined;
  constructor(message: string, status: number, problem?: string) {
    super(message);
    this.name = 'TokenError';
    this.status = status;
    this.problem = problem;
  }
}

interface CachedToken {
  header: string;
  expires: number;
}

/**
 * Authorization for one registry. `header(scope)` gives what to send now (if
 * anything is known); `challenged(www, scope)` answers a 401 and returns the
 * header to retry with.
 */
export class RegistryAuth {
  readonly #registry: string;
  readonly #creds: Credentials | undefined;
  readonly #fetcher: TokenFetcher;
  #challenge: Challenge | undefined;
  readonly #tokens = new Map<string, Promise<CachedToken>>();

  constructor(registry: string, creds: Credentials | undefined, fetchToken: TokenFetcher) {
    this.#registry = registry;
    this.#creds = creds;
    this.#fetcher = fetchToken;
  }

  /** Number of token requests made (for tests and logs). */
  tokenFetches = 0;

  async header(scope: string): Promise<string | undefined> {
    const ch = this.#challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return this.#creds ? basic(this.#creds) : undefined;
    if (ch.scheme === 'bearer') return (await this.#token(scope)).header;
    return undefined;
  }

  /** `sent` is the Authorization header the refused request carried, if any. */
  async challenged(wwwAuthenticate: string | undefined, scope: string, sent?: string): Promise<string | undefined> {
    const ch = wwwAuthenticate ? parseChallenge(wwwAuthenticate) : undefined;
    if (!ch) throw new OperationError(`registry ${this.#registry} answered 401 without a usable WWW-Authenticate challenge`);
    this.#challenge = ch;
    if (ch.scheme === 'basic') {
      if (!this.#creds) throw new OperationError(`registry ${this.#registry} needs a login (Basic auth) and no credentials were found (spec registries[] or ~/.docker/config.json)`);
      if (sent?.startsWith('Basic ')) throw new OperationError(`registry ${this.#registry} refused the credentials for ${this.#creds.username}`);
      return basic(this.#creds);
    }
    if (ch.scheme === 'bearer') {
      // A 401 although we sent a token: it expired or lacks the scope, fetch anew.
      if (sent) this.#tokens.delete(scope);
      return (await this.#token(scope, ch.params.scope)).header;
    }
    throw new OperationError(`registry ${this.#registry} asks for unsupported auth scheme '${ch.scheme}'`);
  }

  #token(scope: string, extraScope?: string): Promise<CachedToken> {
    const cached = this.#tokens.get(scope);
    if (cached) {
      return cached.then((t) => {
        if (t.expires > Date.now()) return t;
        this.#tokens.delete(scope);
        return this.#token(scope);
      });
    }
    const p = this.#fetchToken(scope, extraScope);
    this.#tokens.set(scope, p);
    p.catch(() => this.#tokens.delete(scope));
    return p;
  }

  async #fetchToken(scope: string, extraScope?: string): Promise<CachedToken> {
    const ch = this.#challenge!;
    const realm = ch.params.realm;
    if (!realm) throw new OperationError(`registry ${this.#registry}: bearer challenge without realm`);
    const url = new URL(realm);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    // `scope` may hold several space-separated scopes (a mount also reads its source): one parameter each.
    const scopes = new Set([...scope.split(' '), ...(extraScope ? extraScope.split(' ') : [])].filter(Boolean));
    for (const s of scopes) url.searchParams.append('scope', s);
    // `account` as docker login sends it (token services may use it to pick the user)
    if (this.#creds) url.searchParams.set('account', this.#creds.username);
    this.tokenFetches++;
    const res = await this.#fetcher(url, { accept: 'application/json', ...(this.#creds ? { authorization: basic(this.#creds) } : {}) });
    if (res.status !== 200) {
      // The realm's answer may echo the request; never the credentials, which were only in a header.
      throw new TokenError(`registry ${this.#registry}: token service ${url.origin}${url.pathname} answered HTTP ${res.status}${this.#creds ? ` for user ${this.#creds.username}` : ' (anonymous)'}`, res.status);
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(res.body);
    } catch {
      throw new TokenError(`registry ${this.#registry}: token service answered something that is not JSON`, 200, 'the token endpoint did not answer JSON');
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new TokenError(`registry ${this.#registry}: token service answered without a token`, 200, 'the token endpoint answered without a token');
    // Refresh a little early; 60 s is the spec's default lifetime.
    const lifetime = Math.max(30, body.expires_in ?? 60);
    return { header: `Bearer ${token}`, expires: Date.now() + (lifetime - 10) * 1000 };
  }
}
