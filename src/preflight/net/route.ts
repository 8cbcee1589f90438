// The one place where proxy choice, tunnels, TLS and timeouts are composed
// for a request that starts on a Host. Errors say at which stage it failed.
import type { Duplex } from 'node:stream';
import type { Host } from '../types.ts';
import { connectViaProxy, routeFor, type ProxySettings, type Route } from './proxy.ts';
import { classifyConnectError, dialTcp, type TcpState } from './tcp.ts';
import { startTls } from './tls.ts';
import { httpOverStream, type HttpAnswer, type HttpRequest } from './http.ts';

/** 'forwarding': the node's sshd forbids direct-tcpip, so no stream can start on the node. */
export type Stage = 'url' | 'proxy' | 'tcp' | 'tls' | 'http' | 'forwarding';

export class RouteError extends Error {
  readonly stage: Stage;
  readonly tcpState: TcpState | undefined;
  readonly proxyStatus: number | undefined;
  constructor(stage: Stage, message: string, extra: { tcpState?: TcpState; proxyStatus?: number } = {}) {
    super(message);
    this.name = 'RouteError';
    this.stage = stage;
    this.tcpState = extra.tcpState;
    this.proxyStatus = extra.proxyStatus;
  }
}

export interface RouteOptions {
  proxy?: ProxySettings;
  caPems?: string[];
  /** Skip certificate verification (registry.insecure). */
  insecure?: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
}

export function isForwardingDenied(err: unknown): boolean {
  return (err as { code?: string })?.code === 'ERR_SSH_FORWARDING_DENIED';
}

export function defaultPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

export function describeRoute(r: Route): string {
  return r.kind === 'direct' ? `direct (${r.reason})` : `through proxy ${r.proxy.display}`;
}

/** A byte stream to url's host:port (through the proxy when it applies), no TLS yet. */
export async function openTunnel(h: Host, url: URL, opts: RouteOptions): Promise<{ stream: Duplex; route: Route }> {
  let route: Route;
  try {
    route = routeFor(url, opts.proxy);
  } catch (err) {
    throw new RouteError('proxy', (err as Error).message);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = defaultPort(url);
  const dial = { timeoutMs: opts.timeoutMs, signal: opts.signal };
  if (route.kind === 'direct') {
    try {
      return { stream: await dialTcp(h, host, port, dial), route };
    } catch (err) {
      if (isForwardingDenied(err)) throw new RouteError('forwarding', (err as Error).message);
      const state = classifyConnectError(err);
      throw new RouteError('tcp', `${host}:${port}: ${(err as Error).message}`, { tcpState: state });
    }
  }
  try {
    return { stream: await connectViaProxy(h, route.proxy, { host, port }, dial), route };
  } catch (err) {
    if (isForwardingDenied(err)) throw new RouteError('forwarding', (err as Error).message);
    const status = (err as { status?: number }).status;
    throw new RouteError('proxy', (err as Error).message, { proxyStatus: status, tcpState: status === undefined ? classifyConnectError(err) : undefined });
  }
}

/** Tunnel plus TLS for https URLs. */
export async function openStream(h: Host, url: URL, opts: RouteOptions): Promise<{ stream: Duplex; route: Route }> {
  const t = await openTunnel(h, url, opts);
  if (url.protocol !== 'https:') return t;
  try {
    const stream = await startTls(t.stream, {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      caPems: opts.caPems,
      rejectUnauthorized: !opts.insecure,
      timeoutMs: opts.timeoutMs,
    });
    return { stream, route: t.route };
  } catch (err) {
    t.stream.destroy();
    const code = (err as { code?: string }).code;
    throw new RouteError('tls', `TLS with ${url.host} failed: ${(err as Error).message}${code && !(err as Error).message.includes(code) ? ` (${code})` : ''}`);
  }
}

/** One HTTP request from the host to url. */
export async function fetchOnHost(h: Host, url: URL, req: HttpRequest, opts: RouteOptions): Promise<HttpAnswer & { route: Route }> {
  const { stream, route } = await openStream(h, url, opts);
  try {
    return { ...(await httpOverStream(stream, url, req)), route };
  } catch (err) {
    stream.destroy();
    throw new RouteError('http', `HTTP ${req.method ?? 'GET'} ${url.origin}${url.pathname}: ${(err as Error).message}`);
  }
}
