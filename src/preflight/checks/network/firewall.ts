// firewall.status (which of firewalld, ufw, nftables, iptables is active) and
// firewall.rules (would the active rules drop the ports this node needs, and
// the exact commands to open them for the firewall in use).
import { defineCheck, type Gather, type Judgement, type JudgeContext, type ProbeContext } from '../../types.ts';
import { needsRoot } from '../../privileges.ts';
import { chainsFromIptables, chainsFromNftJson, evaluatePort, nftInputChains, type Chain, type PortOutcome } from '../../net/firewall-rules.ts';
import { mergeGathers } from '../../hosts/batch.ts';
import { read, run, unitStates, unitStatesGather } from '../kernel/host-io.ts';
import { requiredPorts, type PortNeed } from './required-ports.ts';

export interface FirewallFacts {
  isRoot: boolean;
  /** systemctl is-active per unit (empty without systemd). */
  units: Record<string, string>;
  /** `firewall-cmd --state`: running | not running | null (absent). */
  firewalld: string | null;
  /** `ufw status` first line (root) or ENABLED= from /etc/ufw/ufw.conf. */
  ufw: string | null;
  /** `nft -j list ruleset` parsed, or why not. */
  nft: { json: unknown } | { error: string } | null;
  /** `iptables -S` output, or why not. */
  iptables: { rules: string; backend: 'nf_tables' | 'legacy' | 'unknown' } | { error: string } | null;
}

export type FirewallKind = 'firewalld' | 'ufw' | 'nftables' | 'iptables';

const FIREWALL_UNITS = ['firewalld', 'ufw', 'nftables', 'iptables', 'netfilter-persistent'];

function gatherFirewall(): Gather {
  return mergeGathers([
    unitStatesGather(FIREWALL_UNITS),
    { files: ['/etc/ufw/ufw.conf'], commands: [['firewall-cmd', '--state'], ...[['nft', '-j', 'list', 'ruleset'], ['iptables', '-S'], ['iptables', '-V']].map((argv) => ({ argv, onlyIfRoot: true }))] },
  ]);
}

async function probeFirewall(ctx: ProbeContext): Promise<FirewallFacts> {
  const units = await unitStates(ctx, FIREWALL_UNITS);
  const fwd = await run(ctx, ['firewall-cmd', '--state']);
  const firewalld = fwd ? (fwd.stdout.trim() || fwd.stderr.trim()).split('\n')[0]! : null;
  let ufw: string | null = null;
  if (ctx.isRoot) {
    const u = await run(ctx, ['ufw', 'status']);
    if (u) ufw = u.stdout.split('\n')[0]!.trim() || null;
  }
  if (ufw === null) {
    const conf = await read(ctx, '/etc/ufw/ufw.conf');
    const m = conf ? /^\s*ENABLED\s*=\s*(\w+)/m.exec(conf) : null;
    if (m) ufw = `ENABLED=${m[1]} (/etc/ufw/ufw.conf)`;
  }
  let nft: FirewallFacts['nft'] = null;
  let iptables: FirewallFacts['iptables'] = null;
  if (ctx.isRoot) {
    const n = await run(ctx, ['nft', '-j', 'list', 'ruleset']);
    if (n && n.code === 0) {
      try {
        nft = { json: JSON.parse(n.stdout || '{"nftables":[]}') };
      } catch (err) {
        nft = { error: `nft -j output is not JSON: ${(err as Error).message}` };
      }
    } else if (n) nft = { error: (n.stderr.trim() || `exit ${n.code}`).split('\n')[0]! };
    const i = await run(ctx, ['iptables', '-S']);
    if (i && i.code === 0) {
      const v = await run(ctx, ['iptables', '-V']);
      const backend = v?.stdout.includes('nf_tables') ? 'nf_tables' : v?.stdout.includes('legacy') ? 'legacy' : 'unknown';
      iptables = { rules: i.stdout, backend };
    } else if (i) iptables = { error: (i.stderr.trim() || `exit ${i.code}`).split('\n')[0]! };
  }
  return { isRoot: ctx.isRoot, units, firewalld, ufw, nft, iptables };
}

