// Keeps secrets out of reports, logs and error messages. A site file only names
// where secrets live (env vars, files, proxy URLs); collectSecrets reads those
// values so every output can be scrubbed of them before it is written.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { Site } from '../schema/site.ts';

export const MASK = '***';

/**
 * Secrets shorter than this are not replaced: masking every "abc" or "1"
 * would mangle ordinary words, numbers and paths in a report, and a secret
 * that short offers no protection worth keeping anyway.
 */
export const MIN_SECRET_LENGTH = 4;

const PROXY_ENV = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'];
/** Variables whose names say they hold a secret, e.g. ASTRAGO_REGISTRY_PASSWORD. */
const SECRET_ENV_NAME = /^ASTRAGO_.*(PASSWORD|PASSPHRASE|TOKEN|SECRET)/i;

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

function readSecretFile(path: string, siteDir: string): string | undefined {
  const p = expandHome(path);
  try {
    return readFileSync(isAbsolute(p) ? p : resolve(siteDir, p), 'utf8');
  } catch {
    return undefined; // the check that uses it reports the problem
  }
}

/** user and password of a URL's userinfo, decoded and raw, or undefined. */
function urlCredentials(url: string | undefined): { user: string; password: string; rawPassword: string } | undefined {
  if (!url) return undefined;
  const info = splitUserinfo(url);
  if (!info || info.password === undefined) return undefined;
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return { user: decode(info.user), password: decode(info.password), rawPassword: info.password };
}

/** Every secret value the site refers to, plus proxy credentials from the environment. */
export function collectSecrets(site: Site | undefined, env: NodeJS.ProcessEnv, siteDir: string): string[] {
  const out = new Set<string>();
  const add = (value: string | undefined, user?: string) => {
    if (value === undefined) return;
    for (const v of [value, value.trim()]) {
      if (v.length < MIN_SECRET_LENGTH) continue;
      out.add(v);
      // The forms a secret takes on its way into URLs and Basic auth headers.
      out.add(encodeURIComponent(v));
      if (user !== undefined) out.add(Buffer.from(`${user}:${v}`).toString('base64'));
    }
  };
  const fromEnv = (name: string | undefined, user?: string) => name && add(env[name], user);
  const fromFile = (path: string | undefined, user?: string) => path && add(readSecretFile(path, siteDir), user);
  const fromUrl = (url: string | undefined) => {
    const c = urlCredentials(url);
    if (c) {
      add(c.password, c.user);
      add(c.rawPassword);
    }
  };

  if (site) {
    const reg = site.registry;
    fromEnv(reg?.passwordEnv, reg?.username);
    fromFile(reg?.passwordFile, reg?.username);
    const proxy = site.network?.proxy;
    fromUrl(proxy?.http);
    fromUrl(proxy?.https);
    const proxyUser = urlCredentials(proxy?.http)?.user ?? urlCredentials(proxy?.https)?.user;
    fromEnv(proxy?.passwordEnv, proxyUser);
    for (const node of site.nodes ?? []) {
      fromEnv(node.ssh?.passwordEnv, node.ssh?.user);
      fromEnv(node.ssh?.passphraseEnv);
      fromFile(node.ssh?.passwordFile, node.ssh?.user);
    }
  }
  for (const name of PROXY_ENV) fromUrl(env[name]);
  for (const c of dockerConfigSecrets(env)) add(c);
  for (const [name, value] of Object.entries(env)) if (SECRET_ENV_NAME.test(name)) add(value);
  // Longest first, so a secret containing another is masked whole.
  return [...out].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
}

/**
 * Credentials `docker login` left in the docker config (honoured for registries):
 * the base64 `auth` values, the passwords inside them, and identity/registry tokens.
 */
function dockerConfigSecrets(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? homedir();
  const file = env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(home, '.docker', 'config.json');
  let config: { auths?: Record<string, Record<string, unknown>> };
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of Object.values(config.auths ?? {})) {
    if (!entry || typeof entry !== 'object') continue;
    for (const key of ['auth', 'password', 'identitytoken', 'registrytoken'] as const) {
      const v = entry[key];
      if (typeof v === 'string' && v) out.push(v);
    }
    if (typeof entry.auth === 'string') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon !== -1) out.push(decoded.slice(colon + 1));
    }
  }
  return out;
}

interface Userinfo {
  /** index where the userinfo starts and where the '@' is */
  start: number;
  at: number;
  user: string;
  password?: string;
}

function splitUserinfo(url: string): Userinfo | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  if (!m) return undefined;
  const start = m[0].length;
  let end = url.length;
  for (const ch of ['/', '?', '#']) {
    const i = url.indexOf(ch, start);
    if (i !== -1 && i < end) end = i;
  }
  // The last '@' of the authority ends the userinfo (as WHATWG URL parsing does).
  const at = url.lastIndexOf('@', end - 1);
  if (at < start) return undefined;
  const userinfo = url.slice(start, at);
  const colon = userinfo.indexOf(':');
  return colon === -1
    ? { start, at, user: userinfo }
    : { start, at, user: userinfo.slice(0, colon), password: userinfo.slice(colon + 1) };
}

/** http://user:secret@host -> http://user:***@host; other URLs unchanged. */
export function redactUrl(url: string): string {
  const info = splitUserinfo(url);
  if (!info || info.password === undefined) return url;
  return `${url.slice(0, info.start)}${info.user}:${MASK}${url.slice(info.at)}`;
}

// scheme://user:password@ inside free text (messages, command output).
const URL_WITH_PASSWORD = /\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#@:'"]*:[^\s/?#'"]*@/g;

/** Masks every known secret and every URL password in a piece of text. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length >= MIN_SECRET_LENGTH && out.includes(s)) out = out.split(s).join(MASK);
  }
  return out.replace(URL_WITH_PASSWORD, (m) => redactUrl(m));
}

/** Deep copy of any JSON-like value with every string (keys too) redacted. */
export function redactValue<T>(value: T, secrets: readonly string[]): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactText(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      if (v instanceof Date) return v;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [redactText(k, secrets), walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}

export function redactReport<R extends object>(report: R, secrets: readonly string[]): R {
  return redactValue(report, secrets);
}
