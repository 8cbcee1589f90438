// TCP reachability from a Host: open, refused (closed), filtered (no answer
// before the timeout), DNS failure or unreachable network. The connection
// starts on the host itself (local socket or SSH direct-tcpip channel).
import type { Duplex } from 'node:stream';
import type { Host, TcpProbeResult } from '../types.ts';
import { classifyTcpError } from '../hosts/ssh/tcp-error.ts';

export type TcpState = TcpProbeResult['state'];

export interface TcpReach extends TcpProbeResult {
  host: string;
  port: number;
}

export interface DialOptions {
  signal?: AbortSignal;
  timeoutMs: number;
}

/** Maps a connect error (Node errno codes or ssh2 channel-open reasons) to a state. */
export function classifyConnectError(err: unknown): TcpState {
  if (err instanceof DialTimeoutError || (err as Error)?.name === 'AbortError' || (err as Error)?.name === 'TimeoutError') return 'filtered';
  return classifyTcpError(err instanceof Error ? err : new Error(String(err)));
}

export class DialTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(host: string, port: number, ms: number) {
    super(`no answer from ${host}:${port} within ${ms} ms`);
    this.name = 'DialTimeoutError';
  }
}

/**
 * host.connectTcp with a hard deadline of our own: a Host whose connect hangs
 * past its timeout must not stall the check. A late socket is destroyed.
 */
export async function dialTcp(h: Host, host: string, port: number, opts: DialOptions): Promise<Duplex> {
  const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)]) : AbortSignal.timeout(opts.timeoutMs);
  const pending = h.connectTcp(host, port, { signal, timeoutMs: opts.timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DialTimeoutError(host, port, opts.timeoutMs)), opts.timeoutMs + 250);
  });
  try {
    return await Promise.race([pending, deadline]);
  } catch (err) {
    pending.then((s) => s.destroy(), () => undefined);
    if (signal.aborted && !opts.signal?.aborted) throw new DialTimeoutError(host, port, opts.timeoutMs);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Reachability of host:port from the node; SSH hosts fall back to a shell probe where forwarding is denied. */
export async function probeTcp(h: Host, host: string, port: number, opts: DialOptions): Promise<TcpReach> {
  if (h.tcpProbe) return { host, port, ...(await h.tcpProbe(host, port, opts)) };
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  try {
    const sock = await dialTcp(h, host, port, opts);
    sock.destroy();
    return { host, port, state: 'open', ms: ms(), via: 'local' };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return { host, port, state: classifyConnectError(err), error: err instanceof Error ? err.message : String(err), ms: ms(), via: 'local' };
  }
}

/** "host:port" and "[v6]:port" -> parts; undefined when malformed. */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(s.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

export function describeTcpState(r: TcpReach): string {
  switch (r.state) {
    case 'open':
      return `open (${r.ms} ms)`;
    case 'refused':
      return 'closed: connection refused (nothing listens, or a firewall rejects)';
    case 'filtered':
      return `filtered: no answer within the timeout (a firewall drops packets, or the host is down)`;
    case 'dns':
      return `name does not resolve (${r.error ?? 'DNS failure'})`;
    case 'unreachable':
      return `network unreachable (${r.error ?? 'no route'})`;
    default:
      return `error: ${r.error ?? 'unknown'}`;
  }
}
