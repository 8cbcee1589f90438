// registry.mirror: on each node, containerd pulls every source registry the
// site lists under registry.mirrors from the site registry: the CRI plugin's
// config_path is set, a hosts.toml for the registry lies in it with a pull
// host on the site registry, and the CA file that host names exists (on
// RKE2/k3s nodes: their registries.yaml, see rancher-registries.ts). The
// files to copy are the ones `bundle install` writes (docs/runtime-mirrors.md).
import { dirname, isAbsolute, join, posix } from 'node:path';
import { defineCheck, type Judgement, type JudgeContext, type ProbeContext } from '../../types.ts';
import { list, read, run } from '../kernel/host-io.ts';
import { canPull, parseConfigPath, parseHostsToml, parseImports, urlHost, type ConfigPathFact, type HostEntry } from './containerd-hosts.ts';
import { parseRegistryUrl } from './registry-target.ts';
import { judgeRancher, parseRegistriesYaml, RANCHER_REGISTRIES, type RancherFacts } from './rancher-registries.ts';

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
/** containerd 2.x looks here when config_path is not set; 1.x looks nowhere. */
export const DEFAULT_CERTS_DIR = '/etc/containerd/certs.d';
/** What `bundle install` names its charts directory by default. */
const CHARTS_DIR = 'astrago-charts';

export interface MirrorHostFacts {
  registry: string;
  /** the hosts.toml containerd would use for it (its own, else _default), when one exists */
  file?: string;
  /** entries whose host is the site registry (the server line included), with their CA files */
  siteHosts: Array<HostEntry & { caFiles: Array<{ path: string; exists: boolean }> }>;
  /** every host URL in the file, for messages */
  urls: string[];
}

export interface RegistryMirrorFacts {
  /** the site registry host[:port] */
  registry?: string;
  /** the site registry URL's path (a project/prefix), '' when none */
  sitePath?: string;
  error?: string;
  mirrors: string[];
  containerd?: { installed: boolean; version?: string; major?: number; configFound: boolean; configPath?: ConfigPathFact & { file: string } };
  /** RKE2/k3s: their registries.yaml, which decides instead of /etc/containerd */
  rancher?: RancherFacts;
  /** where hosts.toml files were looked for */
  dirs?: string[];
  hosts?: MirrorHostFacts[];
}

function siteRegistry(ctx: JudgeContext): { host?: string; path?: string; error?: string; mirrors: string[] } {
  const reg = ctx.site?.registry;
  const mirrors = reg?.mirrors ?? [];
  if (!reg || !mirrors.length) return { mirrors };
  const parsed = parseRegistryUrl(reg.url, reg.insecure);
  if ('error' in parsed) return { error: parsed.error, mirrors };
  return { host: parsed.url.host, path: parsed.url.pathname.replace(/\/+$/, ''), mirrors };
}

