// ports.free: the ports the node's roles need are not taken by another process.
import { defineCheck, type Judgement, type ProbeContext } from '../../types.ts';
import { parseFdScan, parseProcNet, parseSs, type Listener, type SocketOwner } from '../../net/listeners.ts';
import { read, run } from '../kernel/host-io.ts';
import { requiredPorts, type PortNeed } from './required-ports.ts';

export interface PortsFacts {
  /** Listening sockets on required ports, with the owner when it could be known. */
  taken: (Listener & { owner?: SocketOwner })[];
  /** How owners were found: /proc fd scan (root), ss (own processes), or not at all. */
  ownerSource: 'proc' | 'ss' | 'none';
  tablesRead: string[];
}

/** Process names that mean "this Kubernetes component already holds its own port" (a re-run after install). */
const EXPECTED: Record<string, RegExp> = {
  'Kubernetes API server': /^kube-apiserver/,
  'etcd client and peer': /^etcd/,
  'kubelet API': /^kubelet/,
  'kube-controller-manager': /^kube-controller/,
  'kube-scheduler': /^kube-scheduler/,
  'Calico BGP': /^(bird|calico)/,
  'NodePort services': /^kube-proxy/,
};

/** The program name of a pid: argv[0]'s base name (threads may rename comm, e.g. node's "MainThread"), else comm. */
async function processName(ctx: ProbeContext, pid: number): Promise<string> {
  const argv0 = ((await read(ctx, `/proc/${pid}/cmdline`, 65536)) ?? '').split('\0')[0];
  if (argv0) return argv0.split('/').pop()!.split(' ')[0]!.replace(/:$/, '');
  return ((await read(ctx, `/proc/${pid}/comm`)) ?? '?').trim();
}

function covers(n: PortNeed, l: Listener): boolean {
  return l.protocol === n.protocol && l.port >= n.from && l.port <= n.to;
}

export const portsFree = defineCheck<PortsFacts>({
  id: 'ports.free',
  category: 'network',
  title: 'Required ports are free',
  gather: () => ({ files: ['/proc/net/tcp', '/proc/net/tcp6', '/proc/net/udp', '/proc/net/udp6'] }),
  async probe(ctx) {
    const needs = requiredPorts(ctx.profile, ctx.node.roles);
    const listeners: Listener[] = [];
    const tablesRead: string[] = [];
    const tables = [['tcp', 'tcp'], ['tcp6', 'tcp'], ['udp', 'udp'], ['udp6', 'udp']] as const;
    const texts = await Promise.all(tables.map(([file]) => read(ctx, `/proc/net/${file}`)));
    tables.forEach(([file, proto], i) => {
      if (texts[i] === null) return;
      tablesRead.push(file);
      listeners.push(...parseProcNet(texts[i]!, proto));
    });
    const taken = listeners.filter((l) => needs.some((n) => covers(n, l)));
    // One entry per proto:port (0.0.0.0 and :: twins count once).
    const seen = new Set<string>();
    const unique = taken.filter((l) => (seen.has(`${l.protocol}:${l.port}`) ? false : (seen.add(`${l.protocol}:${l.port}`), true)));
    let ownerSource: PortsFacts['ownerSource'] = 'none';
    const withOwner: PortsFacts['taken'] = unique.map((l) => ({ ...l }));
    if (unique.length) {
      if (ctx.isRoot) {
        const r = await run(ctx, ['sh', '-c', "find /proc/[0-9]*/fd -lname 'socket:*' -printf '%h %l\\n' 2>/dev/null"]);
        const byInode = r ? parseFdScan(r.stdout) : new Map<string, number>();
        if (byInode.size) ownerSource = 'proc';
        await Promise.all(
          withOwner.map(async (l) => {
            const pid = byInode.get(l.inode) ?? taken.filter((t) => t.port === l.port && t.protocol === l.protocol).map((t) => byInode.get(t.inode)).find((p) => p !== undefined);
            if (pid !== undefined) l.owner = { pid, name: await processName(ctx, pid) };
          }),
        );
      }
      if (ownerSource === 'none') {
        const r = await run(ctx, ['ss', '-Hltnup']);
        if (r && r.code === 0) {
          const owners = parseSs(r.stdout);
          if (owners.size) ownerSource = 'ss';
          for (const l of withOwner) l.owner ??= owners.get(`${l.protocol}:${l.port}`);
        }
      }
    }
    return { taken: withOwner, ownerSource, tablesRead };
  },
  judge(f, ctx): Judgement {
    const needs = requiredPorts(ctx.profile, ctx.node.roles);
    const facts = { ...f, required: needs.map((n) => `${n.label} (${n.purpose})`), cni: ctx.profile.cni };
    if (f.tablesRead.length === 0) return { status: 'error', message: 'could not read /proc/net/tcp or /proc/net/udp', facts };
    const conflicts: string[] = [];
    const ownComponents: string[] = [];
    const pids = new Set<number>();
    for (const l of f.taken) {
      const need = needs.find((n) => covers(n, l))!;
      const who = l.owner
        ? `${l.owner.name} (pid ${l.owner.pid})`
        : !ctx.isRoot
          ? 'a process of another user (run as root to name it)'
          : l.protocol === 'udp' && f.ownerSource === 'proc'
            ? 'the kernel, no process (e.g. a VXLAN device: ip -d link show type vxlan)'
            : 'an unknown process';
      const expected = EXPECTED[need.purpose];
      if (l.owner && expected?.test(l.owner.name)) {
        ownComponents.push(`${l.port}/${l.protocol} ${l.owner.name}`);
        continue;
      }
      if (l.owner) pids.add(l.owner.pid);
      conflicts.push(`${l.port}/${l.protocol} (${need.purpose}) is held by ${who} on ${l.address}`);
    }
    if (conflicts.length) {
      const ports = [...new Set(f.taken.map((l) => `${l.protocol === 'tcp' ? '-t' : '-u'} sport = :${l.port}`))];
      return {
        status: 'fail',
        message: `required ports in use: ${conflicts.join('; ')}`,
        remediation:
          `find the service: ss -lnp${ports.length === 1 ? ` ${ports[0]!.slice(3)}` : ''}${pids.size ? `; systemctl status ${[...pids].join(' ')}` : ''}\n` +
          'stop and disable it so it does not come back at boot: systemctl disable --now UNIT (or move it to another port)',
        facts,
      };
    }
    const note = ownComponents.length ? ` (already held by Kubernetes itself: ${ownComponents.join(', ')})` : '';
    return { status: 'pass', message: `${needs.length} required port(s) free: ${needs.map((n) => n.label).join(', ')}${note}`, facts };
  },
});
