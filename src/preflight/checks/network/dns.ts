// dns.resolvers (the node's nameservers and the site's DNS servers answer
// queries) and dns.nodes (site node names and addresses resolve on the node).
import { Resolver } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { getSystemErrorMessage } from 'node:util';
import { defineCheck, type Judgement, type ProbeContext } from '../../types.ts';
import { resolveOnHost, type Resolution } from '../../net/resolve.ts';
import { read, run, shq } from '../kernel/host-io.ts';
import { stepTimeout } from './targets.ts';
import { parseRegistryUrl } from './registry-target.ts';

export interface ResolverAnswer {
  server: string;
  /** answered: any DNS reply (NOERROR, NXDOMAIN...); silent: timeout or refused. */
  state: 'answered' | 'silent' | 'unknown';
  rcode?: string;
  detail?: string;
  from: ('resolv.conf' | 'site')[];
}

export interface ResolversFacts {
  query: string;
  resolvConf: string[] | null;
  answers: ResolverAnswer[];
  method: 'node:dns' | 'dig' | 'nslookup' | 'none';
}

export function parseResolvConf(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((x): x is string => !!x);
}

/** dig/nslookup's reason when the query could not be sent: ";; UDP setup with S#53(S) for N failed: network unreachable." */
function sendFailure(text: string): string | undefined {
  return /(?:UDP|TCP) setup with \S+ for \S+ failed: ([^\n]+?)\.?$/m.exec(text)?.[1];
}

/** `dig +time=N +tries=1 @server name`: the status line, or why nothing came back. */
export function parseDig(text: string): Pick<ResolverAnswer, 'state' | 'rcode' | 'detail'> {
  const m = /status:\s*([A-Z]+)/.exec(text);
  if (m) return { state: 'answered', rcode: m[1] };
  const failed = sendFailure(text);
  if (failed) return { state: 'silent', detail: failed };
  if (/timed out|no servers could be reached|connection refused/i.test(text)) return { state: 'silent', detail: text.trim().split('\n').pop() };
  return { state: 'unknown', detail: text.trim().split('\n')[0] };
}

/** `nslookup name server`. */
export function parseNslookup(text: string, code: number | null): Pick<ResolverAnswer, 'state' | 'rcode' | 'detail'> {
  const failed = sendFailure(text);
  if (failed) return { state: 'silent', detail: failed };
  if (/timed out|no servers could be reached|connection refused/i.test(text)) return { state: 'silent', detail: text.trim().split('\n').find((l) => /timed out|no servers|refused/i.test(l)) };
  if (/NXDOMAIN/.test(text)) return { state: 'answered', rcode: 'NXDOMAIN' };
  if (/SERVFAIL/.test(text)) return { state: 'answered', rcode: 'SERVFAIL' };
  if (/REFUSED/.test(text)) return { state: 'answered', rcode: 'REFUSED' };
  if (code === 0 && /Address/.test(text)) return { state: 'answered', rcode: 'NOERROR' };
  return { state: 'unknown', detail: text.trim().split('\n')[0] };
}

/** The name queried: the registry or a node name if the site has one, else "localhost". */
function queryName(ctx: ProbeContext): string {
  const reg = ctx.site?.registry ? parseRegistryUrl(ctx.site.registry.url) : undefined;
  if (reg && 'url' in reg && !isIP(reg.url.hostname.replace(/^\[|\]$/g, ''))) return reg.url.hostname;
  const node = ctx.site?.nodes.find((n) => !isIP(n.address));
  return node?.address ?? 'localhost';
}

