// Pure judgement of the node-to-node port matrix (site.port-matrix): which node must
// reach which port of which peer, and what the probes prove. Facts in, results out.
//
// What a probe proves: "open" proves the path. "filtered" (no answer) and "unreachable"
// prove it blocked. "refused" proves little by itself: a port nothing listens on refuses,
// and so does a firewall that rejects. It counts as open only when a temporary listener on
// the target (see proof-listener.ts) then accepted the same connection; refused again
// while the port listened means a firewall rejects. Without that proof, or without the
// target's facts (it could not be logged into), the path is "not proven": warn, never pass.
import type { Role } from '../../../schema/common.ts';
import type { Profile } from '../../../schema/profile.ts';
import type { Judgement, NodeInfo, TcpProbeResult } from '../../types.ts';

export interface PortProbe {
  from: string;
  to: string;
  port: number;
  purpose: string;
}

/** Expands a port spec; ranges wider than this are represented by their first port. */
const MAX_RANGE_EXPANSION = 8;

function portsOf(spec: { port: number | string }): number[] {
  if (typeof spec.port === 'number') return [spec.port];
  const [a, b] = spec.port.split('-').map(Number) as [number, number];
  if (b - a + 1 > MAX_RANGE_EXPANSION) return [a];
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/**
 * Which node must reach which port of which other node: every TCP port of a
 * target's roles with `peers`, from every other node holding one of those roles.
 * A target without an address cannot be dialled and is left out.
 */
export function planPortMatrix(profile: Profile, nodes: NodeInfo[]): PortProbe[] {
  const seen = new Set<string>();
  const out: PortProbe[] = [];
  for (const target of nodes) {
    if (!target.address) continue;
    for (const role of target.roles) {
      for (const spec of profile.roles[role].ports) {
        if (!spec.peers || spec.protocol === 'udp') continue;
        if (spec.cni && spec.cni !== profile.cni) continue;
        for (const port of portsOf(spec)) {
          for (const source of nodes) {
            if (source.name === target.name) continue;
            if (!source.roles.some((r: Role) => spec.peers!.includes(r))) continue;
            const key = `${source.name}>${target.name}:${port}`;
            if (seen.has(key)) continue;
            seen.add(key);
            out.push({ from: source.name, to: target.name, port, purpose: spec.purpose });
          }
        }
      }
    }
  }
  return out;
}

export interface PortMatrixCell extends PortProbe {
  /** 'untested' when the source node was not reached or time ran out. */
  state: TcpProbeResult['state'] | 'untested';
  via?: TcpProbeResult['via'];
  error?: string;
  ms?: number;
  /** A refused probe dialled again while a temporary listener held the port on the target. */
  retry?: { state: TcpProbeResult['state'] | 'untested'; error?: string };
}

/** The temporary listener on one target node: ports it listened on, and why others could not be. */
export interface ListenerFacts {
  bound: number[];
  errors: Record<string, string>;
}

export interface PortMatrixFacts {
  cells: PortMatrixCell[];
  /** Target node -> TCP ports something listens on there (null: not read). */
  listening: Record<string, number[] | null>;
  /** Target node -> its temporary listener, where refused probes were proven. */
  listeners?: Record<string, ListenerFacts>;
}

export type CellVerdict = 'ok' | 'proven' | 'unproven' | 'blocked' | 'rejected' | 'untested' | 'error';

/**
 * ok: open. proven: refused at first, open with a temporary listener. unproven: refused,
 * and nothing shows whether a service or a firewall refused. rejected: refused although the
 * port listened (a firewall rejects). blocked: filtered, unreachable or unresolvable.
 */
export function cellVerdict(c: PortMatrixCell, listening: number[] | null | undefined): CellVerdict {
  switch (c.state) {
    case 'open':
      return 'ok';
    case 'refused':
      if (listening?.includes(c.port)) return 'rejected';
      if (c.retry?.state === 'open') return 'proven';
      if (c.retry?.state === 'refused') return 'rejected';
      if (c.retry && ['filtered', 'unreachable', 'dns'].includes(c.retry.state)) return 'blocked';
      return 'unproven';
    case 'filtered':
    case 'unreachable':
    case 'dns':
      return 'blocked';
    case 'untested':
      return 'untested';
    default:
      return 'error';
  }
}

function describeCell(c: PortMatrixCell, v: CellVerdict): string {
  const via = c.via === 'ssh-shell' ? ', shell probe: forwarding disabled on the source' : '';
  if (v === 'rejected') return `${c.from} (refused although the port listened${c.retry ? ' (a temporary listener)' : ''}: a firewall rejects${via})`;
  if (v === 'blocked' && c.state === 'refused') return `${c.from} (${c.retry!.state} while a temporary listener held the port${via})`;
  if (c.state === 'filtered') return `${c.from} (filtered: no answer${via})`;
  return `${c.from} (${c.state}${c.error ? `: ${c.error}` : ''}${via})`;
}

/** Why refused connections to `to`:`port` prove nothing: the target's facts are missing, or no listener came up. */
function unprovenReason(to: string, port: number, f: PortMatrixFacts): string {
  if (f.listening[to] === null || f.listening[to] === undefined) return `nothing could be read on ${to} (not logged in), so a closed port and a rejecting firewall look the same`;
  const err = f.listeners?.[to]?.errors[String(port)];
  return `nothing listens there yet, and a rejecting firewall also refuses${err ? `; no temporary listener could prove it (${err})` : ''}`;
}

/** One result per target node and port: who cannot reach it, refused vs filtered, proven or not. */
export function judgePortMatrix(f: PortMatrixFacts): Judgement[] {
  const groups = new Map<string, PortMatrixCell[]>();
  for (const c of f.cells) {
    const k = `${c.to}\u0000${c.port}`;
    const g = groups.get(k);
    if (g) g.push(c);
    else groups.set(k, [c]);
  }
  if (groups.size === 0) return [{ status: 'skip', message: 'no node-to-node ports to test (fewer than two nodes with peer ports, or no addresses)', facts: { cells: 0 } }];
  return [...groups.values()].map((cells) => judgeTargetPort(cells, f));
}

function judgeTargetPort(cells: PortMatrixCell[], f: PortMatrixFacts): Judgement {
  const { to, port, purpose } = cells[0]!;
  const listening = f.listening[to];
  const verdicts = cells.map((c) => ({ c, v: cellVerdict(c, listening) }));
  const having = (...vs: CellVerdict[]) => verdicts.filter((x) => vs.includes(x.v));
  const [blocked, errors, untested, unproven, proven] = [having('blocked', 'rejected'), having('error'), having('untested'), having('unproven'), having('proven')];
  const shell = cells.some((c) => c.via === 'ssh-shell') ? ' (some sources probed with a shell probe: their sshd forbids forwarding)' : '';
  const facts = {
    port,
    purpose,
    listening: listening === null || listening === undefined ? null : listening.includes(port),
    from: Object.fromEntries(cells.map((c) => [c.from, c.state])),
    ...(cells.some((c) => c.retry) ? { withListener: Object.fromEntries(cells.filter((c) => c.retry).map((c) => [c.from, c.retry!.state])) } : {}),
    ...(cells.some((c) => c.via === 'ssh-shell') ? { via: Object.fromEntries(cells.map((c) => [c.from, c.via ?? null])) } : {}),
  };
  const base = { id: `site.port-matrix[${to}:${port}]`, node: to, facts };
  const names = (xs: { c: PortMatrixCell }[]) => xs.map((x) => x.c.from).join(', ');
  const untestedNote = untested.length ? `; not tested from ${names(untested)}` : '';
  if (blocked.length > 0) {
    return {
      ...base,
      status: 'fail',
      message: `${purpose} ${to}:${port} not reachable from ${blocked.map((x) => describeCell(x.c, x.v)).join(', ')}`,
      remediation: `open TCP ${port} on ${to} for ${names(blocked)} (host firewall, security groups, switch ACLs)`,
    };
  }
  if (errors.length > 0) return { ...base, status: 'error', message: `${purpose} ${to}:${port}: probe failed from ${errors.map((x) => describeCell(x.c, x.v)).join(', ')}${shell}` };
  if (untested.length === cells.length) return { ...base, status: 'skip', message: `${purpose} ${to}:${port}: no source node could test it (${names(untested)})` };
  if (unproven.length > 0) {
    return {
      ...base,
      status: 'warn',
      message: `${purpose} ${to}:${port}: path not proven from ${names(unproven)}: connections were refused, but ${unprovenReason(to, port, f)}${untestedNote}${shell}`,
      remediation: `re-run once ${to} can be logged into (with root or ssh.sudo for ports below 1024, and python3 or perl on it), or check that no firewall on ${to} or between the nodes rejects TCP ${port}`,
    };
  }
  const reached = cells.length - untested.length;
  const provenNote = proven.length ? `; nothing listens yet: proven with a temporary listener on ${to}` : '';
  return { ...base, status: 'pass', message: `${purpose} ${to}:${port} reachable from ${reached} ${reached === 1 ? 'peer' : 'peers'}${provenNote}${untestedNote}${shell}` };
}

/** TCP ports in LISTEN state from /proc/net/tcp and /proc/net/tcp6 text. */
export function listeningPorts(procNetTcp: string): number[] {
  const ports = new Set<number>();
  for (const line of procNetTcp.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue; // st 0A = TCP_LISTEN
    const port = parseInt(f[1]!.split(':').pop()!, 16);
    if (Number.isInteger(port)) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}
