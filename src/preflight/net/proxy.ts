// HTTP proxies: which proxy a URL goes through (site file first, then the
// host's environment), and an HTTP CONNECT tunnel through it that starts on
// the host itself. Credentials stay in the Proxy-Authorization header only.
import type { Duplex } from 'node:stream';
import type { Host } from '../types.ts';
import { redactUrl } from '../../report/redact.ts';
import { dialTcp, type DialOptions } from './tcp.ts';
import { isLoopback, noProxyMatch, splitNoProxy } from './no-proxy.ts';

export interface ProxySettings {
  http?: string;
  https?: string;
  noProxy: string[];
  /** Where the settings came from. */
  source: 'site' | 'environment' | 'none';
  /** Proxy password (site proxy.passwordEnv); never copied into facts. */
  password?: string;
}

export interface ProxyEndpoint {
  /** The proxy URL without any password, fit for reports. */
  display: string;
  host: string;
  port: number;
  authorization?: string;
}

export type Route = { kind: 'direct'; reason: string } | { kind: 'proxy'; proxy: ProxyEndpoint };

/** Proxy variables from an environment (lower case wins, as curl and Go do). */
export function proxyFromEnv(env: Record<string, string | undefined>): { http?: string; https?: string; noProxy?: string } {
  const pick = (name: string) => env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;
  return { http: pick('http_proxy'), https: pick('https_proxy'), noProxy: pick('no_proxy') };
}

/** A proxy URL with its password masked (user name kept), fit for reports. */
export function redactProxyUrl(raw: string): string {
  return redactUrl(raw.includes('://') ? raw : `http://${raw}`);
}

/** Parses a proxy URL ("http://user@proxy:3128", "proxy:3128"); throws a clear Error when malformed. */
export function parseProxyUrl(raw: string, password?: string): ProxyEndpoint {
  let u: URL;
  try {
    u = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new Error(`proxy URL '${redactProxyUrl(raw)}' is not a valid URL`);
  }
  if (u.protocol !== 'http:') throw new Error(`proxy URL '${redactProxyUrl(raw)}': only http:// proxies are supported (got ${u.protocol})`);
  if (!u.hostname) throw new Error(`proxy URL '${redactProxyUrl(raw)}' has no host`);
  const port = u.port ? Number(u.port) : 80;
  let authorization: string | undefined;
  if (u.username) {
    const pass = u.password ? decodeURIComponent(u.password) : (password ?? '');
    authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(u.username)}:${pass}`).toString('base64');
  }
  return { display: redactProxyUrl(raw), host: u.hostname.replace(/^\[|\]$/g, ''), port, authorization };
}

/** Direct or through which proxy, for a URL, following NO_PROXY. */
export function routeFor(url: URL, settings: ProxySettings | undefined): Route {
  const raw = url.protocol === 'https:' ? (settings?.https ?? settings?.http) : settings?.http;
  if (!settings || !raw) return { kind: 'direct', reason: 'no proxy configured' };
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (isLoopback(url.hostname)) return { kind: 'direct', reason: 'loopback addresses are never proxied' };
  const hit = noProxyMatch(settings.noProxy, url.hostname, port);
  if (hit) return { kind: 'direct', reason: `NO_PROXY entry '${hit}' covers ${url.hostname}` };
  return { kind: 'proxy', proxy: parseProxyUrl(raw, settings.password) };
}

export class ProxyConnectError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = 'ProxyConnectError';
    this.status = status;
  }
}

/** Reads an HTTP response head from a stream; leaves any bytes after it unread. */
async function readHead(sock: Duplex, timeoutMs: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new ProxyConnectError(`the proxy did not answer CONNECT within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const rest = buf.subarray(end + 4);
        done(undefined, buf.subarray(0, end).toString('latin1'), rest);
      } else if (buf.length > 65536) done(new ProxyConnectError('the proxy answered CONNECT with an oversized header'));
    };
    const onEnd = () => done(new ProxyConnectError('the proxy closed the connection during CONNECT'));
    const onError = (e: Error) => done(e);
    function done(err?: Error, head?: string, rest?: Buffer) {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
      sock.pause();
      if (rest && rest.length) sock.unshift(rest);
      if (err) reject(err);
      else resolve(head!);
    }
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('error', onError);
  });
}

/** Opens a CONNECT tunnel to target through the proxy; the stream then carries raw bytes to target. */
export async function connectViaProxy(h: Host, proxy: ProxyEndpoint, target: { host: string; port: number }, opts: DialOptions): Promise<Duplex> {
  const sock = await dialTcp(h, proxy.host, proxy.port, opts);
  try {
    const authority = target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
    const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
    if (proxy.authorization) lines.push(`Proxy-Authorization: ${proxy.authorization}`);
    sock.write(lines.join('\r\n') + '\r\n\r\n');
    const head = await readHead(sock, opts.timeoutMs);
    const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})\s*(.*)$/m.exec(head.split('\r\n')[0] ?? '');
    if (!m) throw new ProxyConnectError(`the proxy at ${proxy.display} did not answer with HTTP`);
    const status = Number(m[1]);
    if (status < 200 || status > 299) {
      const hint = status === 407 || status === 401 ? ' (proxy authentication required: set the user in the proxy URL and its password with network.proxy.passwordEnv)' : status === 403 ? ' (the proxy forbids this destination or port)' : status >= 500 ? ' (the proxy could not reach the destination)' : '';
      throw new ProxyConnectError(`proxy ${proxy.display} answered CONNECT ${authority} with ${status} ${m[2]}${hint}`, status);
    }
    return sock;
  } catch (err) {
    sock.destroy();
    throw err;
  }
}

/** Proxy settings for a node: the site file's if it names a proxy, else the host environment's. */
export function effectiveProxy(site: { http?: string; https?: string; noProxy?: string[] } | undefined, env: Record<string, string | undefined>, password?: string): ProxySettings {
  if (site && (site.http || site.https)) {
    return { http: site.http, https: site.https, noProxy: splitNoProxy(site.noProxy), source: 'site', password };
  }
  const e = proxyFromEnv(env);
  if (e.http || e.https) return { http: e.http, https: e.https, noProxy: splitNoProxy(e.noProxy), source: 'environment' };
  return { noProxy: [], source: 'none' };
}