async function askLocal(server: string, name: string, timeoutMs: number): Promise<Pick<ResolverAnswer, 'state' | 'rcode' | 'detail'>> {
  // c-ares may wait longer than its own timeout (retries over TCP, ARP): keep a deadline of our own.
  const r = new Resolver({ timeout: Math.max(100, Math.floor(timeoutMs / 2)), tries: 1 });
  r.setServers([server]);
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        r.cancel();
        reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEOUT' }));
      }, timeoutMs);
    });
    await Promise.race([r.resolve4(name), deadline]);
    return { state: 'answered', rcode: 'NOERROR' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const rcodes: Record<string, string> = { ENOTFOUND: 'NXDOMAIN', ENODATA: 'NOERROR (no A record)', ESERVFAIL: 'SERVFAIL', EREFUSED: 'REFUSED', ENOTIMP: 'NOTIMP', EFORMERR: 'FORMERR' };
    if (rcodes[code]) return { state: 'answered', rcode: rcodes[code] };
    // c-ares reports every failed send as ECONNREFUSED: ask the kernel why (no route, ...).
    if (code === 'ECONNREFUSED') return { state: 'silent', detail: (await udpSendFailure(server)) ?? 'ECONNREFUSED: nothing answers on UDP 53' };
    return { state: 'silent', detail: code || (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why a UDP datagram to server:53 cannot leave this machine, e.g. "ENETUNREACH: Network is
 * unreachable" (connect() on a UDP socket only consults the routing table: nothing is sent);
 * undefined when the route exists.
 */
export async function udpSendFailure(server: string, port = 53): Promise<string | undefined> {
  const sock = createSocket(isIP(server) === 6 ? 'udp6' : 'udp4');
  try {
    return await new Promise<string | undefined>((resolve) => {
      sock.once('error', (err: NodeJS.ErrnoException) => resolve(describeErrno(err)));
      sock.connect(port, server, (err?: NodeJS.ErrnoException) => resolve(err ? describeErrno(err) : undefined));
    });
  } finally {
    sock.close();
  }
}

function describeErrno(err: NodeJS.ErrnoException): string {
  let text = err.message;
  try {
    if (typeof err.errno === 'number') text = getSystemErrorMessage(err.errno);
  } catch {
    // an errno libuv does not know: keep the message
  }
  return err.code ? `${err.code}: ${text}` : text;
}

export const dnsResolvers = defineCheck<ResolversFacts>({
  id: 'dns.resolvers',
  category: 'network',
  title: 'DNS resolvers answer',
  gather: () => ({ files: ['/etc/resolv.conf'], commands: [['sh', '-c', 'command -v dig'], ['sh', '-c', 'command -v nslookup']] }),
  async probe(ctx) {
    const text = await read(ctx, '/etc/resolv.conf');
    const resolvConf = text === null ? null : parseResolvConf(text);
    const servers = new Map<string, ResolverAnswer['from']>();
    for (const s of resolvConf ?? []) servers.set(s, ['resolv.conf']);
    for (const s of ctx.site?.network?.dns ?? []) servers.set(s, [...(servers.get(s) ?? []), 'site']);
    const query = queryName(ctx);
    const timeoutMs = stepTimeout(ctx.timeoutMs);
    let method: ResolversFacts['method'] = ctx.host.kind === 'local' ? 'node:dns' : 'none';
    if (method === 'none') {
      if (await run(ctx, ['sh', '-c', 'command -v dig'])?.then((r) => r?.code === 0)) method = 'dig';
      else if (await run(ctx, ['sh', '-c', 'command -v nslookup'])?.then((r) => r?.code === 0)) method = 'nslookup';
    }
    const secs = Math.max(1, Math.floor(timeoutMs / 1000));
    const answers = await Promise.all(
      [...servers].map(async ([server, from]): Promise<ResolverAnswer> => {
        if (method === 'node:dns') return { server, from, ...(await askLocal(server, query, timeoutMs)) };
        if (method === 'dig') {
          const r = await run(ctx, ['sh', '-c', `dig +time=${secs} +tries=1 @${shq(server)} ${shq(query)} A 2>&1`]);
          return { server, from, ...(r ? parseDig(r.stdout) : { state: 'unknown', detail: 'dig failed to run' }) };
        }
        if (method === 'nslookup') {
          const r = await run(ctx, ['sh', '-c', `nslookup -timeout=${secs} -retry=1 ${shq(query)} ${shq(server)} 2>&1`]);
          return { server, from, ...(r ? parseNslookup(r.stdout, r.code) : { state: 'unknown', detail: 'nslookup failed to run' }) };
        }
        return { server, from, state: 'unknown', detail: 'neither dig nor nslookup on the node' };
      }),
    );
    return { query, resolvConf, answers, method };
  },
  judge(f, ctx): Judgement {
    const facts = { ...f };
    if (f.resolvConf === null && f.answers.length === 0) return { status: 'fail', message: '/etc/resolv.conf is missing or unreadable and the site names no DNS server', remediation: 'configure the site DNS servers (netplan / nmcli / /etc/resolv.conf)', facts };
    if (f.answers.length === 0) return { status: 'fail', message: '/etc/resolv.conf has no nameserver and the site names no DNS server', remediation: 'add the site DNS servers to the node configuration (netplan, nmcli con mod ... ipv4.dns, or /etc/resolv.conf)', facts };
    if (f.method === 'none') return { status: 'skip', message: `cannot query resolvers on ${ctx.node.name}: neither dig nor nslookup is installed (resolvers: ${f.answers.map((a) => a.server).join(', ')})`, remediation: 'install dnsutils (Debian/Ubuntu) or bind-utils (RHEL) to check resolvers', facts };
    const silent = f.answers.filter((a) => a.state === 'silent');
    const unknown = f.answers.filter((a) => a.state === 'unknown');
    const notConfigured = f.answers.filter((a) => a.from.includes('site') && !a.from.includes('resolv.conf') && f.resolvConf !== null && !f.resolvConf.some((s) => s.startsWith('127.0.0.5')));
    const line = (a: ResolverAnswer) => `${a.server} (${a.state === 'answered' ? a.rcode : (a.detail ?? a.state)})`;
    if (silent.length) {
      return {
        status: 'fail',
        message: `DNS server(s) do not answer a query for ${f.query}: ${silent.map(line).join(', ')}`,
        remediation: `allow UDP/TCP 53 from this node to ${silent.map((a) => a.server).join(', ')}, or remove dead servers from the node's resolver configuration`,
        facts,
      };
    }
    if (unknown.length) return { status: 'warn', message: `could not tell whether ${unknown.map(line).join(', ')} answered`, facts };
    if (notConfigured.length) {
      return { status: 'warn', message: `site DNS ${notConfigured.map((a) => a.server).join(', ')} answers but is not in /etc/resolv.conf of this node`, remediation: 'add the site DNS servers to the node resolver configuration (netplan / nmcli / resolv.conf)', facts };
    }
    return { status: 'pass', message: `resolvers answer a query for ${f.query}: ${f.answers.map(line).join(', ')}`, facts };
  },
});

export interface NodesDnsFacts {
  lookups: (Resolution & { node: string; kind: 'address' | 'name'; expected?: string })[];
}

export const dnsNodes = defineCheck<NodesDnsFacts>({
  id: 'dns.nodes',
  category: 'network',
  title: 'Node names resolve',
  async probe(ctx) {
    const timeoutMs = stepTimeout(ctx.timeoutMs);
    const nodes = ctx.site?.nodes ?? [];
    const jobs: Promise<NodesDnsFacts['lookups'][number]>[] = [];
    for (const n of nodes) {
      if (!isIP(n.address)) jobs.push(resolveOnHost(ctx.host, n.address, { timeoutMs, signal: ctx.signal }).then((r) => ({ ...r, node: n.name, kind: 'address' as const })));
      if (n.name !== n.address && !isIP(n.name)) {
        jobs.push(resolveOnHost(ctx.host, n.name, { timeoutMs, signal: ctx.signal }).then((r) => ({ ...r, node: n.name, kind: 'name' as const, expected: isIP(n.address) ? n.address : undefined })));
      }
    }
    return { lookups: await Promise.all(jobs) };
  },
  judge(f, ctx): Judgement {
    const facts = { ...f };
    if (!ctx.site?.nodes.length) return { status: 'skip', message: 'the site file lists no nodes', facts };
    if (f.lookups.length === 0) return { status: 'pass', message: 'every node is given by IP address and named by it: nothing to resolve', facts };
    const badAddr = f.lookups.filter((l) => l.kind === 'address' && l.addresses.length === 0);
    const badName = f.lookups.filter((l) => l.kind === 'name' && l.addresses.length === 0);
    const wrong = f.lookups.filter((l) => l.kind === 'name' && l.expected && l.addresses.length && !l.addresses.includes(l.expected));
    const hosts = [...badName, ...wrong].map((l) => `${ctx.site!.nodes.find((n) => n.name === l.node)?.address ?? '<ip>'} ${l.name}`);
    const fix = `add the nodes to DNS, or to /etc/hosts on every node:\n${hosts.length ? hosts.map((h) => `echo '${h}' >> /etc/hosts`).join('\n') : ''}`.trim();
    if (badAddr.length) {
      return { status: 'fail', message: `node addresses do not resolve: ${badAddr.map((l) => `${l.name} (${l.error})`).join(', ')}`, remediation: `add ${badAddr.map((l) => l.name).join(', ')} to DNS or /etc/hosts, or give the nodes' IP addresses in the site file`, facts };
    }
    if (badName.length || wrong.length) {
      const parts = [
        ...badName.map((l) => `${l.name} does not resolve`),
        ...wrong.map((l) => `${l.name} resolves to ${l.addresses.join(', ')}, not ${l.expected}`),
      ];
      return { status: 'warn', message: `node names: ${parts.join('; ')}`, remediation: fix, facts };
    }
    return { status: 'pass', message: `node names resolve: ${f.lookups.map((l) => `${l.name} -> ${l.addresses.join(', ')}`).join('; ')}`, facts };
  },
});
