// Would the host firewall drop new inbound connections to a port? nftables
// JSON (`nft -j list ruleset`) and `iptables -S` are turned into one small
// model of chains and rules, then a packet is walked through it. Matches we
// cannot decide from the port alone (source address, marks...) make the
// answer "conditional" instead of guessing.

export type Verdict = 'accept' | 'drop' | 'reject';

/** A condition of a rule, judged for "a new TCP/UDP connection from another host to port P". */
export type Cond =
  | { kind: 'proto'; protocols: string[]; negate?: boolean }
  | { kind: 'dport'; ranges: [number, number][]; protocol?: string; negate?: boolean }
  | { kind: 'never'; why: string }
  | { kind: 'unknown'; text: string };

export type Action = Verdict | 'return' | 'continue' | { jump: string } | { goto: string };

export interface Rule {
  conds: Cond[];
  action: Action;
  text: string;
}

export interface Chain {
  name: string;
  /** Base chains hooked on input: the packet starts there. */
  base: boolean;
  policy?: Verdict;
  rules: Rule[];
}

export interface PortOutcome {
  verdict: Verdict;
  /** A rule with undecidable conditions could have changed the outcome. */
  conditional: boolean;
  /** The chain and rule that decided, or "policy". */
  decidedBy: string;
}

export interface Packet {
  protocol: 'tcp' | 'udp';
  port: number;
}

function condMatches(c: Cond, p: Packet): boolean | 'unknown' {
  switch (c.kind) {
    case 'proto': {
      const hit = c.protocols.includes(p.protocol);
      return c.negate ? !hit : hit;
    }
    case 'dport': {
      if (c.protocol && c.protocol !== 'th' && c.protocol !== p.protocol) return false;
      const hit = c.ranges.some(([a, b]) => p.port >= a && p.port <= b);
      return c.negate ? !hit : hit;
    }
    case 'never':
      return false;
    case 'unknown':
      return 'unknown';
  }
}

type Walk = { verdict: Verdict | 'return' | 'end'; decidedBy: string };

/**
 * Walks one chain. Rules whose conditions cannot be decided are skipped, and
 * their would-be actions collected in `maybe` (a jump counts as "other").
 */
function walkChain(chains: Map<string, Chain>, name: string, p: Packet, depth: number, maybe: Set<string>): Walk {
  const chain = chains.get(name);
  if (!chain || depth > 16) {
    if (depth > 16) maybe.add('other');
    return { verdict: 'end', decidedBy: name };
  }
  for (const rule of chain.rules) {
    const results = rule.conds.map((c) => condMatches(c, p));
    if (results.includes(false)) continue;
    const a = rule.action;
    if (a === 'continue') continue;
    if (results.includes('unknown')) {
      if (typeof a === 'object') {
        // A conditional jump matters only if the chain it jumps to can decide something.
        const sub = walkChain(chains, 'jump' in a ? a.jump : a.goto, p, depth + 1, maybe);
        if (sub.verdict === 'accept' || sub.verdict === 'drop' || sub.verdict === 'reject') maybe.add(sub.verdict);
      } else maybe.add(a);
      continue;
    }
    if (a === 'return') return { verdict: 'return', decidedBy: `${name}: ${rule.text}` };
    if (typeof a === 'object') {
      const target = 'jump' in a ? a.jump : a.goto;
      const sub = walkChain(chains, target, p, depth + 1, maybe);
      if (sub.verdict === 'accept' || sub.verdict === 'drop' || sub.verdict === 'reject') return sub;
      if ('goto' in a) return { verdict: 'return', decidedBy: sub.decidedBy };
      continue;
    }
    return { verdict: a, decidedBy: `${name}: ${rule.text}` };
  }
  return { verdict: 'end', decidedBy: `${name} policy` };
}

/** Every base input chain must accept; the first that drops or rejects decides. */
export function evaluatePort(chains: Chain[], p: Packet): PortOutcome {
  const map = new Map(chains.map((c) => [c.name, c]));
  const maybe = new Set<string>();
  let outcome: PortOutcome | undefined;
  for (const base of chains.filter((c) => c.base)) {
    const w = walkChain(map, base.name, p, 0, maybe);
    const v: Verdict = w.verdict === 'accept' || w.verdict === 'drop' || w.verdict === 'reject' ? w.verdict : (base.policy ?? 'accept');
    if (v !== 'accept') {
      outcome = { verdict: v, conditional: false, decidedBy: w.verdict === 'end' || w.verdict === 'return' ? `${base.name} policy ${v}` : w.decidedBy };
      break;
    }
  }
  outcome ??= { verdict: 'accept', conditional: false, decidedBy: chains.some((c) => c.base) ? 'accepted by every input chain' : 'no input chain' };
  // Conditional only when a skipped rule would have led somewhere else.
  outcome.conditional = [...maybe].some((m) => m !== outcome.verdict && m !== 'return');
  return outcome;
}

// ---------------------------------------------------------------- nftables

type Json = Record<string, unknown>;

