// Small tolerant wrappers over the Host for probes: a missing command or an
// unreadable file is a fact (null), not an exception.
import type { ExecResult, Gather, ProbeContext } from '../../types.ts';

/** Runs argv on the node; null when the command does not exist or the host refused to run it. */
export async function run(ctx: ProbeContext, argv: string[], opts: { sudo?: boolean } = {}): Promise<ExecResult | null> {
  try {
    const r = await ctx.host.exec(argv, { signal: ctx.signal, timeoutMs: Math.max(500, Math.floor(ctx.timeoutMs * 0.8)), sudo: opts.sudo });
    if (r.code === 127) return null;
    return r;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    return null;
  }
}

export async function read(ctx: ProbeContext, path: string, maxBytes = 4 * 1024 * 1024): Promise<string | null> {
  try {
    return await ctx.host.readFile(path, { signal: ctx.signal, maxBytes });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    return null;
  }
}

export async function list(ctx: ProbeContext, path: string): Promise<string[] | null> {
  try {
    return await ctx.host.readDir(path, { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    return null;
  }
}

/** A shell-quoted word (the SSH host's quoting serves every probe script). */
export { shQuote as shq } from '../../hosts/quote.ts';

/** Exists when systemd is PID 1. */
export const SYSTEMD_RUN = '/run/systemd/system';

/** systemd is PID 1 on the node (systemctl answers meaningfully). */
export async function hasSystemd(ctx: ProbeContext): Promise<boolean> {
  return (await list(ctx, SYSTEMD_RUN)) !== null;
}

/** What unitStates reads (for a check's gather). */
export function unitStatesGather(units: string[]): Gather {
  return { dirs: [SYSTEMD_RUN], commands: [{ argv: ['systemctl', 'is-active', ...units], onlyIfExists: SYSTEMD_RUN }] };
}

/** `systemctl is-active UNIT` for each unit; {} without systemd. */
export async function unitStates(ctx: ProbeContext, units: string[]): Promise<Record<string, string>> {
  if (!(await hasSystemd(ctx))) return {};
  const r = await run(ctx, ['systemctl', 'is-active', ...units]);
  if (!r) return {};
  const lines = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const out: Record<string, string> = {};
  units.forEach((u, i) => (out[u] = lines[i] ?? 'unknown'));
  return out;
}

export const PROCESS_NAMES = ['sh', '-c', 'cat /proc/[0-9]*/comm 2>/dev/null'];

/** Names (comm) of running processes, from /proc in one command. */
export async function processNames(ctx: ProbeContext): Promise<string[] | null> {
  const r = await run(ctx, PROCESS_NAMES);
  if (!r) return null;
  return [...new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean))].sort();
}
