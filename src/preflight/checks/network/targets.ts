// network.targets (extra host:port endpoints from the site) and storage.nfs
// (the NFS server's port 2049, and its export list when showmount exists).
import { defineCheck, type Judgement } from '../../types.ts';
import { describeTcpState, parseHostPort, probeTcp, type TcpReach } from '../../net/tcp.ts';
import { run, shq } from '../kernel/host-io.ts';

/** The share of the check's time a single network step may use (the rest is for the verdict). */
export function stepTimeout(timeoutMs: number): number {
  return Math.max(200, Math.floor(timeoutMs * 0.7));
}

export interface TargetsFacts {
  targets: (TcpReach | { target: string; state: 'invalid' })[];
}

function reachJudgement(id: string, r: TcpReach, what: string): Judgement {
  const facts = { ...r };
  if (r.state === 'open') return { id, status: 'pass', message: `${what} ${r.host}:${r.port} is ${describeTcpState(r)}${r.via === 'ssh-shell' ? ' (checked with a shell probe: sshd forbids forwarding)' : ''}`, facts };
  const fix: Record<string, string> = {
    refused: `nothing listens on ${r.host}:${r.port}, or its firewall rejects this node: start the service, or open the port on ${r.host} (e.g. firewall-cmd --permanent --add-port=${r.port}/tcp && firewall-cmd --reload)`,
    filtered: `packets to ${r.host}:${r.port} are dropped: ask the network team to allow this node -> ${r.host}:${r.port}/tcp, and check the host firewall on ${r.host}`,
    dns: `${r.host} does not resolve on this node: add it to DNS or /etc/hosts (see dns.resolvers)`,
    unreachable: `no route from this node to ${r.host}: check the node's routes and gateway (ip route get ${r.host})`,
  };
  return { id, status: 'fail', message: `${what} ${r.host}:${r.port} is ${describeTcpState(r)}`, remediation: fix[r.state] ?? `check connectivity to ${r.host}:${r.port}`, facts };
}

export const networkTargets = defineCheck<TargetsFacts>({
  id: 'network.targets',
  category: 'network',
  title: 'Extra endpoints are reachable',
  async probe(ctx) {
    const targets = ctx.site?.network?.targets ?? [];
    const timeoutMs = stepTimeout(ctx.timeoutMs);
    return {
      targets: await Promise.all(
        targets.map(async (t) => {
          const hp = parseHostPort(t);
          if (!hp) return { target: t, state: 'invalid' as const };
          return await probeTcp(ctx.host, hp.host, hp.port, { timeoutMs, signal: ctx.signal });
        }),
      ),
    };
  },
  judge(f): Judgement[] {
    if (f.targets.length === 0) return [{ status: 'skip', message: 'the site file lists no network.targets', facts: {} }];
    return f.targets.map((r) => {
      if (!('port' in r)) return { id: `network.targets[${r.target}]`, status: 'fail' as const, message: `target '${r.target}' is not host:port`, remediation: 'write targets as host:port, e.g. git.acme.local:443', facts: { ...r } };
      const id = `network.targets[${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}]`;
      return reachJudgement(id, r, 'target');
    });
  },
});

export interface NfsFacts {
  server?: string;
  path?: string;
  reach?: TcpReach;
  /** Export paths from `showmount -e`; null when showmount is absent or failed. */
  exports: string[] | null;
  showmountError?: string;
}

export const storageNfs = defineCheck<NfsFacts>({
  id: 'storage.nfs',
  category: 'storage',
  title: 'NFS server is reachable',
  async probe(ctx) {
    const nfs = ctx.site?.storage?.nfs;
    if (!nfs) return { exports: null };
    const timeoutMs = stepTimeout(ctx.timeoutMs);
    const reach = await probeTcp(ctx.host, nfs.server, 2049, { timeoutMs, signal: ctx.signal });
    let exports: string[] | null = null;
    let showmountError: string | undefined;
    if (reach.state === 'open') {
      const r = await run(ctx, ['sh', '-c', `command -v showmount >/dev/null || exit 127; exec timeout ${Math.max(1, Math.floor(timeoutMs / 1000))} showmount -e --no-headers ${shq(nfs.server)}`]);
      if (r && r.code === 0) exports = r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter(Boolean);
      else if (r) showmountError = (r.stderr.trim() || `exit ${r.code}`).split('\n')[0];
    }
    return { server: nfs.server, path: nfs.path, reach, exports, showmountError };
  },
  judge(f): Judgement {
    if (!f.server || !f.reach) return { status: 'skip', message: 'the site file names no storage.nfs server', facts: {} };
    const base = reachJudgement('storage.nfs', f.reach, 'NFS server');
    const facts = { ...f };
    if (base.status !== 'pass') return { ...base, facts };
    if (f.exports === null) {
      return { status: 'pass', message: `${base.message}; export list not checked (${f.showmountError ?? 'showmount is not installed: apt install nfs-common / dnf install nfs-utils'})`, facts };
    }
    if (f.path && !f.exports.includes(f.path)) {
      return {
        status: 'fail',
        message: `NFS server ${f.server} answers but does not export ${f.path} (exports: ${f.exports.join(', ') || 'none'})`,
        remediation: `on ${f.server}: add '${f.path} <node-subnet>(rw,sync,no_root_squash)' to /etc/exports, then exportfs -ra`,
        facts,
      };
    }
    return { status: 'pass', message: `${base.message}; exports ${f.path}`, facts };
  },
});
