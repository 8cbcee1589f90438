// Network namespaces the tests create for themselves: separate "hosts" on one
// machine. Every address used lies inside 10.200.0.0/13, which is first made
// unreachable on the host so nothing can leave the machine.
import { execFileSync } from 'node:child_process';

const GUARD = '10.200.0.0/13';

function ip(args: string[], allowFail = false): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (allowFail) return '';
    throw new Error(`ip ${args.join(' ')}: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
}

/** Blackholes 10.200.0.0/13 on the host (idempotent; left in place for parallel tests). */
export function guardRoute(): void {
  const routes = ip(['route', 'show', GUARD], true);
  if (!routes.includes('unreachable')) ip(['route', 'add', 'unreachable', GUARD], true);
}

export interface Namespace {
  name: string;
  /** Address of the namespace end of the veth. */
  address: string;
  /** Address of the host end (the host reaches the namespace through it). */
  hostAddress: string;
  /** argv prefix to run a command inside the namespace. */
  exec: string[];
  destroy(): void;
}

/**
 * Creates namespace `name` joined to the host by a veth pair on subnet
 * `prefix`.0/24 (e.g. prefix '10.202.3': host .1, namespace .2). The namespace
 * gets loopback up and an unreachable default route.
 */
export function createNamespace(name: string, prefix: string): Namespace {
  if (!/^10\.20[0-7]\.\d{1,3}$/.test(prefix)) throw new Error(`namespace subnet ${prefix} must lie inside ${GUARD}`);
  if (name.length > 12) throw new Error(`namespace name ${name} too long (veth names derive from it)`);
  guardRoute();
  const vh = `vh${name}`.slice(0, 15);
  const vn = `vn${name}`.slice(0, 15);
  const hostAddress = `${prefix}.1`;
  const address = `${prefix}.2`;
  // Clean leftovers of an earlier crashed run of the same name.
  ip(['netns', 'del', name], true);
  ip(['link', 'del', vh], true);
  ip(['netns', 'add', name]);
  try {
    ip(['link', 'add', vh, 'type', 'veth', 'peer', 'name', vn]);
    ip(['link', 'set', vn, 'netns', name]);
    ip(['addr', 'add', `${hostAddress}/24`, 'dev', vh]);
    ip(['link', 'set', vh, 'up']);
    ip(['-n', name, 'addr', 'add', `${address}/24`, 'dev', vn]);
    ip(['-n', name, 'link', 'set', vn, 'up']);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
    ip(['-n', name, 'route', 'add', 'unreachable', 'default']);
  } catch (err) {
    destroyNamespace(name, vh);
    throw err;
  }
  return {
    name,
    address,
    hostAddress,
    exec: ['ip', 'netns', 'exec', name],
    destroy: () => destroyNamespace(name, vh),
  };
}

function destroyNamespace(name: string, vh: string): void {
  const pids = ip(['netns', 'pids', name], true).split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  ip(['netns', 'del', name], true);
  ip(['link', 'del', vh], true);
}

/** Runs a command inside the namespace (synchronously), returning stdout. */
export function nsExec(ns: Namespace, argv: string[]): string {
  return execFileSync(ns.exec[0]!, [...ns.exec.slice(1), ...argv], { encoding: 'utf8' });
}

/** Several namespaces on one LAN: a bridge inside a "switch" namespace, the host attached too. */
export interface Lan {
  /** Host's address on the LAN (prefix.1). */
  hostAddress: string;
  nodes: Namespace[];
  destroy(): void;
}

/**
 * Creates namespaces `names` on LAN `prefix`.0/24 (host .1, nodes .10, .11, ...). The
 * bridge lives in its own namespace (`switchName`), so node-to-node traffic never
 * passes the host's firewall; every namespace keeps an unreachable default route.
 * Names must be short and unique per test run (include the pid).
 */
export function createLan(prefix: string, switchName: string, names: string[]): Lan {
  if (!/^10\.20[0-7]\.\d{1,3}$/.test(prefix)) throw new Error(`LAN subnet ${prefix} must lie inside ${GUARD}`);
  for (const n of [switchName, ...names]) if (n.length > 12) throw new Error(`namespace name ${n} too long (veth names derive from it)`);
  guardRoute();
  const created: string[] = [];
  const hostVeth = `vh${switchName}`.slice(0, 15);
  const destroy = () => {
    for (const n of [...created].reverse()) destroyNamespace(n, `vh${n}`.slice(0, 15));
    ip(['link', 'del', hostVeth], true);
  };
  const nodes: Namespace[] = [];
  try {
    for (const n of [switchName, ...names]) {
      ip(['netns', 'del', n], true);
      ip(['netns', 'add', n]);
      created.push(n);
      ip(['-n', n, 'link', 'set', 'lo', 'up']);
    }
    ip(['-n', switchName, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', switchName, 'link', 'set', 'br0', 'up']);
    // Host end: a veth whose peer sits on the bridge.
    ip(['link', 'del', hostVeth], true);
    ip(['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'up0']);
    ip(['link', 'set', 'up0', 'netns', switchName]);
    ip(['-n', switchName, 'link', 'set', 'up0', 'master', 'br0', 'up']);
    ip(['addr', 'add', `${prefix}.1/24`, 'dev', hostVeth]);
    ip(['link', 'set', hostVeth, 'up']);
    names.forEach((n, i) => {
      const address = `${prefix}.${10 + i}`;
      const port = `p${i}`;
      ip(['-n', switchName, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n]);
      ip(['-n', switchName, 'link', 'set', port, 'master', 'br0', 'up']);
      ip(['-n', n, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      ip(['-n', n, 'link', 'set', 'eth0', 'up']);
      ip(['-n', n, 'route', 'add', 'unreachable', 'default']);
      nodes.push({ name: n, address, hostAddress: `${prefix}.1`, exec: ['ip', 'netns', 'exec', n], destroy: () => destroyNamespace(n, `vh${n}`.slice(0, 15)) });
    });
  } catch (err) {
    destroy();
    throw err;
  }
  return { hostAddress: `${prefix}.1`, nodes, destroy };
}
