// proxy.env, proxy.noproxy, proxy.reach and proxy.containerd.
import { defineCheck, type Judgement, type JudgeContext } from '../../types.ts';
import { noProxyCovers, splitNoProxy } from '../../net/no-proxy.ts';
import { connectViaProxy, parseProxyUrl, redactProxyUrl, routeFor } from '../../net/proxy.ts';
import { describeTcpState, probeTcp, type TcpReach } from '../../net/tcp.ts';
import { defaultPort, isForwardingDenied } from '../../net/route.ts';
import { list, read } from '../kernel/host-io.ts';
import { displayVars, NODE_ENV, nodeProxyEnv, nodeProxySettings, siteProxyVars, type ProxyVars } from './proxy-settings.ts';
import { stepTimeout } from './targets.ts';
import { parseRegistryUrl } from './registry-target.ts';

function sameUrl(a?: string, b?: string): boolean {
  const n = (u?: string) => (u ? u.trim().replace(/\/+$/, '').toLowerCase().replace(/^(?![a-z]+:\/\/)/, 'http://') : '');
  return n(a) === n(b);
}

function sameList(a: string[] = [], b: string[] = []): boolean {
  const x = new Set(a.map((s) => s.toLowerCase()));
  const y = new Set(b.map((s) => s.toLowerCase()));
  return x.size === y.size && [...x].every((v) => y.has(v));
}

/** Differences between the site's proxy and another source, in words. */
export function proxyDiff(site: ProxyVars, other: ProxyVars): string[] {
  const out: string[] = [];
  if (!sameUrl(site.http, other.http)) out.push(`HTTP_PROXY ${other.http ?? '(unset)'} vs site ${site.http ?? '(unset)'}`);
  if (!sameUrl(site.https ?? site.http, other.https)) out.push(`HTTPS_PROXY ${other.https ?? '(unset)'} vs site ${site.https ?? site.http ?? '(unset)'}`);
  if (!sameList(site.noProxy, other.noProxy)) out.push(`NO_PROXY ${other.noProxy?.join(',') ?? '(unset)'} vs site ${site.noProxy?.join(',') ?? '(unset)'}`);
  return out;
}

function envLines(v: ProxyVars, indent = ''): string {
  return [
    v.http ? `${indent}HTTP_PROXY=${v.http}` : '',
    (v.https ?? v.http) ? `${indent}HTTPS_PROXY=${v.https ?? v.http}` : '',
    v.noProxy?.length ? `${indent}NO_PROXY=${v.noProxy.join(',')}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

export interface ProxyEnvFacts {
  site?: ProxyVars;
  env: ProxyVars | null;
  envSource?: string;
}

export const proxyEnv = defineCheck<ProxyEnvFacts>({
  id: 'proxy.env',
  category: 'network',
  title: 'HTTP proxy settings',
  gather: () => NODE_ENV,
  async probe(ctx) {
    const env = await nodeProxyEnv(ctx);
    return { site: siteProxyVars(ctx), env: env?.vars ?? null, envSource: env?.source };
  },
  judge(f): Judgement {
    const facts = { ...f };
    const envHas = !!(f.env?.http || f.env?.https);
    if (!f.site && !envHas) return { status: 'pass', message: 'no proxy in the site file or the environment: direct access', facts };
    if (f.env === null) return { status: 'warn', message: 'the node environment could not be read (env failed)', facts };
    if (!f.site) {
      return {
        status: 'warn',
        message: `the ${f.envSource} sets a proxy (${f.env.https ?? f.env.http}) but the site file has none`,
        remediation: 'record it in the site file under network.proxy (http, https, noProxy), or unset it if the nodes need no proxy',
        facts,
      };
    }
    if (!envHas) {
      return {
        status: 'warn',
        message: `the site uses proxy ${f.site.https ?? f.site.http} but the ${f.envSource} has no HTTP(S)_PROXY: tools run here (curl, helm) go direct`,
        remediation: `add to /etc/environment (read at login, survives reboots):\n${envLines(f.site)}`,
        facts,
      };
    }
    const diff = proxyDiff(f.site, f.env);
    if (diff.length) {
      return { status: 'warn', message: `environment and site file disagree: ${diff.join('; ')}`, remediation: `set in /etc/environment:\n${envLines(f.site)}`, facts };
    }
    return { status: 'pass', message: `environment matches the site: proxy ${f.site.https ?? f.site.http}`, facts };
  },
});

/** Everything NO_PROXY must name so cluster-internal traffic never goes to the proxy. */
export function requiredNoProxy(ctx: JudgeContext): { value: string; why: string }[] {
  const out: { value: string; why: string }[] = [];
  for (const v of ctx.profile.proxy.requiredNoProxy) out.push({ value: v, why: 'profile' });
  for (const n of ctx.site?.nodes ?? []) {
    out.push({ value: n.address, why: `node ${n.name}` });
    if (n.name !== n.address) out.push({ value: n.name, why: `node ${n.name}` });
  }
  if (ctx.site?.nodes?.length === 0 && ctx.node.address) out.push({ value: ctx.node.address, why: 'this node' });
  if (ctx.site?.network?.podCidr) out.push({ value: ctx.site.network.podCidr, why: 'pod CIDR' });
  if (ctx.site?.network?.serviceCidr) out.push({ value: ctx.site.network.serviceCidr, why: 'service CIDR' });
  const reg = ctx.site?.registry ? parseRegistryUrl(ctx.site.registry.url, ctx.site.registry.insecure) : undefined;
  if (reg && 'url' in reg) out.push({ value: reg.url.hostname.replace(/^\[|\]$/g, ''), why: 'internal registry' });
  const seen = new Set<string>();
  return out.filter((r) => (seen.has(r.value.toLowerCase()) ? false : (seen.add(r.value.toLowerCase()), true)));
}

export interface NoProxyFacts {
  proxy: string | null;
  noProxy: string[];
  source: string;
}

export const proxyNoProxy = defineCheck<NoProxyFacts>({
  id: 'proxy.noproxy',
  category: 'network',
  title: 'NO_PROXY covers cluster-internal traffic',
  gather: () => NODE_ENV,
  async probe(ctx) {
    const s = await nodeProxySettings(ctx);
    const proxy = s.https ?? s.http;
    return { proxy: proxy ? redactProxyUrl(proxy) : null, noProxy: s.noProxy, source: s.source };
  },
  judge(f, ctx): Judgement {
    if (!f.proxy) return { status: 'pass', message: 'no proxy in use: NO_PROXY is not needed', facts: { ...f } };
    const required = requiredNoProxy(ctx);
    const missing = required.filter((r) => !noProxyCovers(f.noProxy, r.value));
    const facts = { ...f, required: required.map((r) => r.value), missing: missing.map((r) => r.value) };
    if (missing.length === 0) return { status: 'pass', message: `NO_PROXY (${f.source}) covers ${required.map((r) => r.value).join(', ')}`, facts };
    const corrected = [...f.noProxy, ...missing.map((m) => m.value)].join(',');
    return {
      status: 'fail',
      message: `NO_PROXY (${f.source}) misses ${missing.map((m) => `${m.value} (${m.why})`).join(', ')}: that traffic would go to the proxy ${f.proxy}`,
      remediation: `set noProxy in the site file and NO_PROXY on every node (/etc/environment and containerd's drop-in) to:\n${corrected}`,
      facts,
    };
  },
});

