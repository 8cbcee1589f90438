// How bytes reach one registry: one undici dispatcher per registry, composed
// here and nowhere else — TLS (private CA or, for registries marked insecure,
// no verification), HTTP(S)_PROXY/NO_PROXY (never for loopback, as Go tools
// do), redirects (blob GETs often go to a CDN; undici drops Authorization on
// cross-origin hops), and the scheme: HTTPS, falling back to plain HTTP only
// for insecure registries and loopback addresses, as Docker does.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, interceptors, request, type Dispatcher } from 'undici';
import { InputError, OperationError } from '../../errors.ts';
import type { RegistrySettings } from './settings.ts';
import { apiHost, isLoopbackHost } from '../reference.ts';

export interface Endpoint {
  /** the registry as named in references (docker.io, host:port) */
  registry: string;
  /** https://HOST[:PORT] or http://… */
  baseUrl: string;
  dispatcher: Dispatcher;
  settings?: RegistrySettings;
}

export interface TransportOptions {
  registries?: RegistrySettings[];
  env?: NodeJS.ProcessEnv;
  /** per-host connection cap (parallel blob downloads share it) */
  connections?: number;
}

export const HEADERS_TIMEOUT = 60_000;
export const BODY_TIMEOUT = 120_000;

function proxyEnv(env: NodeJS.ProcessEnv): { httpProxy?: string; httpsProxy?: string; noProxy?: string } {
  return {
    httpProxy: env.HTTP_PROXY ?? env.http_proxy,
    httpsProxy: env.HTTPS_PROXY ?? env.https_proxy,
    noProxy: env.NO_PROXY ?? env.no_proxy,
  };
}

/** Error codes that mean "this port speaks no TLS" (an HTTP server answered a TLS hello). */
function isTlsMismatch(err: unknown): boolean {
  for (let e: unknown = err, d = 0; e && d < 4; e = (e as { cause?: unknown }).cause, d++) {
    const code = String((e as { code?: unknown }).code ?? '');
    const msg = e instanceof Error ? e.message : '';
    if (/ERR_SSL_WRONG_VERSION_NUMBER|EPROTO|ERR_SSL_PACKET_LENGTH_TOO_LONG/.test(code) || /wrong version number|packet length too long/i.test(msg)) return true;
  }
  return false;
}

export class Transport {
  readonly #settings: RegistrySettings[];
  readonly #env: NodeJS.ProcessEnv;
  readonly #connections: number;
  readonly #endpoints = new Map<string, Promise<Endpoint>>();
  readonly #dispatchers: Dispatcher[] = [];

  constructor(opts: TransportOptions = {}) {
    this.#settings = opts.registries ?? [];
    this.#env = opts.env ?? process.env;
    this.#connections = opts.connections ?? 16;
  }

  settingsFor(registry: string): RegistrySettings | undefined {
    return this.#settings.find((s) => s.host === registry || (registry === 'docker.io' && s.host === 'registry-1.docker.io'));
  }

  /** TLS options for a registry's connections. */
  tlsOptions(settings?: RegistrySettings): { ca?: (string | Buffer)[]; rejectUnauthorized: boolean } {
    let ca: Buffer | undefined;
    if (settings?.caFile) {
      try {
        ca = readFileSync(settings.caFile);
      } catch (err) {
        throw new InputError({ file: settings.caFile, expected: `cannot read CA file (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
      }
    }
    // A private CA adds to the system roots rather than replacing them (Node's `ca`
    // replaces), so a registry that redirects blobs to a public CDN still verifies.
    return { ...(ca ? { ca: [...rootCertificates, ca] } : {}), rejectUnauthorized: !settings?.insecure };
  }

  /** Whether requests to `host` go through a proxy (HTTP(S)_PROXY set; never for loopback). */
  proxied(host: string): boolean {
    const proxy = proxyEnv(this.#env);
    return !isLoopbackHost(host) && !!(proxy.httpProxy || proxy.httpsProxy);
  }

  /** The dispatcher for a host (also for non-registry URLs such as Helm repos and file downloads). */
  dispatcherFor(host: string, settings?: RegistrySettings): Dispatcher {
    const tls = this.tlsOptions(settings);
    // HTTP/1.1 only (undici 8 would negotiate h2 by ALPN): one connection per parallel blob, as Docker and skopeo do.
    const base = { connections: this.#connections, headersTimeout: HEADERS_TIMEOUT, bodyTimeout: BODY_TIMEOUT, connect: tls, allowH2: false };
    const proxy = proxyEnv(this.#env);
    const useProxy = this.proxied(host);
    const agent: Dispatcher = useProxy ? new EnvHttpProxyAgent({ ...base, ...proxy, requestTls: tls }) : new Agent(base);
    this.#dispatchers.push(agent);
    return agent.compose(interceptors.redirect({ maxRedirections: 5 }));
  }

  /** Resolves (once per registry) the scheme and dispatcher to use. */
  endpoint(registry: string): Promise<Endpoint> {
    let p = this.#endpoints.get(registry);
    if (!p) {
      p = this.#resolve(registry);
      this.#endpoints.set(registry, p);
      p.catch(() => this.#endpoints.delete(registry));
    }
    return p;
  }

  async #resolve(registry: string): Promise<Endpoint> {
    const settings = this.settingsFor(registry);
    const host = apiHost(registry);
    const dispatcher = this.dispatcherFor(host, settings);
    const plainAllowed = settings?.insecure === true || isLoopbackHost(host);
    if (!plainAllowed) return { registry, baseUrl: `https://${host}`, dispatcher, settings };
    // Probe: HTTPS first; plain HTTP only when the port does not speak TLS.
    try {
      const res = await request(`https://${host}/v2/`, { dispatcher, headersTimeout: 15_000 });
      await res.body.dump();
      return { registry, baseUrl: `https://${host}`, dispatcher, settings };
    } catch (err) {
      if (isTlsMismatch(err)) return { registry, baseUrl: `http://${host}`, dispatcher, settings };
      throw new OperationError(`registry ${registry}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#dispatchers.map((d) => d.close()));
  }
}
