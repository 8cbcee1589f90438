// TCP from the node itself: a direct-tcpip channel (forwardOut), so TCP/TLS/HTTP probes
// start on the node; where sshd forbids forwarding, reachability falls back to a shell
// probe on the node.
import type { Duplex } from 'node:stream';
import type { Client as SshClient } from 'ssh2';
import type { ExecResult, TcpProbeResult } from '../../types.ts';
import { shQuote } from '../quote.ts';
import { abortError } from '../abort.ts';
import { NodeUnreachableError } from './facts.ts';
import { classifyTcpError } from './tcp-error.ts';

/** connectTcp on a node whose sshd forbids forwarding (AllowTcpForwarding no). */
export class ForwardingDeniedError extends Error {
  readonly code = 'ERR_SSH_FORWARDING_DENIED';
  constructor(node: string, detail: string) {
    super(`${node}: sshd refuses TCP forwarding (${detail}); use host.tcpProbe for reachability`);
    this.name = 'ForwardingDeniedError';
  }
}

export type Forwarding = 'unknown' | 'allowed' | 'denied';

/**
 * A direct-tcpip channel: the node `name` itself connects to host:port. `learned` is told
 * whether sshd allows forwarding at all, as soon as its answer shows it.
 */
export function forwardTcp(
  client: SshClient,
  name: string,
  host: string,
  port: number,
  opts: { signal?: AbortSignal; timeoutMs: number },
  learned: (f: Forwarding) => void,
): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(abortError(opts.signal));
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
      return true;
    };
    const onAbort = () => settle(() => reject(abortError(opts.signal!)));
    // A filtered port: sshd's own connect() waits for the kernel's timeout; ours is shorter.
    const timer = setTimeout(
      () => settle(() => reject(Object.assign(new Error(`connect ${host}:${port} from ${name} timed out after ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' }))),
      opts.timeoutMs,
    );
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
        if (err) {
          const reason = (err as Error & { reason?: number }).reason;
          // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (1): AllowTcpForwarding no / PermitOpen.
          if (reason === 1 || /administratively prohibited/i.test(err.message)) {
            learned('denied');
            settle(() => reject(new ForwardingDeniedError(name, err.message)));
          } else {
            learned('allowed');
            settle(() => reject(Object.assign(new Error(`${err.message} (${host}:${port} from ${name})`), { code: reason === 2 ? 'ECONNREFUSED' : undefined })));
          }
          return;
        }
        learned('allowed');
        if (!settle(() => resolve(ch as unknown as Duplex))) ch.close(); // too late: drop it
      });
    } catch (err) {
      settle(() => reject(new NodeUnreachableError(name, (err as Error).message)));
    }
  });
}

/** Reachability of host:port by a shell on the node: bash /dev/tcp under timeout(1), else nc -z. */
export async function shellTcpProbe(
  run: (cmd: string, opts: { signal?: AbortSignal; timeoutMs: number }) => Promise<ExecResult>,
  host: string,
  port: number,
  opts: { signal?: AbortSignal; timeoutMs: number },
  ms: () => number,
): Promise<TcpProbeResult> {
  // +1 s: bash (or nc) has to start first on a possibly busy node; only the connect should count.
  const secs = Math.max(0.2, opts.timeoutMs / 1000 + 1).toFixed(1);
  const script =
    `if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then ` +
    `timeout ${secs} bash -c 'exec 3<>"/dev/tcp/$0/$1"' ${shQuote(host)} ${port}; ` +
    `elif command -v nc >/dev/null 2>&1; then nc -z -w ${Math.ceil(Number(secs))} ${shQuote(host)} ${port}; ` +
    `else echo 'neither bash+timeout nor nc on the node' >&2; exit 125; fi`;
  const r = await run(script, { signal: opts.signal, timeoutMs: opts.timeoutMs + 2000 });
  const err = r.stderr.replace(/^.*?: line \d+: /gm, '').trim();
  if (r.code === 0) return { state: 'open', ms: ms(), via: 'ssh-shell' };
  if (r.code === 124 || r.code === null) return { state: 'filtered', error: `no answer within ${opts.timeoutMs} ms`, ms: ms(), via: 'ssh-shell' };
  return { state: r.code === 125 ? 'error' : classifyTcpError(new Error(err || `exit ${r.code}`)), error: err || `exit ${r.code}`, ms: ms(), via: 'ssh-shell' };
}