export interface ProxyReachFacts {
  proxy: string | null;
  error?: string;
  tcp?: TcpReach;
  /** The registry the CONNECT test aimed at, and how. */
  registry?: string;
  direct?: string;
  connect?: { ok: boolean; error?: string; status?: number; forwardingDenied?: boolean };
}

export const proxyReach = defineCheck<ProxyReachFacts>({
  id: 'proxy.reach',
  category: 'network',
  title: 'The proxy answers and reaches the registry',
  gather: () => NODE_ENV,
  async probe(ctx) {
    const s = await nodeProxySettings(ctx);
    const raw = s.https ?? s.http;
    if (!raw) return { proxy: null };
    let endpoint;
    try {
      endpoint = parseProxyUrl(raw, s.password);
    } catch (err) {
      return { proxy: redactProxyUrl(raw), error: (err as Error).message };
    }
    const timeoutMs = stepTimeout(ctx.timeoutMs) / 2;
    const tcp = await probeTcp(ctx.host, endpoint.host, endpoint.port, { timeoutMs, signal: ctx.signal });
    const facts: ProxyReachFacts = { proxy: endpoint.display, tcp };
    const reg = ctx.site?.registry ? parseRegistryUrl(ctx.site.registry.url, ctx.site.registry.insecure) : undefined;
    if (tcp.state !== 'open' || !reg || !('url' in reg)) return facts;
    const route = routeFor(reg.url, s);
    const host = reg.url.hostname.replace(/^\[|\]$/g, '');
    const port = defaultPort(reg.url);
    facts.registry = `${reg.url.host}`;
    if (route.kind === 'direct') {
      facts.direct = route.reason;
      return facts;
    }
    try {
      const sock = await connectViaProxy(ctx.host, endpoint, { host, port }, { timeoutMs, signal: ctx.signal });
      sock.destroy();
      facts.connect = { ok: true };
    } catch (err) {
      facts.connect = { ok: false, error: (err as Error).message, status: (err as { status?: number }).status, forwardingDenied: isForwardingDenied(err) || undefined };
    }
    return facts;
  },
  judge(f): Judgement {
    const facts = { ...f };
    if (!f.proxy) return { status: 'skip', message: 'no proxy configured', facts };
    if (f.error) return { status: 'fail', message: f.error, remediation: 'write the proxy as http://HOST:PORT (user name allowed, password via network.proxy.passwordEnv)', facts };
    if (f.tcp && f.tcp.state !== 'open') {
      return { status: 'fail', message: `proxy ${f.proxy} is ${describeTcpState(f.tcp)}`, remediation: `check the proxy address and port, and that this node may reach it (${f.tcp.host}:${f.tcp.port}/tcp)`, facts };
    }
    if (!f.registry) return { status: 'pass', message: `proxy ${f.proxy} answers (no registry in the site file to test CONNECT)`, facts };
    if (f.direct) return { status: 'pass', message: `proxy ${f.proxy} answers; the registry ${f.registry} is reached directly: ${f.direct}`, facts };
    if (f.connect?.ok) return { status: 'pass', message: `proxy ${f.proxy} answers and CONNECT reaches the registry ${f.registry}`, facts };
    if (f.connect?.forwardingDenied) {
      return { status: 'skip', message: `proxy ${f.proxy} answers; CONNECT not tried: the node's sshd forbids TCP forwarding (AllowTcpForwarding no)`, remediation: 'allow forwarding for the install user in sshd_config, or run astrago-check on the node itself', facts };
    }
    return {
      status: 'fail',
      message: `proxy ${f.proxy} answers but CONNECT to the registry ${f.registry} failed: ${f.connect?.error ?? 'unknown error'}`,
      remediation:
        f.connect?.status === 407 || f.connect?.status === 401
          ? 'give the proxy user in the proxy URL and its password through network.proxy.passwordEnv'
          : `ask the proxy administrator to allow CONNECT to ${f.registry}, or add the registry to noProxy if the nodes reach it directly`,
      facts,
    };
  },
});

