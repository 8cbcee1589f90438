// RKE2/k3s nodes run their own containerd, configured from registries.yaml
// (/etc/rancher/rke2/ or /etc/rancher/k3s/): for registry.mirror, each listed
// registry needs a mirror whose endpoint is the site registry (with a rewrite
// onto the site path when the site registry has one) and the CA file the
// site registry's tls config names. Parsing and judging are pure.
import { parse as parseYamlText } from 'yaml';
import type { Judgement } from '../../types.ts';
import { urlHost } from './containerd-hosts.ts';

export const RANCHER_REGISTRIES = ['/etc/rancher/rke2/registries.yaml', '/etc/rancher/k3s/registries.yaml'];
/** What `bundle install` writes (the charts directory's registries.yaml). */
const COPY_FROM = 'astrago-charts/registries.yaml';

export interface RancherFacts {
  file: string;
  error?: string;
  /** per mirrored registry: endpoint hosts and rewrite targets */
  mirrors: Record<string, { endpoints: string[]; rewrites: string[] }>;
  /** the site registry's tls settings */
  caFile?: string;
  caExists?: boolean;
  insecure?: boolean;
}

const host = (url: string) => urlHost(url) ?? url;

export function parseRegistriesYaml(file: string, text: string, siteHost: string): RancherFacts {
  let doc: unknown;
  try {
    doc = parseYamlText(text);
  } catch (err) {
    return { file, error: `not valid YAML (${(err as Error).message.split('\n')[0]})`, mirrors: {} };
  }
  const o = (doc ?? {}) as { mirrors?: Record<string, { endpoint?: unknown; rewrite?: unknown }>; configs?: Record<string, { tls?: { ca_file?: unknown; insecure_skip_verify?: unknown } }> };
  const mirrors: RancherFacts['mirrors'] = {};
  for (const [name, m] of Object.entries(o.mirrors ?? {})) {
    const endpoints = Array.isArray(m?.endpoint) ? m.endpoint.map((e) => host(String(e))) : [];
    const rewrites = m?.rewrite && typeof m.rewrite === 'object' ? Object.values(m.rewrite as Record<string, unknown>).map(String) : [];
    mirrors[name] = { endpoints, rewrites };
  }
  const tls = Object.entries(o.configs ?? {}).find(([k]) => host(k) === siteHost)?.[1]?.tls;
  return { file, mirrors, ...(typeof tls?.ca_file === 'string' ? { caFile: tls.ca_file } : {}), ...(tls?.insecure_skip_verify === true ? { insecure: true } : {}) };
}

/** One result per listed registry. */
export function judgeRancher(f: RancherFacts, registries: string[], siteHost: string, sitePath: string, facts: Record<string, unknown>): Judgement[] {
  const fix = `copy ${COPY_FROM} (written by bundle install) to ${f.file} and restart rke2/k3s`;
  if (f.error) return [{ status: 'fail', message: `${f.file}: ${f.error}`, remediation: fix, facts }];
  return registries.map((r) => {
    const id = `registry.mirror[${r}]`;
    const m = f.mirrors[r] ?? f.mirrors['*'];
    if (!m) return { id, status: 'fail', message: `${f.file} has no mirror for ${r}: RKE2/k3s would pull ${r} images from the internet`, remediation: fix, facts };
    if (!m.endpoints.includes(siteHost)) return { id, status: 'fail', message: `${f.file} mirrors ${r} to ${m.endpoints.join(', ') || 'no endpoint'}, not to ${siteHost}`, remediation: fix, facts };
    if (f.caFile && f.caExists === false) return { id, status: 'fail', message: `${f.file}: the CA file ${f.caFile} it names for ${siteHost} does not exist on this node`, remediation: `copy the site registry's CA (containerd/certs.d/<any>/ca.crt in the charts directory) to ${f.caFile}`, facts };
    const prefix = sitePath.replace(/^\//, '');
    if (prefix && !m.rewrites.some((x) => x.startsWith(`${prefix}/`))) return { id, status: 'warn', message: `${f.file} mirrors ${r} to ${siteHost} without a rewrite under the site registry's path /${prefix}`, remediation: fix, facts };
    return { id, status: 'pass', message: `${r} pulls go to ${siteHost}${m.rewrites[0] ? ` (rewrite to ${m.rewrites[0]})` : ''} (${f.file}${f.caFile ? `, CA ${f.caFile}` : ''})`, facts };
  });
}