/** config.toml, then its imports (a '*' in the last segment lists that directory); the last config_path set wins. */
async function findConfigPath(ctx: ProbeContext, mainText: string): Promise<(ConfigPathFact & { file: string }) | undefined> {
  const main = parseConfigPath(mainText);
  let found = main ? { ...main, file: CONTAINERD_CONFIG } : undefined;
  for (const imp of parseImports(mainText)) {
    const path = isAbsolute(imp) ? imp : join(dirname(CONTAINERD_CONFIG), imp);
    const base = posix.basename(path);
    const re = new RegExp(`^${base.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    const files = base.includes('*') ? ((await list(ctx, dirname(path))) ?? []).filter((x) => re.test(x)).sort().map((n) => join(dirname(path), n)) : [path];
    for (const f of files) {
      const text = await read(ctx, f);
      const cp = text === null ? undefined : parseConfigPath(text);
      if (cp) found = { ...cp, file: f };
    }
  }
  return found;
}

async function hostsFor(ctx: ProbeContext, registry: string, dirs: string[], siteHost: string): Promise<MirrorHostFacts> {
  for (const name of [registry, '_default']) {
    for (const d of dirs) {
      const file = `${d.replace(/\/+$/, '')}/${name}/hosts.toml`;
      const text = await read(ctx, file, 256 * 1024);
      if (text === null) continue;
      const parsed = parseHostsToml(text);
      const entries = [...parsed.hosts, ...(parsed.serverEntry ? [parsed.serverEntry] : [])];
      const siteHosts: MirrorHostFacts['siteHosts'] = [];
      for (const h of entries) {
        if (urlHost(h.url) !== siteHost) continue;
        const caFiles = [];
        for (const ca of h.ca ?? []) {
          const path = isAbsolute(ca) ? ca : join(dirname(file), ca);
          caFiles.push({ path, exists: (await read(ctx, path, 64 * 1024)) !== null });
        }
        siteHosts.push({ ...h, caFiles });
      }
      return { registry, file, siteHosts, urls: entries.map((h) => h.url) };
    }
  }
  return { registry, siteHosts: [], urls: [] };
}


export const registryMirror = defineCheck<RegistryMirrorFacts>({
  id: 'registry.mirror',
  category: 'registry',
  title: 'containerd pulls the listed registries from the site registry',
  gather: (ctx) => {
    const { mirrors } = siteRegistry(ctx);
    return mirrors.length ? { files: [CONTAINERD_CONFIG, ...RANCHER_REGISTRIES, ...mirrors.map((m) => `${DEFAULT_CERTS_DIR}/${m}/hosts.toml`)], commands: [['containerd', '--version']] } : {};
  },
  async probe(ctx) {
    const site = siteRegistry(ctx);
    const base = { mirrors: site.mirrors, ...(site.error ? { error: site.error } : {}), ...(site.host ? { registry: site.host, sitePath: site.path } : {}) };
    if (!site.host) return base;
    for (const file of RANCHER_REGISTRIES) {
      const text = await read(ctx, file);
      if (text === null) continue;
      const rancher = parseRegistriesYaml(file, text, site.host);
      if (rancher.caFile) rancher.caExists = (await read(ctx, rancher.caFile, 64 * 1024)) !== null;
      return { ...base, rancher };
    }
    const version = await run(ctx, ['containerd', '--version']);
    const v = version?.code === 0 ? /\sv?(\d+)\.(\d+)\.\d+\S*/.exec(version.stdout) : null;
    const configText = await read(ctx, CONTAINERD_CONFIG);
    const configPath = configText === null ? undefined : await findConfigPath(ctx, configText);
    const containerd = { installed: version !== null || configText !== null, ...(v ? { version: v[0].trim(), major: Number(v[1]) } : {}), configFound: configText !== null, ...(configPath ? { configPath } : {}) };
    const dirs = configPath?.dirs ?? ((containerd.major ?? 0) >= 2 ? [DEFAULT_CERTS_DIR] : []);
    const hosts = [];
    for (const m of site.mirrors) hosts.push(await hostsFor(ctx, m, dirs, site.host));
    return { ...base, containerd, dirs, hosts };
  },
  judge: judgeRegistryMirror,
});

const copyFix = (registry: string, dir: string) =>
  `copy ${CHARTS_DIR}/containerd/certs.d/${registry}/ (hosts.toml and ca.crt, written by bundle install) to ${dir}/${registry}/ on this node`;

const configFix = `in ${CONTAINERD_CONFIG} set\n  [plugins."io.containerd.grpc.v1.cri".registry]\n    config_path = "${DEFAULT_CERTS_DIR}"\n(containerd 2.x: [plugins."io.containerd.cri.v1.images".registry]), remove any registry.mirrors there, and restart containerd`;

/** Pure: one result per listed registry, or one for what stops them all. */
export function judgeRegistryMirror(f: RegistryMirrorFacts): Judgement[] {
  const facts = { ...f };
  if (f.error) return [{ status: 'fail', message: f.error, remediation: 'fix registry.url in the site file', facts }];
  if (!f.mirrors.length) return [{ status: 'skip', message: 'the site file lists no registry.mirrors', facts }];
  if (!f.registry) return [{ status: 'skip', message: 'the site file names no registry', facts }];
  if (f.rancher) return judgeRancher(f.rancher, f.mirrors, f.registry, f.sitePath ?? '', facts);
  const c = f.containerd!;
  if (!c.installed) return [{ status: 'skip', message: `containerd is not installed on this node (no containerd binary, no ${CONTAINERD_CONFIG}): check again once it is`, facts }];
  const dir = f.dirs?.[0] ?? DEFAULT_CERTS_DIR;
  if (!f.dirs?.length) {
    const why = c.configFound ? `${CONTAINERD_CONFIG} does not set the CRI registry config_path` : `${CONTAINERD_CONFIG} does not exist`;
    return [{ status: 'fail', message: `containerd${c.version ? ` ${c.version}` : ''} reads no hosts.toml: ${why}, so ${f.mirrors.join(', ')} would be pulled from the internet`, remediation: `${configFix}; then ${f.mirrors.map((m) => copyFix(m, dir)).join('; ')}`, facts }];
  }
  return (f.hosts ?? []).map((h) => judgeOne(f, h, dir, facts));
}

function judgeOne(f: RegistryMirrorFacts, h: MirrorHostFacts, dir: string, facts: Record<string, unknown>): Judgement {
  const id = `registry.mirror[${h.registry}]`;
  const site = f.registry!;
  if (!h.file) return { id, status: 'fail', message: `no hosts.toml for ${h.registry} in ${f.dirs!.join(', ')}: containerd would pull ${h.registry} images from the internet`, remediation: copyFix(h.registry, dir), facts };
  const usable = h.siteHosts.filter(canPull);
  if (!usable.length) {
    const what = h.siteHosts.length ? `its ${site} host lacks the pull/resolve capabilities` : `it points at ${h.urls.join(', ') || 'no host'}, not at ${site}`;
    return { id, status: 'fail', message: `${h.file} does not send ${h.registry} pulls to the site registry: ${what}`, remediation: `replace it: ${copyFix(h.registry, dir)}`, facts };
  }
  const missing = usable.flatMap((e) => e.caFiles.filter((x) => !x.exists).map((x) => x.path));
  if (missing.length) return { id, status: 'fail', message: `${h.file}: the CA file ${missing.join(', ')} it names for ${site} does not exist on this node`, remediation: copyFix(h.registry, dir), facts };
  const prefixed = f.sitePath ? usable.some((e) => (urlPath(e.url) ?? '').startsWith(`/v2${f.sitePath}`)) : true;
  if (!prefixed) return { id, status: 'warn', message: `${h.file} points at ${site} but not under the site registry's path ${f.sitePath} (hosts: ${usable.map((e) => e.url).join(', ')})`, remediation: `check the path, or ${copyFix(h.registry, dir)}`, facts };
  const ca = usable.flatMap((e) => e.caFiles.map((x) => x.path));
  return { id, status: 'pass', message: `${h.registry} pulls go to ${usable[0]!.url} (${h.file}${ca.length ? `, CA ${ca.join(', ')}` : ''})`, facts };
}

function urlPath(url: string): string | undefined {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}