/**
 * Input chains to evaluate: nftables (covers firewalld and native rules) and
 * iptables. Tables that iptables-nft owns ("ip filter") are read from
 * `iptables -S`, whose match options (multiport...) nft -j shows only as opaque xt.
 */
export function activeChains(f: FirewallFacts): { source: 'nftables' | 'iptables'; chains: Chain[] }[] {
  const out: { source: 'nftables' | 'iptables'; chains: Chain[] }[] = [];
  const ipt = f.iptables && 'rules' in f.iptables ? f.iptables : undefined;
  const nftJson = f.nft && 'json' in f.nft ? f.nft.json : undefined;
  if (nftJson !== undefined) {
    const chains = chainsFromNftJson(nftJson).filter((c) => !(ipt && ipt.backend === 'nf_tables' && /^ip filter /.test(c.name)));
    out.push({ source: 'nftables', chains });
  }
  if (ipt) out.push({ source: 'iptables', chains: chainsFromIptables(ipt.rules) });
  return out;
}

function filters(chains: Chain[]): boolean {
  return chains.some((c) => c.base && (c.policy === 'drop' || c.rules.length > 0));
}

/** Which firewalls are active, strongest evidence first; the first one is "in use". */
export function activeFirewalls(f: FirewallFacts): FirewallKind[] {
  const out: FirewallKind[] = [];
  if (f.firewalld === 'running' || f.units.firewalld === 'active') out.push('firewalld');
  if (/^Status: active/i.test(f.ufw ?? '') || /^ENABLED=yes/i.test(f.ufw ?? '') || f.units.ufw === 'active') out.push('ufw');
  for (const a of activeChains(f)) {
    if (filters(a.chains)) out.push(a.source);
  }
  if (f.units.nftables === 'active' && !out.includes('nftables')) out.push('nftables');
  if ((f.units.iptables === 'active' || f.units['netfilter-persistent'] === 'active') && !out.includes('iptables')) out.push('iptables');
  return out;
}

function knownWithoutRoot(f: FirewallFacts): string {
  const parts: string[] = [];
  for (const [u, s] of Object.entries(f.units)) if (s === 'active') parts.push(`${u} service active`);
  if (f.firewalld) parts.push(`firewall-cmd --state: ${f.firewalld}`);
  if (f.ufw) parts.push(`ufw ${f.ufw}`);
  return parts.length ? parts.join(', ') : 'no firewall service found running';
}

export const firewallStatus = defineCheck<FirewallFacts>({
  id: 'firewall.status',
  category: 'security',
  title: 'Host firewall in use',
  gather: gatherFirewall,
  probe: probeFirewall,
  judge(f, ctx): Judgement {
    const active = activeFirewalls(f);
    const facts = { ...f, active, nft: f.nft && 'error' in f.nft ? f.nft : f.nft ? { tables: 'read' } : null };
    if (!f.isRoot) {
      return needsRoot(ctx, 'firewall.status', `nft and iptables rules are readable only by root; known without root: ${knownWithoutRoot(f)}`, facts);
    }
    if (active.length === 0) return { status: 'pass', message: 'no host firewall filters incoming traffic', facts };
    return { status: 'pass', message: `active: ${active.join(', ')} (${active[0]} manages the rules; see firewall.rules)`, facts };
  },
});

/** Commands that open `needs` for the firewall in use, persistent across reboots. */
export function openPortCommands(kind: FirewallKind | undefined, needs: PortNeed[], f: FirewallFacts): string {
  const range = (n: PortNeed, sep: string) => (n.from === n.to ? `${n.from}` : `${n.from}${sep}${n.to}`);
  switch (kind) {
    case 'firewalld':
      return `firewall-cmd --permanent ${needs.map((n) => `--add-port=${range(n, '-')}/${n.protocol}`).join(' ')}\nfirewall-cmd --reload`;
    case 'ufw':
      return needs.map((n) => `ufw allow ${range(n, ':')}/${n.protocol}`).join('\n') + '   # ufw keeps its rules across reboots';
    case 'iptables': {
      const lines = needs.map((n) => `iptables -I INPUT -p ${n.protocol} -m ${n.protocol} --dport ${range(n, ':')} -j ACCEPT`);
      return `${lines.join('\n')}\n# persist: iptables-save > /etc/iptables/rules.v4 (Debian/Ubuntu, iptables-persistent) or service iptables save (RHEL)`;
    }
    default: {
      const base = f.nft && 'json' in f.nft ? nftInputChains(f.nft.json)[0] : undefined;
      const where = base ? `${base.family} ${base.table} ${base.chain}` : 'inet filter input';
      const byProto = (p: 'tcp' | 'udp') => needs.filter((n) => n.protocol === p).map((n) => range(n, '-'));
      const lines = (['tcp', 'udp'] as const).filter((p) => byProto(p).length).map((p) => `nft insert rule ${where} ${p} dport { ${byProto(p).join(', ')} } accept`);
      return `${lines.join('\n')}\n# persist: nft list ruleset > /etc/nftables.conf && systemctl enable nftables`;
    }
  }
}

