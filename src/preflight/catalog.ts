// The check catalogue (`astrago-check checks`): every check id, the checklist items it
// verifies, what it judges, the roles it runs for and the thresholds a profile sets for
// it, per role where they differ. docs/checks.md is this catalogue for the built-in profile.
import { ROLES, type Category, type Role } from '../schema/common.ts';
import type { Profile, RoleProfile } from '../schema/profile.ts';
import { ALL_CHECKS, SITE_CHECKS } from './checks/index.ts';
import { checkIdMatches } from './profile.ts';

export interface CatalogEntry {
  id: string;
  category: Category;
  /** What the check judges. */
  title: string;
  /** Checklist item ids whose `checks` name this check. */
  checklist: string[];
  /** 'site': a check across nodes; else the roles it runs for. */
  scope: 'site' | Role[];
  /** Thresholds from the profile: per role, or `all` when they do not depend on the role. */
  thresholds: Partial<Record<Role | 'all', string>>;
}

type PerRole = (r: RoleProfile, p: Profile) => string | undefined;
type Global = (p: Profile) => string | undefined;

const list = (xs: readonly string[]) => (xs.length ? xs.join(', ') : undefined);
const ports = (r: RoleProfile, p: Profile, peersOnly = false) =>
  list(
    r.ports
      .filter((s) => (!s.cni || s.cni === p.cni) && (!peersOnly || (s.peers && s.protocol !== 'udp')))
      .map((s) => `${s.port}${s.protocol === 'udp' ? '/udp' : ''}${peersOnly ? ` from ${s.peers!.join('/')}` : ''}`),
  );
const recommended = (min: number, rec: number | undefined, unit: string) => `>= ${min}${unit}${rec !== undefined && rec !== min ? ` (recommended ${rec}${unit})` : ''}`;

/** Thresholds that depend on the node's role. */
const PER_ROLE: Record<string, PerRole> = {
  'resources.cpu': (r) => recommended(r.cpu.min, r.cpu.recommended, ' cores'),
  'resources.memory': (r) => recommended(r.memoryGiB.min, r.memoryGiB.recommended, ' GiB'),
  'disk.free': (r) => list(r.disks.map((d) => `${d.path} ${d.minFreeGiB} GiB${d.warnFreeGiB !== undefined ? ` (warn below ${d.warnFreeGiB})` : ''}`)),
  'disk.inodes': (r) => list(r.disks.filter((d) => d.minFreeInodes !== undefined).map((d) => `${d.path} ${d.minFreeInodes!.toLocaleString('en-US')} inodes`)),
  'disk.filesystem': (r) => list(r.disks.filter((d) => d.filesystems).map((d) => `${d.path}: ${d.filesystems!.join('/')}`)),
  'ports.free': (r, p) => ports(r, p),
  'firewall.rules': (r, p) => ports(r, p),
  'site.port-matrix': (r, p) => ports(r, p, true),
  'gpu.devices': (r) => (r.gpu ? `${r.gpu.required ? 'required' : 'optional'}${r.gpu.minCount !== undefined ? `, at least ${r.gpu.minCount}` : ''}` : undefined),
};

/** Thresholds the same for every role. */
const GLOBAL: Record<string, Global> = {
  'os.release': (p) => list(p.os.supported.map((o) => `${o.id} ${o.versions.join('/')}`)),
  'disk.fsync': (p) => `p99 warn >= ${p.disk.fsyncP99WarnMs} ms, fail >= ${p.disk.fsyncP99FailMs} ms (${p.disk.fsyncSamples} samples)`,
  'kernel.version': (p) => `>= ${p.kernel.minVersion}`,
  'kernel.modules': (p) => list(p.kernel.modules),
  'kernel.sysctl': (p) => list(Object.entries(p.kernel.sysctls).map(([k, v]) => `${k}=${v}`)),
  'kernel.swap': (p) => (p.kernel.swapAllowed ? 'swap allowed' : 'swap off'),
  'kernel.cgroup': (p) => (p.kernel.cgroup === 'any' ? 'v1 or v2' : p.kernel.cgroup),
  'security.selinux': (p) => `one of ${p.kernel.selinux.join(', ')}`,
  'proxy.noproxy': (p) => `NO_PROXY covers ${p.proxy.requiredNoProxy.join(', ')}, the nodes, the pod/service CIDRs and the registry`,
  'registry.tls': (p) => `certificate expires in more than ${p.tls.certExpiryWarnDays} days (else warn)`,
  'time.sync': (p) => `offset < ${p.time.maxOffsetMs} ms`,
  'site.clock-skew': (p) => `skew < ${p.time.maxSkewMs} ms`,
  'gpu.driver': (p) => (p.gpu.driver === 'operator' ? 'GPU Operator driver (none on the host)' : `preinstalled, >= ${p.gpu.minDriverVersion}`),
  'gpu.toolkit': (p) => (p.gpu.toolkit === 'operator' ? 'installed by the GPU Operator' : 'preinstalled nvidia-container-toolkit'),
  'gpu.mig': (p) => (p.gpu.mig === 'any' ? 'not judged' : `MIG ${p.gpu.mig}`),
  'gpu.ecc': (p) => (p.gpu.ecc ? 'ECC on' : 'not judged'),
  'gpu.persistence': (p) => (p.gpu.persistenceMode ? 'persistence mode on' : 'not judged'),
  'gpu.iommu': (p) => (p.gpu.passthrough ? 'IOMMU on (passthrough)' : 'not required'),
  'gpu.pcie': (p) => `narrower link: ${p.gpu.pcie.width}; slower link: ${p.gpu.pcie.speed}`,
  'rdma.devices': (p) => (p.rdma.required ? 'required' : 'optional'),
  'rdma.ports': (p) => `link layer ${p.rdma.linkLayer}${p.rdma.minRateGbps !== undefined ? `, >= ${p.rdma.minRateGbps} Gb/s` : ''}`,
  'rdma.peermem': (p) => (p.rdma.gpuDirect ? 'nvidia_peermem loaded (GPUDirect)' : 'not required'),
};

function thresholdsOf(id: string, profile: Profile, roles: readonly Role[]): CatalogEntry['thresholds'] {
  const out: CatalogEntry['thresholds'] = {};
  const perRole = PER_ROLE[id];
  if (perRole) {
    for (const role of roles) {
      const t = perRole(profile.roles[role], profile);
      if (t) out[role] = t;
    }
    return out;
  }
  const t = GLOBAL[id]?.(profile);
  if (t) out.all = t;
  return out;
}

/** Every check the tool has, in the order it runs them, with what `profile` sets for it. */
export function checkCatalog(profile: Profile): CatalogEntry[] {
  const items = (id: string) => profile.checklist.filter((c) => c.checks.some((p) => checkIdMatches(p, id))).map((c) => c.id);
  const node = ALL_CHECKS.map((c): CatalogEntry => {
    const roles = ROLES.filter((role) => !c.appliesTo || c.appliesTo({ node: { name: 'catalog', roles: [role] }, profile, isRoot: true, lang: 'en' }));
    return { id: c.id, category: c.category, title: c.title, checklist: items(c.id), scope: roles, thresholds: thresholdsOf(c.id, profile, roles) };
  });
  const site = SITE_CHECKS.map((c): CatalogEntry => ({ id: c.id, category: c.category, title: c.title, checklist: items(c.id), scope: 'site', thresholds: thresholdsOf(c.id, profile, ROLES) }));
  return [...node, ...site];
}