export interface ContainerdProxyFacts {
  site?: ProxyVars;
  /** Drop-in files and the proxy variables they set (passwords masked). */
  dropIns: { file: string; vars: ProxyVars }[];
  dirExists: boolean;
}

/** Environment= assignments of a systemd unit file (quoted and unquoted, several per line). */
export function parseUnitEnvironment(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const m = /^\s*Environment\s*=\s*(.*)$/.exec(raw);
    if (!m) continue;
    const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
    let a;
    while ((a = re.exec(m[1]!))) {
      const word = a[1] ?? a[2] ?? a[3]!;
      const eq = word.indexOf('=');
      if (eq > 0) out[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  return out;
}

const DROPIN_DIR = '/etc/systemd/system/containerd.service.d';

export const proxyContainerd = defineCheck<ContainerdProxyFacts>({
  id: 'proxy.containerd',
  category: 'network',
  title: 'Container runtime proxy matches the site',
  gather: () => ({ dirs: [DROPIN_DIR], globs: [`${DROPIN_DIR}/*.conf`] }),
  async probe(ctx) {
    const names = await list(ctx, DROPIN_DIR);
    const dropIns: ContainerdProxyFacts['dropIns'] = [];
    for (const n of (names ?? []).filter((x) => x.endsWith('.conf'))) {
      const text = await read(ctx, `${DROPIN_DIR}/${n}`);
      if (text === null) continue;
      const env = parseUnitEnvironment(text);
      const pick = (k: string) => env[k] ?? env[k.toLowerCase()];
      const vars = displayVars({ http: pick('HTTP_PROXY'), https: pick('HTTPS_PROXY'), noProxy: pick('NO_PROXY') !== undefined ? splitNoProxy(pick('NO_PROXY')) : undefined });
      if (Object.keys(vars).length) dropIns.push({ file: `${DROPIN_DIR}/${n}`, vars });
    }
    return { site: siteProxyVars(ctx), dropIns, dirExists: names !== null };
  },
  judge(f): Judgement {
    const facts = { ...f };
    const merged: ProxyVars = Object.assign({}, ...f.dropIns.map((d) => d.vars));
    const fix = (site: ProxyVars) =>
      `mkdir -p ${DROPIN_DIR}\ncat > ${DROPIN_DIR}/http-proxy.conf <<'EOF'\n[Service]\n${envLines(site, 'Environment=')}\nEOF\nsystemctl daemon-reload && systemctl restart containerd`;
    if (!f.site) {
      if (merged.http || merged.https) {
        return { status: 'warn', message: `containerd uses proxy ${merged.https ?? merged.http} (${f.dropIns.map((d) => d.file).join(', ')}) but the site file has none`, remediation: 'record the proxy in the site file (network.proxy), or remove the drop-in and restart containerd', facts };
      }
      return { status: 'pass', message: 'no proxy in the site file and none configured for containerd', facts };
    }
    if (f.dropIns.length === 0) {
      return { status: 'warn', message: `the site uses proxy ${f.site.https ?? f.site.http} but containerd has no proxy drop-in: image pulls from outside would fail`, remediation: fix(f.site), facts };
    }
    const diff = proxyDiff(f.site, merged);
    if (diff.length) return { status: 'fail', message: `containerd's proxy differs from the site: ${diff.join('; ')}`, remediation: fix(f.site), facts };
    return { status: 'pass', message: `containerd's drop-in matches the site (proxy ${f.site.https ?? f.site.http})`, facts };
  },
});

