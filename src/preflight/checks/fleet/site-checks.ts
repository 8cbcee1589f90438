// Cross-node checks: probes that talk to every reached node (through its Host),
// judged by the pure rules in rules.ts. Each probe keeps to the check's time
// budget: what is not measured by then is reported as such, not waited for.
import pLimit from 'p-limit';
import { defineSiteCheck, type Host, type SiteCheckContext, type TcpProbeResult } from '../../types.ts';
import { UnreachableHost } from '../../hosts/ssh/unreachable.ts';
import { classifyTcpError } from '../../hosts/ssh/tcp-error.ts';
import {
  judgeClockSkew,
  judgeHostnames,
  judgePortMatrix,
  listeningPorts,
  planPortMatrix,
  type ClockSample,
  type HostnameSample,
  type ListenerFacts,
  type PortMatrixCell,
  type PortMatrixFacts,
} from './rules.ts';
import { startProofListener } from './proof-listener.ts';

/** Hosts that answered (an UnreachableHost only fails). */
function reached(ctx: SiteCheckContext): { name: string; host: Host }[] {
  return ctx.nodes.filter((n) => n.host && !(n.host instanceof UnreachableHost)).map((n) => ({ name: n.info.name, host: n.host! }));
}

function unreachedNames(ctx: SiteCheckContext): string[] {
  return ctx.nodes.filter((n) => !n.host || n.host instanceof UnreachableHost).map((n) => n.info.name);
}