export interface PortsVerdict {
  need: PortNeed;
  outcome: PortOutcome;
  source: 'nftables' | 'iptables';
}

/** Each needed port (ranges by their first and last port) through each active rule set. */
export function judgePorts(f: FirewallFacts, ctx: JudgeContext): PortsVerdict[] {
  const out: PortsVerdict[] = [];
  for (const need of requiredPorts(ctx.profile, ctx.node.roles)) {
    for (const a of activeChains(f)) {
      const outcomes = [need.from, need.to].map((port) => evaluatePort(a.chains, { protocol: need.protocol, port }));
      const worst = outcomes.find((o) => o.verdict !== 'accept') ?? outcomes.find((o) => o.conditional) ?? outcomes[0]!;
      out.push({ need, outcome: worst, source: a.source });
    }
  }
  return out;
}

export const firewallRules = defineCheck<FirewallFacts>({
  id: 'firewall.rules',
  category: 'security',
  title: 'Host firewall allows the required ports',
  gather: gatherFirewall,
  probe: probeFirewall,
  judge(f, ctx): Judgement {
    if (!f.isRoot) return needsRoot(ctx, 'firewall.rules', `reading the firewall rules (nft list ruleset, iptables -S) needs root; known without root: ${knownWithoutRoot(f)}`);
    const sets = activeChains(f);
    if (sets.length === 0) {
      const why = [f.nft && 'error' in f.nft ? `nft: ${f.nft.error}` : null, f.iptables && 'error' in f.iptables ? `iptables: ${f.iptables.error}` : null].filter(Boolean);
      return { status: why.length ? 'error' : 'pass', message: why.length ? `no firewall rules could be read (${why.join('; ')})` : 'neither nft nor iptables is installed: nothing filters input', facts: { why } };
    }
    const verdicts = judgePorts(f, ctx);
    const blocked = verdicts.filter((v) => v.outcome.verdict !== 'accept');
    const unsure = verdicts.filter((v) => v.outcome.verdict === 'accept' && v.outcome.conditional);
    const active = activeFirewalls(f);
    const facts = {
      active,
      ports: verdicts.map((v) => ({ port: v.need.label, purpose: v.need.purpose, rules: v.source, verdict: v.outcome.verdict, conditional: v.outcome.conditional, decidedBy: v.outcome.decidedBy })),
    };
    const list = (vs: PortsVerdict[]) => [...new Set(vs.map((v) => `${v.need.label} (${v.need.purpose}: ${v.outcome.verdict} by ${v.outcome.decidedBy})`))].join('; ');
    if (blocked.length) {
      const needs = [...new Map(blocked.map((v) => [v.need.label, v.need])).values()];
      return {
        status: 'fail',
        message: `the firewall would block: ${list(blocked)}`,
        remediation: openPortCommands(active[0], needs, f),
        facts,
      };
    }
    if (unsure.length) {
      const needs = [...new Map(unsure.map((v) => [v.need.label, v.need])).values()];
      return { status: 'warn', message: `accepted only under conditions (source address or similar): ${list(unsure)}`, remediation: openPortCommands(active[0], needs, f), facts };
    }
    return { status: 'pass', message: `the input rules accept every required port (${[...new Set(verdicts.map((v) => v.need.label))].join(', ')})`, facts };
  },
});
