// The files that make a node's container runtime pull the original image
// references from the site registry (pure): for containerd, one
// certs.d/<source host>/hosts.toml per source registry (the site registry as
// a pull/resolve host with the target path and override_path, the CA beside
// it); for RKE2/k3s, one registries.yaml with a mirror and a rewrite per
// source registry. Where each goes on a node: docs/runtime-mirrors.md.
import { stringify } from 'yaml';
import { registryMirrorPath, type TargetLayout } from './targets.ts';
import type { RegistryTarget } from './plan.ts';
import { DOCKER_HUB, DOCKER_HUB_API, isLoopbackHost } from '../../oci/reference.ts';

/** Under the charts directory. */
export const CERTS_DIR = 'containerd/certs.d';
export const REGISTRIES_FILE = 'registries.yaml';
/** The site registry's CA, beside each hosts.toml (containerd reads a relative `ca` from the hosts.toml's directory). */
export const CA_FILE = 'ca.crt';
/** Where registries.yaml expects the CA on an RKE2/k3s node (copied there by hand, see the docs). */
export const RANCHER_CA_PATH = '/etc/rancher/astrago-registry-ca.crt';

export interface MirrorSettings {
  target: RegistryTarget;
  layout: TargetLayout;
  /** source registries of the bundle's images ('docker.io', 'nvcr.io', '127.0.0.1:5001') */
  sources: string[];
  /** how the site registry was reached: 'https' or 'http' */
  scheme: 'https' | 'http';
  /** the PEM of the CA the site registry's certificate is issued by, when one was given */
  ca?: string;
  /** TLS without verification (--insecure against an HTTPS registry) */
  skipVerify?: boolean;
}

export interface MirrorFile {
  /** path relative to the charts directory */
  path: string;
  content: string;
}

/** containerd's directory name for a registry host: docker.io for Docker Hub, host[:port] as written otherwise. */
export function certsDirName(source: string): string {
  return source === DOCKER_HUB_API ? DOCKER_HUB : source;
}

/** The upstream a runtime falls back to when no mirror answers (unreachable in the air gap). */
function upstream(source: string): string {
  if (source === DOCKER_HUB) return `https://${DOCKER_HUB_API}`;
  return `${isLoopbackHost(source) ? 'http' : 'https'}://${source}`;
}

/** The site URL path a source registry's repositories sit under: /v2/PREFIX[/<host component>]. */
export function mirrorPath(s: MirrorSettings, source: string): string {
  return registryMirrorPath(s.target, source, s.layout).slice(s.target.host.length).replace(/^\/?/, '/');
}

const tomlString = (v: string) => JSON.stringify(v);

export function hostsToml(s: MirrorSettings, source: string): string {
  const path = mirrorPath(s, source);
  const lines = [
    `# Written by astrago-check bundle install: containerd pulls ${source} images from the site registry ${s.target.host}.`,
    `# Goes to /etc/containerd/certs.d/${certsDirName(source)}/hosts.toml (with ${CA_FILE} beside it, if present) on every node;`,
    `# containerd reads it when its CRI registry config_path is /etc/containerd/certs.d (no restart needed once set).`,
    `server = ${tomlString(upstream(source))}`,
    '',
    `[host.${tomlString(`${s.scheme}://${s.target.host}/v2${path === '/' ? '' : path}`)}]`,
    '  capabilities = ["pull", "resolve"]',
    '  override_path = true',
  ];
  if (s.scheme === 'https' && s.ca) lines.push(`  ca = ${tomlString(CA_FILE)}`);
  if (s.scheme === 'https' && s.skipVerify) lines.push('  skip_verify = true');
  return lines.join('\n') + '\n';
}

/** RKE2/k3s: a mirror per source registry, rewritten onto its site path; TLS settings for the site registry. */
export function registriesYaml(s: MirrorSettings): string {
  const mirrors: Record<string, unknown> = {};
  for (const source of [...s.sources].sort()) {
    const path = mirrorPath(s, source).replace(/^\//, '');
    mirrors[certsDirName(source)] = {
      endpoint: [`${s.scheme}://${s.target.host}`],
      ...(path ? { rewrite: { '^(.*)$': `${path}/$1` } } : {}),
    };
  }
  const tls = s.scheme === 'https' ? { ...(s.ca ? { ca_file: RANCHER_CA_PATH } : {}), ...(s.skipVerify ? { insecure_skip_verify: true } : {}) } : {};
  const doc = { mirrors, ...(Object.keys(tls).length ? { configs: { [s.target.host]: { tls } } } : {}) };
  const head = [
    `# Written by astrago-check bundle install: RKE2/k3s pull the original image references from ${s.target.host}.`,
    '# Goes to /etc/rancher/rke2/registries.yaml (RKE2) or /etc/rancher/k3s/registries.yaml (k3s) on every node; restart rke2-server/agent or k3s.',
    ...(s.ca && s.scheme === 'https' ? [`# Copy ${CERTS_DIR}/<any host>/${CA_FILE} to ${RANCHER_CA_PATH} first.`] : []),
  ];
  return head.join('\n') + '\n' + stringify(doc, { lineWidth: 0 });
}

/** Every runtime mirror file, paths relative to the charts directory. */
export function runtimeMirrorFiles(s: MirrorSettings): MirrorFile[] {
  const out: MirrorFile[] = [];
  for (const source of [...new Set(s.sources)].sort()) {
    const dir = `${CERTS_DIR}/${certsDirName(source)}`;
    out.push({ path: `${dir}/hosts.toml`, content: hostsToml(s, source) });
    if (s.scheme === 'https' && s.ca) out.push({ path: `${dir}/${CA_FILE}`, content: s.ca });
  }
  out.push({ path: REGISTRIES_FILE, content: registriesYaml(s) });
  return out;
}