function ports(right: unknown): [number, number][] | undefined {
  if (typeof right === 'number') return [[right, right]];
  if (typeof right === 'string' && /^\d+$/.test(right)) return [[Number(right), Number(right)]];
  if (right && typeof right === 'object') {
    const r = right as Json;
    if (Array.isArray(r.range)) return [[Number(r.range[0]), Number(r.range[1])]];
    if (Array.isArray(r.set)) {
      const out: [number, number][] = [];
      for (const item of r.set) {
        const sub = ports(item);
        if (!sub) return undefined;
        out.push(...sub);
      }
      return out;
    }
  }
  return undefined;
}

function words(right: unknown): string[] {
  if (typeof right === 'string') return [right];
  if (Array.isArray(right)) return right.map(String);
  if (right && typeof right === 'object' && Array.isArray((right as Json).set)) return ((right as Json).set as unknown[]).map(String);
  return [];
}

function nftCond(m: Json): Cond {
  const op = String(m.op ?? '==');
  const negate = op === '!=';
  const left = (m.left ?? {}) as Json;
  const text = JSON.stringify(m);
  if (op !== '==' && op !== '!=' && op !== 'in') return { kind: 'unknown', text };
  const payload = left.payload as Json | undefined;
  if (payload && payload.field === 'dport') {
    const r = ports(m.right);
    if (!r) return { kind: 'unknown', text };
    return { kind: 'dport', ranges: r, protocol: String(payload.protocol), negate };
  }
  const meta = left.meta as Json | undefined;
  if (meta && (meta.key === 'l4proto' || meta.key === 'protocol' || meta.key === 'nfproto')) {
    if (meta.key === 'nfproto') return { kind: 'unknown', text }; // ipv4 vs ipv6: answered as "both" below
    return { kind: 'proto', protocols: words(m.right), negate };
  }
  if (meta && (meta.key === 'iifname' || meta.key === 'iif')) {
    // Traffic from other hosts arrives on a real interface, never on lo.
    const isLo = words(m.right).includes('lo');
    return isLo !== negate ? { kind: 'never', why: 'loopback only' } : { kind: 'proto', protocols: ['tcp', 'udp'] };
  }
  const ct = left.ct as Json | undefined;
  if (ct && ct.key === 'state') {
    const states = words(m.right);
    const newConn = states.includes('new') || states.includes('untracked');
    return newConn !== negate ? { kind: 'proto', protocols: ['tcp', 'udp'] } : { kind: 'never', why: 'not a new connection' };
  }
  if (payload && (payload.protocol === 'ip' || payload.protocol === 'ip6') && payload.field === 'protocol') {
    return { kind: 'proto', protocols: words(m.right), negate };
  }
  if (left.fib) return { kind: 'proto', protocols: ['tcp', 'udp'] }; // fib daddr type local: true for traffic to this node
  return { kind: 'unknown', text };
}

function nftAction(expr: Json[]): Action {
  for (const e of expr) {
    if ('accept' in e) return 'accept';
    if ('drop' in e) return 'drop';
    if ('reject' in e) return 'reject';
    if ('return' in e) return 'return';
    if (e.jump) return { jump: String((e.jump as Json).target) };
    if (e.goto) return { goto: String((e.goto as Json).target) };
  }
  return 'continue';
}

/** Chains of `nft -j list ruleset` that see IPv4 input traffic (families ip and inet). */
export function chainsFromNftJson(doc: unknown): Chain[] {
  const items = ((doc as Json)?.nftables ?? []) as Json[];
  const chains = new Map<string, Chain>();
  const key = (o: Json) => `${o.family} ${o.table} ${o.name ?? o.chain}`;
  for (const it of items) {
    const c = it.chain as Json | undefined;
    if (!c || (c.family !== 'ip' && c.family !== 'inet')) continue;
    const base = c.hook === 'input' && (c.type === undefined || c.type === 'filter');
    chains.set(key(c), { name: key(c), base, policy: c.policy === 'drop' ? 'drop' : base ? 'accept' : undefined, rules: [] });
  }
  for (const it of items) {
    const r = it.rule as Json | undefined;
    if (!r) continue;
    const chain = chains.get(key(r));
    if (!chain) continue;
    const expr = (r.expr ?? []) as Json[];
    const conds = expr.filter((e) => e.match).map((e) => nftCond(e.match as Json));
    // iptables-nft compat matches (`xt`) and other matching expressions we do not model: undecidable.
    for (const e of expr) if (e.xt) conds.push({ kind: 'unknown', text: JSON.stringify(e.xt) });
    let action = nftAction(expr);
    if (typeof action === 'object') {
      const target = 'jump' in action ? action.jump : action.goto;
      const full = `${r.family} ${r.table} ${target}`;
      action = 'jump' in action ? { jump: full } : { goto: full };
    }
    chain.rules.push({ conds, action, text: `handle ${r.handle ?? '?'}` });
  }
  return [...chains.values()];
}

