// Pure judgements of the fleet checks: SSH connection phases, hostnames across
// the site, clock skew between nodes, and the node-to-node port matrix. Facts in,
// results out: tested on recorded facts, no machine needed.
import type { Judgement } from '../../types.ts';
import type { SshConnectFacts } from '../../hosts/ssh/facts.ts';

// ---------------------------------------------------------------- ssh.*

const unreachableSkip = (what: string, f: SshConnectFacts): Judgement => ({
  status: 'skip',
  message: `not checked: ${what} (${f.tcp.ok ? 'SSH handshake failed' : 'node unreachable'})`,
  facts: { ...f },
});

export function judgeReachable(f: SshConnectFacts): Judgement {
  const where = `${f.address}:${f.port}`;
  if (!f.tcp.ok) {
    return {
      status: 'fail',
      message: `cannot reach ${where}: ${f.tcp.error ?? 'no answer'}`,
      remediation:
        f.tcp.state === 'refused'
          ? `start sshd on the node (systemctl start ssh/sshd) or fix ssh.port in the site file`
          : `check that the node is up and that firewalls between here and ${where} allow SSH`,
      facts: { ...f },
    };
  }
  // The server presented a host key: the SSH handshake ran, whatever we then thought of the key.
  if (f.handshake.ok || f.hostKey.type) {
    return { status: 'pass', message: `SSH answers on ${where}${f.handshake.serverVersion ? ` (${f.handshake.serverVersion})` : ''} in ${f.tcp.ms ?? '?'} ms`, facts: { ...f } };
  }
  return {
    status: 'fail',
    message: `TCP ${where} connects but the SSH handshake failed: ${f.handshake.error ?? 'no SSH banner'}`,
    remediation: 'check that sshd (not another service) listens on that port and that MaxStartups is not exhausted',
    facts: { ...f },
  };
}

export function judgeHostKey(f: SshConnectFacts, node: string): Judgement {
  const hk = f.hostKey;
  const presented = hk.type ? `${hk.type} ${hk.fingerprint}` : '';
  switch (hk.status) {
    case 'known':
      return { status: 'pass', message: `host key ${presented} matches ${hk.file}:${hk.line}`, facts: { hostKey: hk } };
    case 'added':
      return { status: 'pass', message: `new host key ${presented} recorded in ${hk.file}:${hk.line} (--accept-new-host-keys)`, facts: { hostKey: hk } };
    case 'unknown':
      return {
        status: 'fail',
        message: `host key of ${node} is not in ${hk.file}: presented ${presented}${hk.error ? ` (${hk.error})` : ''}`,
        remediation: `compare ${hk.fingerprint} with 'ssh-keygen -lf /etc/ssh/ssh_host_${(hk.type ?? 'ed25519').replace(/^ssh-|-sha2-nistp\d+$/g, '')}_key.pub' on the node's console, then re-run with --accept-new-host-keys`,
        facts: { hostKey: hk },
      };
    case 'changed': {
      const expected = (hk.expected ?? []).map((e) => `${e.type} ${e.fingerprint} (${hk.file}:${e.line})`).join(', ');
      return {
        status: 'fail',
        message: `HOST KEY CHANGED for ${node} (${f.address}:${f.port}): expected ${expected}, presented ${presented}; refused`,
        remediation: `if the node was reinstalled, verify the new fingerprint on its console, then remove the old entry: ssh-keygen -R '${f.port === 22 ? f.address : `[${f.address}]:${f.port}`}' -f ${hk.file}. Otherwise suspect a man-in-the-middle.`,
        facts: { hostKey: hk },
      };
    }
    case 'revoked':
      return { status: 'fail', message: `host key ${presented} of ${node} is revoked (${hk.file}:${hk.line}); refused`, facts: { hostKey: hk } };
    default:
      return unreachableSkip('host key', f);
  }
}

export function judgeAuth(f: SshConnectFacts): Judgement {
  if (f.auth.ok) return { status: 'pass', message: `authenticated as ${f.user} (${f.auth.method})`, facts: { auth: f.auth, user: f.user } };
  if (['changed', 'revoked', 'unknown'].includes(f.hostKey.status)) {
    return { status: 'skip', message: 'not attempted: the host key was refused (see ssh.hostkey)', facts: { auth: f.auth, user: f.user } };
  }
  if (!f.handshake.ok) return unreachableSkip('authentication', f);
  return {
    status: 'fail',
    message: f.auth.error ?? `authentication as ${f.user} failed`,
    remediation: authRemediation(f),
    facts: { auth: f.auth, user: f.user },
  };
}

/**
 * The site's own references first (an unset variable, an unreadable key): those are fixed
 * here, not on the node. authorized_keys only when the server refused what was offered.
 */
function authRemediation(f: SshConnectFacts): string {
  const own = (f.auth.problems ?? []).map((p) => p.fix);
  const node = `add the public key to ~${f.user}/.ssh/authorized_keys on the node, or set ssh.keyFile / ssh.passwordEnv in the site file`;
  if (own.length === 0) return node;
  return f.auth.tried.length > 0 ? [...own, `then, if the server still refuses: ${node}`].join('\n') : own.join('\n');
}

export interface SudoFacts {
  /** Not measured when the node was not reached. */
  uid?: number;
  ok?: boolean;
  detail?: string;
  sudoConfigured: boolean;
  unreachable?: string;
}