/** A signal that fires a little before the engine's own timeout, so partial facts still come back. */
function budget(ctx: SiteCheckContext): { signal: AbortSignal; ms: number } {
  // The margin grows with the budget (a large site's budget is several timeouts): winding down
  // hundreds of channels, with the machine busy, takes longer than 500 ms.
  const ms = Math.max(200, ctx.timeoutMs - Math.max(Math.min(500, ctx.timeoutMs / 5), ctx.timeoutMs / 10));
  return { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(ms)]), ms };
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * One sample per node: `measure` on every reached node at once (a throw becomes the
 * node's error), and 'node unreachable' for the others.
 */
async function sampleEach<S extends { node: string; error?: string }>(
  ctx: SiteCheckContext,
  measure: (host: Host, name: string) => Promise<Omit<S, 'node'>>,
): Promise<S[]> {
  const samples = await Promise.all(
    reached(ctx).map(async ({ name, host }) => {
      try {
        return { node: name, ...(await measure(host, name)) } as S;
      } catch (err) {
        return { node: name, error: errText(err) } as S;
      }
    }),
  );
  return [...samples, ...unreachedNames(ctx).map((node) => ({ node, error: 'node unreachable' }) as S)];
}

export const siteHostnamesCheck = defineSiteCheck<{ samples: HostnameSample[] }>({
  id: 'site.hostnames',
  category: 'network',
  title: 'Hostnames are unique across the site',
  async probe(ctx) {
    const { signal, ms } = budget(ctx);
    const samples = await sampleEach<HostnameSample>(ctx, async (host) => {
      // The kernel's hostname (what `hostname` prints); read in the node's batch when there is one.
      const proc = await host.readFile('/proc/sys/kernel/hostname', { signal }).catch(() => null);
      if (proc?.trim()) return { hostname: proc.trim() };
      const r = await host.exec(['hostname'], { signal, timeoutMs: ms, sudo: false }); // no root needed, even with ssh.sudo
      const h = r.stdout.trim();
      return r.code === 0 && h ? { hostname: h } : { error: r.stderr.trim() || `exit ${r.code}` };
    });
    return { samples };
  },
  judge: (f) => judgeHostnames(f.samples),
});

/** Wall clock with sub-millisecond resolution. */
const now = () => performance.timeOrigin + performance.now();

/** Node clock minus ours, from the sample with the shortest round trip of `tries`. */
export async function measureOffset(host: Host, tries: number, signal: AbortSignal, timeoutMs: number): Promise<{ offsetMs: number; rttMs: number }> {
  let best: { offsetMs: number; rttMs: number } | undefined;
  const take = (t0: number, t1: number, out: string, failed?: string) => {
    // date without %N support (busybox) prints it literally: seconds only, +-1 s.
    const m = /^(\d+)(?:\.(\d+))?/.exec(out);
    if (failed !== undefined || !m) throw new Error(`date +%s.%N: ${failed || out || 'no output'}`);
    const remote = Number(m[1]) * 1000 + (m[2] ? Number(`0.${m[2]}`) * 1000 : 500);
    const rtt = t1 - t0 + (m[2] ? 0 : 1000);
    const s = { offsetMs: remote - (t0 + t1) / 2, rttMs: Math.round(rtt) };
    if (!best || s.rttMs < best.rttMs) best = s;
  };
  if (host.clockReadings) {
    for (const r of await host.clockReadings(tries, { signal, timeoutMs })) take(r.sentAt, r.receivedAt, r.text);
  } else {
    for (let i = 0; i < tries && !signal.aborted; i++) {
      const t0 = now();
      const r = await host.exec(['date', '+%s.%N'], { signal, timeoutMs, sudo: false });
      const t1 = now();
      take(t0, t1, r.stdout.trim(), r.code !== 0 ? r.stderr.trim() || `exit ${r.code}` : undefined);
    }
  }
  if (!best) throw new Error('no sample before the deadline');
  return best;
}

export const siteClockSkewCheck = defineSiteCheck<{ samples: ClockSample[] }>({
  id: 'site.clock-skew',
  category: 'os',
  title: 'Clock skew between nodes',
  async probe(ctx) {
    const { signal, ms } = budget(ctx);
    return { samples: await sampleEach<ClockSample>(ctx, (host) => measureOffset(host, 3, signal, ms)) };
  },
  judge: (f, ctx) => judgeClockSkew(f.samples, ctx.profile.time.maxSkewMs),
});

/** host.tcpProbe when the host has one (SSH), else a plain connectTcp (this machine). */
export async function probeFrom(host: Host, address: string, port: number, opts: { signal: AbortSignal; timeoutMs: number }): Promise<TcpProbeResult> {
  if (host.tcpProbe) return await host.tcpProbe(address, port, opts);
  const t0 = performance.now();
  try {
    const s = await host.connectTcp(address, port, opts);
    s.destroy();
    return { state: 'open', ms: Math.round(performance.now() - t0), via: 'local' };
  } catch (err) {
    return { state: classifyTcpError(err as Error), error: errText(err), ms: Math.round(performance.now() - t0), via: 'local' };
  }
}

/** Probes running at once from one source node probed one by one (direct-tcpip channels on its connection). */
const PER_SOURCE = 32;
/** Dials at once on a node that sweeps its peers itself (Host.tcpSweep). */
const SWEEP_WORKERS = 16;
/** Source nodes sweeping at once: each sweep is a few processes on its node and one channel here. */
const SWEEPS_AT_ONCE = 128;

type PlannedProbe = ReturnType<typeof planPortMatrix>[number];

/** Is anything listening on each target? A refused port then means a firewall, not "not installed yet". */
async function listeningOn(targets: string[], hosts: Map<string, Host>, signal: AbortSignal): Promise<Record<string, number[] | null>> {
  const listening: Record<string, number[] | null> = {};
  await Promise.all(
    targets.map(async (t) => {
      const h = hosts.get(t);
      listening[t] = null;
      if (!h) return;
      try {
        // Only the LISTEN lines (st 0A) travel: the files list every socket of the node.
        const r = await h.exec(['grep', '-h', ' 0A ', '/proc/net/tcp', '/proc/net/tcp6'], { signal, sudo: false });
        const text =
          r.code === 0 || (r.code === 2 && r.stdout)
            ? r.stdout
            : r.code === 1
              ? ''
              : [await h.readFile('/proc/net/tcp', { signal }), await h.readFile('/proc/net/tcp6', { signal })].filter((x) => x !== null).join('\n');
        listening[t] = text || r.code === 1 ? listeningPorts(text) : null;
      } catch {
        // not readable: refused ports there are then not proven open
      }
    }),
  );
  return listening;
}

/** One source's probes one by one (a channel each), PER_SOURCE at a time: this machine, or a node without bash. */
async function probeEach(host: Host, probes: PlannedProbe[], address: Map<string, string | undefined>, signal: AbortSignal, perProbe: number): Promise<PortMatrixCell[]> {
  const limit = pLimit(PER_SOURCE);
  return Promise.all(
    probes.map((p) =>
      limit(async (): Promise<PortMatrixCell> => {
        if (signal.aborted) return { ...p, state: 'untested', error: 'time budget used up' };
        try {
          return { ...p, ...(await probeFrom(host, address.get(p.to)!, p.port, { signal, timeoutMs: perProbe })) };
        } catch (err) {
          return { ...p, state: 'untested', error: signal.aborted ? 'time budget used up' : errText(err) };
        }
      }),
    ),
  );
}

/** One source's probes as one batch dialled on the node (O(1) channels per source); null when it cannot. */
async function sweepFrom(
  host: Host,
  probes: PlannedProbe[],
  address: Map<string, string | undefined>,
  signal: AbortSignal,
  perProbe: number,
): Promise<{ cells: PortMatrixCell[]; listening: number[] | null } | null> {
  let swept: Awaited<ReturnType<NonNullable<Host['tcpSweep']>>>;
  try {
    swept = await host.tcpSweep!(probes.map((p) => ({ host: address.get(p.to)!, port: p.port })), { signal, probeTimeoutMs: perProbe, workers: SWEEP_WORKERS });
  } catch (err) {
    const error = signal.aborted ? 'time budget used up' : errText(err);
    return { cells: probes.map((p) => ({ ...p, state: 'untested', error })), listening: null };
  }
  if (!swept) return null;
  const { results } = swept;
  const cells = probes.map((p, i): PortMatrixCell => {
    const r = results[i];
    return r ? { ...p, ...r } : { ...p, state: 'untested', error: signal.aborted ? 'time budget used up' : 'no answer from the probe batch' };
  });
  return { cells, listening: swept.listening };
}

/**
 * Dials `probes`, each from its own source node (one batch per source where the node can);
 * cells come back in the order of `probes`, whoever answers first. A sweeping node also
 * reports its own listening ports.
 */
async function dialAll(
  probes: PlannedProbe[],
  hosts: Map<string, Host>,
  address: Map<string, string | undefined>,
  signal: AbortSignal,
  perProbe: number,
): Promise<{ cells: PortMatrixCell[]; listenedBySweep: Record<string, number[] | null> }> {
  const bySource = new Map<string, number[]>();
  probes.forEach((p, i) => {
    const list = bySource.get(p.from);
    if (list) list.push(i);
    else bySource.set(p.from, [i]);
  });
  const cells = new Array<PortMatrixCell>(probes.length);
  const listenedBySweep: Record<string, number[] | null> = {};
  const sweeps = pLimit(SWEEPS_AT_ONCE);
  await Promise.all(
    [...bySource].map(async ([from, idx]) => {
      const mine = idx.map((i) => probes[i]!);
      const host = hosts.get(from);
      let out: PortMatrixCell[];
      if (!host) {
        out = mine.map((p) => ({ ...p, state: 'untested', error: 'source node unreachable' }));
      } else {
        const swept = host.tcpSweep ? await sweeps(() => sweepFrom(host, mine, address, signal, perProbe)) : null;
        if (swept) listenedBySweep[from] = swept.listening;
        out = swept?.cells ?? (await probeEach(host, mine, address, signal, perProbe));
      }
      idx.forEach((i, k) => (cells[i] = out[k]!));
    }),
  );
  return { cells, listenedBySweep };
}

/**
 * Refused probes to ports nothing listens on prove nothing yet: on each such target, a
 * temporary listener holds those ports while the same sources dial again (cell.retry).
 */
async function proveRefused(
  cells: PortMatrixCell[],
  listening: Record<string, number[] | null>,
  hosts: Map<string, Host>,
  address: Map<string, string | undefined>,
  signal: AbortSignal,
  deadline: number,
): Promise<Record<string, ListenerFacts>> {
  const byTarget = new Map<string, PortMatrixCell[]>();
  for (const c of cells) {
    const seen = listening[c.to];
    if (c.state !== 'refused' || !hosts.has(c.to) || !seen || seen.includes(c.port)) continue;
    const list = byTarget.get(c.to);
    if (list) list.push(c);
    else byTarget.set(c.to, [c]);
  }
  const listeners: Record<string, ListenerFacts> = {};
  const left = deadline - performance.now();
  if (left < 600 || signal.aborted || byTarget.size === 0) return listeners;
  const perProbe = Math.max(300, Math.min(2000, Math.floor(left / 4)));
  // Every target's listener first, then ONE round of dials for all of them (a batch per source,
  // as the first round): one round per target would cost the tool n² channels on a large site.
  const up = await Promise.all(
    [...byTarget].map(async ([to, refused]) => {
      const ports = [...new Set(refused.map((c) => c.port))];
      const expected: Record<number, number> = {};
      for (const c of refused) expected[c.port] = (expected[c.port] ?? 0) + 1;
      // Held until every expected dial came, at most for what is left of the budget.
      const holdMs = Math.max(perProbe + 1500, Math.floor(deadline - performance.now()) - 200);
      const l = await startProofListener(hosts.get(to)!, ports, { expected, holdMs, readyMs: Math.min(1500, Math.floor(left / 3)), signal, bindAddress: address.get(to) });
      listeners[to] = { bound: l.bound, errors: { ...l.errors } };
      return { to, l, again: refused.filter((c) => l.bound.includes(c.port)) };
    }),
  );
  const again = up.flatMap((u) => u.again);
  if (again.length) {
    const { cells: retried } = await dialAll(again, hosts, address, signal, perProbe);
    again.forEach((c, i) => (c.retry = { state: retried[i]!.state, ...(retried[i]!.error ? { error: retried[i]!.error } : {}) }));
  }
  await Promise.all(
    up.map(async ({ to, l }) => {
      // The listener ends once every port got its dials, else after its hold time on its own:
      // wait a moment for it, not for its hold time.
      const final = await Promise.race([l.done, new Promise<undefined>((r) => void setTimeout(() => r(undefined), Math.max(0, Math.min(500, deadline - performance.now()))).unref())]);
      // Its own words for the ports it could not bind (e.g. Permission denied below 1024 without root).
      if (final) for (const [p, why] of Object.entries(final)) if (!l.bound.includes(Number(p))) listeners[to]!.errors[p] = why;
    }),
  );
  return listeners;
}

export const sitePortMatrixCheck = defineSiteCheck<PortMatrixFacts>({
  id: 'site.port-matrix',
  category: 'network',
  title: 'Nodes reach each other on the ports their roles need',
  async probe(ctx) {
    const { signal, ms } = budget(ctx);
    const deadline = performance.now() + ms;
    const plan = planPortMatrix(ctx.profile, ctx.nodes.map((n) => n.info));
    const hosts = new Map(reached(ctx).map((r) => [r.name, r.host]));
    const address = new Map(ctx.nodes.map((n) => [n.info.name, n.info.address]));
    // A filtered port costs its whole timeout: keep each probe to a fraction of the budget
    // (a second dial may follow, with a temporary listener up: see proveRefused).
    const perProbe = Math.max(300, Math.min(2000, Math.floor(ms / 4)));
    const { cells, listenedBySweep } = await dialAll(plan, hosts, address, signal, perProbe);
    // A sweeping node reported its own listening ports; the other targets are asked apart.
    const targets = [...new Set(plan.map((p) => p.to))];
    const listening = await listeningOn(
      targets.filter((t) => !listenedBySweep[t]),
      hosts,
      signal,
    );
    for (const t of targets) if (listenedBySweep[t]) listening[t] = listenedBySweep[t]!;
    const listeners = await proveRefused(cells, listening, hosts, address, signal, deadline);
    return { cells, listening, listeners };
  },
  judge: (f) => judgePortMatrix(f),
});

export const siteCheckList = [siteHostnamesCheck, siteClockSkewCheck, sitePortMatrixCheck];
