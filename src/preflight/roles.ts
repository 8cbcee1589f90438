// What a node must meet given all of its roles: the strictest threshold of
// each role wins, and required disk paths are merged by path.
import type { Role } from '../schema/common.ts';
import type { DiskSpec, Profile } from '../schema/profile.ts';

export interface Threshold {
  min: number;
  recommended?: number;
  /** The role that set `min` (named in messages). */
  role: Role;
}

export interface NodeRequirements {
  cpu: Threshold;
  memoryGiB: Threshold;
  disks: DiskSpec[];
  gpu: { required: boolean; minCount: number };
}

function strictest(roles: Role[], pick: (r: Role) => { min: number; recommended?: number }): Threshold {
  let best: Threshold | undefined;
  let rec: number | undefined;
  for (const role of roles) {
    const t = pick(role);
    if (!best || t.min > best.min) best = { min: t.min, role };
    if (t.recommended !== undefined) rec = Math.max(rec ?? 0, t.recommended);
  }
  return { ...(best ?? { min: 0, role: 'worker' }), recommended: rec };
}

function intersect(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.filter((x) => b.includes(x));
}

const maxOpt = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));

export function requirementsFor(profile: Profile, roles: Role[]): NodeRequirements {
  const rp = roles.map((r) => profile.roles[r]);
  const disks = new Map<string, DiskSpec>();
  for (const d of rp.flatMap((r) => r.disks)) {
    const prev = disks.get(d.path);
    disks.set(
      d.path,
      prev
        ? {
            path: d.path,
            minFreeGiB: Math.max(prev.minFreeGiB, d.minFreeGiB),
            warnFreeGiB: maxOpt(prev.warnFreeGiB, d.warnFreeGiB),
            minFreeInodes: maxOpt(prev.minFreeInodes, d.minFreeInodes),
            filesystems: intersect(prev.filesystems, d.filesystems),
            fsync: prev.fsync || d.fsync,
          }
        : { ...d },
    );
  }
  const gpuRoles = rp.map((r) => r.gpu).filter((g) => g !== undefined);
  return {
    cpu: strictest(roles, (r) => profile.roles[r].cpu),
    memoryGiB: strictest(roles, (r) => profile.roles[r].memoryGiB),
    disks: [...disks.values()],
    gpu: {
      required: gpuRoles.some((g) => g.required),
      minCount: Math.max(0, ...gpuRoles.filter((g) => g.required).map((g) => g.minCount ?? 1)),
    },
  };
}

export function nodeNeedsGpu(profile: Profile, roles: Role[]): boolean {
  return requirementsFor(profile, roles).gpu.required;
}