export function judgeSudo(f: SudoFacts, user: string): Judgement {
  if (f.unreachable) return { status: 'skip', message: `not checked: ${f.unreachable}`, facts: { ...f, notChecked: f.unreachable } };
  if (f.uid === 0) return { status: 'pass', message: `logged in as root`, facts: { ...f } };
  if (f.ok) {
    return {
      status: 'pass',
      message: `${user} may run sudo without a password${f.sudoConfigured ? '' : ' (set ssh.sudo: true so root-only checks use it)'}`,
      facts: { ...f },
    };
  }
  return {
    status: 'fail',
    message: `${user} cannot run 'sudo -n true': ${f.detail ?? 'refused'}`,
    remediation:
      (f.detail === 'sudo is not installed' ? 'as root on the node: install sudo (apt-get install sudo / dnf install sudo), then ' : 'on the node: ') +
      `echo '${user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/${user.replace(/[^A-Za-z0-9_-]/g, '_')} as root (the installer needs root), or connect as root`,
    facts: { ...f },
  };
}

// ---------------------------------------------------------------- site.hostnames

export interface HostnameSample {
  node: string;
  hostname?: string;
  error?: string;
}

export function judgeHostnames(samples: HostnameSample[]): Judgement[] {
  const byName = new Map<string, string[]>();
  for (const s of samples) {
    if (s.hostname === undefined) continue;
    const key = s.hostname.toLowerCase(); // Kubernetes node names are lowercase: Node1 and node1 collide
    byName.set(key, [...(byName.get(key) ?? []), s.node]);
  }
  const missing = samples.filter((s) => s.hostname === undefined);
  const note = missing.length ? `; not read on ${missing.map((s) => s.node).join(', ')}` : '';
  const dups = [...byName].filter(([, nodes]) => nodes.length > 1);
  const facts = {
    hostnames: Object.fromEntries(samples.map((s) => [s.node, s.hostname ?? null])),
    errors: Object.fromEntries(samples.filter((s) => s.error).map((s) => [s.node, s.error])),
  };
  if (dups.length === 0) {
    return [
      {
        status: byName.size === 0 ? 'skip' : 'pass',
        message: byName.size === 0 ? `no hostname could be read${note}` : `${byName.size} ${byName.size === 1 ? 'hostname' : 'hostnames, all'} unique${note}`,
        facts,
      },
    ];
  }
  return dups.map(([name, nodes]) => ({
    id: `site.hostnames[${name}]`,
    status: 'fail',
    message: `nodes ${nodes.join(', ')} share the hostname '${name}' (Kubernetes node names must be unique)${note}`,
    remediation: `give each node its own name: sudo hostnamectl set-hostname <node name> on ${nodes.slice(1).join(', ')}`,
    facts: { ...facts, duplicate: name, nodes },
  }));
}

// ---------------------------------------------------------------- site.clock-skew

export interface ClockSample {
  node: string;
  /** Node clock minus local clock, corrected by half the round trip (ms). */
  offsetMs?: number;
  /** Round trip of the best sample: the offset is exact to +- rttMs/2. */
  rttMs?: number;
  error?: string;
}

export function judgeClockSkew(samples: ClockSample[], maxSkewMs: number): Judgement[] {
  const ok = samples.filter((s): s is ClockSample & { offsetMs: number } => typeof s.offsetMs === 'number');
  const facts = {
    maxSkewMs,
    offsetsMs: Object.fromEntries(samples.map((s) => [s.node, s.offsetMs === undefined ? null : Math.round(s.offsetMs)])),
    rttMs: Object.fromEntries(ok.map((s) => [s.node, s.rttMs ?? null])),
    errors: Object.fromEntries(samples.filter((s) => s.error).map((s) => [s.node, s.error])),
  };
  const missing = samples.filter((s) => s.offsetMs === undefined).map((s) => s.node);
  const note = missing.length ? `; not read on ${missing.join(', ')}` : '';
  if (ok.length < 2) {
    return [{ status: 'skip', message: `fewer than two nodes answered, no skew to measure${note}`, facts }];
  }
  const min = ok.reduce((a, b) => (b.offsetMs < a.offsetMs ? b : a));
  const max = ok.reduce((a, b) => (b.offsetMs > a.offsetMs ? b : a));
  const skew = Math.round(max.offsetMs - min.offsetMs);
  const uncertainty = Math.round(((min.rttMs ?? 0) + (max.rttMs ?? 0)) / 2);
  if (skew < maxSkewMs) {
    return [{ status: 'pass', message: `clocks of ${ok.length} nodes agree within ${skew} ms (+-${uncertainty} ms, limit ${maxSkewMs} ms)${note}`, facts: { ...facts, skewMs: skew } }];
  }
  return [
    {
      status: 'fail',
      message: `clock skew ${skew} ms between ${max.node} (ahead) and ${min.node} exceeds ${maxSkewMs} ms${note}`,
      remediation: 'synchronise every node with the same NTP servers (chrony/systemd-timesyncd) and check time.sync on each node; etcd and TLS fail with skewed clocks',
      facts: { ...facts, skewMs: skew, ahead: max.node, behind: min.node },
    },
  ];
}

// ---------------------------------------------------------------- site.port-matrix

export * from './port-matrix-rules.ts';