/** Base input chains as "family table chain", for remediation commands. */
export function nftInputChains(doc: unknown): { family: string; table: string; chain: string }[] {
  const items = ((doc as Json)?.nftables ?? []) as Json[];
  return items
    .map((it) => it.chain as Json | undefined)
    .filter((c): c is Json => !!c && c.hook === 'input' && (c.family === 'ip' || c.family === 'inet'))
    .map((c) => ({ family: String(c.family), table: String(c.table), chain: String(c.name) }));
}

// ---------------------------------------------------------------- iptables

function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m;
  while ((m = re.exec(line))) out.push(m[1] ?? m[2]!);
  return out;
}

function iptPorts(spec: string): [number, number][] | undefined {
  const out: [number, number][] = [];
  for (const part of spec.split(',')) {
    const [a, b] = part.split(':');
    if (!/^\d+$/.test(a ?? '') || (b !== undefined && !/^\d+$/.test(b))) return undefined;
    out.push([Number(a), Number(b ?? a)]);
  }
  return out;
}

/** `iptables -S` (filter table) -> chains; INPUT is the base chain. */
export function chainsFromIptables(text: string): Chain[] {
  const chains = new Map<string, Chain>();
  const get = (n: string) => {
    if (!chains.has(n)) chains.set(n, { name: n, base: n === 'INPUT', rules: [] });
    return chains.get(n)!;
  };
  for (const line of text.split('\n')) {
    const t = tokenize(line.trim());
    if (t[0] === '-P' && t[1]) {
      const c = get(t[1]);
      c.policy = t[2] === 'DROP' ? 'drop' : 'accept';
    } else if (t[0] === '-N' && t[1]) get(t[1]);
    else if (t[0] === '-A' && t[1]) {
      const { conds, action } = iptRule(t);
      get(t[1]).rules.push({ conds, action, text: line.trim() });
    }
  }
  return [...chains.values()];
}

/** A rule as it is being read: the protocol of `-p` scopes the port matches after it. */
interface IptRule {
  conds: Cond[];
  action: Action;
  protocol?: string;
}

/** The conditions and action of an `-A CHAIN ...` line (its tokens). */
function iptRule(t: string[]): IptRule {
  const rule: IptRule = { conds: [], action: 'continue' };
  for (let i = 2; i < t.length; i++) {
    let negate = false;
    if (t[i] === '!') {
      negate = true;
      i++;
    }
    if (iptOption(rule, t[i]!, t[i + 1], negate)) i++;
  }
  return rule;
}

/** Adds one option of a rule to it; true when the option took the next token as its value. */
function iptOption(rule: IptRule, opt: string, next: string | undefined, negate: boolean): boolean {
  const { conds } = rule;
  const val = next ?? '';
  switch (opt) {
    case '-p':
      rule.protocol = val;
      conds.push({ kind: 'proto', protocols: [val], negate });
      return true;
    case '--dport':
    case '--destination-port':
    case '--dports':
    case '--destination-ports': {
      const r = iptPorts(val);
      conds.push(r ? { kind: 'dport', ranges: r, protocol: rule.protocol, negate } : { kind: 'unknown', text: `${opt} ${val}` });
      return true;
    }
    case '-i':
    case '--in-interface':
      conds.push(val === 'lo' !== negate ? { kind: 'never', why: 'loopback only' } : { kind: 'proto', protocols: ['tcp', 'udp'] });
      return true;
    case '--ctstate':
    case '--state': {
      const states = val.toUpperCase().split(',');
      const newConn = states.includes('NEW') || states.includes('UNTRACKED');
      conds.push(newConn !== negate ? { kind: 'proto', protocols: ['tcp', 'udp'] } : { kind: 'never', why: 'not a new connection' });
      return true;
    }
    case '-m':
    case '--limit':
    case '--limit-burst':
    case '--comment':
    case '--reject-with':
    case '--log-prefix':
    case '--log-level':
      return true;
    case '--dst-type':
      if (val !== 'LOCAL') conds.push({ kind: 'unknown', text: `--dst-type ${val}` });
      return true;
    case '-j':
    case '-g':
      rule.action = iptTarget(opt, val);
      return true;
    default: {
      if (!opt.startsWith('-')) return false;
      const hasValue = next !== undefined && !next.startsWith('-');
      conds.push({ kind: 'unknown', text: hasValue ? `${opt} ${val}` : opt });
      return hasValue;
    }
  }
}

/** The action of `-j TARGET` or `-g TARGET`: targets that only log or mark let the packet go on. */
function iptTarget(opt: '-j' | '-g', val: string): Action {
  const target = val.toUpperCase();
  if (target === 'ACCEPT') return 'accept';
  if (target === 'DROP') return 'drop';
  if (target === 'REJECT') return 'reject';
  if (target === 'RETURN') return 'return';
  if (['LOG', 'NFLOG', 'MARK', 'CONNMARK', 'CT', 'NOTRACK', 'AUDIT'].includes(target)) return 'continue';
  return opt === '-j' ? { jump: val } : { goto: val };
}
