// disk.free / disk.filesystem / disk.inodes: for every path the node's roles
// need, the filesystem that holds it (or will: the nearest existing ancestor
// is measured and the message says so). Paths on one filesystem share its space.
import type { DiskSpec } from '../../../schema/profile.ts';
import { requirementsFor } from '../../roles.ts';
import type { FsStats, JudgeContext, Judgement, ProbeContext } from '../../types.ts';
import { defineCheck } from '../../types.ts';

export interface PathFacts {
  spec: DiskSpec;
  stats?: FsStats;
  error?: string;
}

export interface DiskFacts {
  paths: PathFacts[];
}

const GiB = 1024 ** 3;
const fmtGiB = (bytes: number) => `${(Math.round((bytes / GiB) * 10) / 10).toString()} GiB`;

// disk.free, disk.filesystem and disk.inodes judge the same facts: stat each path once per host
// (over SSH every stat is a round trip).
const probed = new WeakMap<object, Promise<DiskFacts>>();

export function probeDisks(ctx: ProbeContext): Promise<DiskFacts> {
  let p = probed.get(ctx.host);
  if (!p) {
    p = statRequiredPaths(ctx);
    probed.set(ctx.host, p);
  }
  return p;
}

async function statRequiredPaths({ host, node, profile, signal }: ProbeContext): Promise<DiskFacts> {
  const specs = requirementsFor(profile, node.roles).disks;
  const paths = await Promise.all(
    specs.map(async (spec): Promise<PathFacts> => {
      try {
        return { spec, stats: await host.statFs(spec.path, { signal }) };
      } catch (err) {
        return { spec, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  return { paths };
}

function where(p: PathFacts & { stats: FsStats }): string {
  const s = p.stats;
  const on = `${s.mountPoint ?? s.measuredPath} (${s.fsType})`;
  return s.measuredPath === p.spec.path ? `on ${on}` : `on ${on}; ${p.spec.path} does not exist yet, measured at ${s.measuredPath}`;
}

function unmeasured(id: string, p: PathFacts): Judgement {
  return { id, status: 'error', message: `cannot stat ${p.spec.path}: ${p.error}`, facts: { path: p.spec.path, error: p.error } };
}

type Measured = PathFacts & { stats: FsStats };

/** The filesystem a path is measured on: its mount point, or the measured path when the mount is unknown. */
const fsKey = (x: FsStats) => x.mountPoint ?? x.measuredPath;

/** Measured paths grouped by filesystem (first-seen order, i.e. profile order). */
function byFilesystem(paths: PathFacts[]): Measured[][] {
  const groups = new Map<string, Measured[]>();
  for (const p of paths) {
    if (!p.stats) continue;
    const k = fsKey(p.stats);
    groups.set(k, [...(groups.get(k) ?? []), p as Measured]);
  }
  return [...groups.values()];
}

/**
 * disk.free: one result per filesystem. Paths on one filesystem share its space, so their
 * needs add up and are judged once, against the total (disk.free[MOUNT POINT]).
 */
export function judgeDiskFree(f: DiskFacts): Judgement[] {
  const unmeasurable = f.paths.filter((p) => !p.stats).map((p) => unmeasured(`disk.free[${p.spec.path}]`, p));
  return [...byFilesystem(f.paths).map(judgeFilesystemFree), ...unmeasurable];
}

function judgeFilesystemFree(group: Measured[]): Judgement {
  const s = group[0]!.stats;
  const mount = fsKey(s);
  const needMin = group.reduce((a, x) => a + x.spec.minFreeGiB, 0) * GiB;
  const needWarn = group.reduce((a, x) => a + (x.spec.warnFreeGiB ?? x.spec.minFreeGiB), 0) * GiB;
  const paths = group.map((x) => x.spec.path);
  const notYet = group.filter((x) => x.stats.measuredPath !== x.spec.path).map((x) => x.spec.path);
  const facts = {
    mountPoint: s.mountPoint,
    measuredPath: s.measuredPath,
    fsType: s.fsType,
    freeBytes: s.freeBytes,
    totalBytes: s.totalBytes,
    paths,
    needsGiB: Object.fromEntries(group.map((x) => [x.spec.path, { min: x.spec.minFreeGiB, warn: x.spec.warnFreeGiB ?? x.spec.minFreeGiB }])),
    requiredBytes: needMin,
    recommendedBytes: needWarn,
  };
  const forWhat = group.length > 1 ? `${paths.join(', ')} (sharing this filesystem)` : paths[0]!;
  const later = notYet.length ? `; ${notYet.join(', ')} ${notYet.length === 1 ? 'does' : 'do'} not exist yet, measured at ${s.measuredPath}` : '';
  const base = `${fmtGiB(s.freeBytes)} free on ${mount} (${s.fsType}) for ${forWhat}${later}`;
  const split = group.length > 1 ? ` in all (${group.map((x) => `${x.spec.path} ${x.spec.minFreeGiB}`).join(' + ')} GiB)` : '';
  const id = `disk.free[${mount}]`;
  if (s.freeBytes >= needWarn) return { id, status: 'pass', message: base, facts };
  const shortfall = fmtGiB((s.freeBytes < needMin ? needMin : needWarn) - s.freeBytes);
  const remediation = freeSpaceRemediation(group, mount);
  if (s.freeBytes < needMin) return { id, status: 'fail', message: `${base}; needs ${fmtGiB(needMin)}${split}: ${shortfall} short`, facts, remediation };
  const splitWarn = group.length > 1 ? ' in all' : '';
  return { id, status: 'warn', message: `${base}; ${fmtGiB(needWarn)} recommended${splitWarn}: ${shortfall} short`, facts, remediation };
}

/** Free or grow that filesystem; or give the largest other path a disk of its own (never "a dedicated disk at" the mount point itself). */
function freeSpaceRemediation(group: Measured[], mount: string): string {
  const own = group.filter((x) => x.spec.path !== mount).sort((a, b) => b.spec.minFreeGiB - a.spec.minFreeGiB)[0];
  const grow = `free space or grow the filesystem on ${mount} (df -h ${mount}; sudo du -xh --max-depth=2 ${mount} | sort -h | tail)`;
  return own ? `${grow}, or mount a dedicated disk at ${own.spec.path} (it needs ${own.spec.minFreeGiB} GiB)` : grow;
}

/** Filesystems whose content is gone after a reboot. */
const VOLATILE = new Set(['tmpfs', 'ramfs']);

export function judgeDiskFilesystem(f: DiskFacts): Judgement[] {
  return f.paths.map((p) => {
    const id = `disk.filesystem[${p.spec.path}]`;
    if (!p.stats) return unmeasured(id, p);
    const q = p as PathFacts & { stats: FsStats };
    const fs = q.stats.fsType;
    const exists = q.stats.measuredPath === p.spec.path;
    const accepted = p.spec.filesystems;
    const facts = { path: p.spec.path, measuredPath: q.stats.measuredPath, mountPoint: q.stats.mountPoint, fsType: fs, accepted };
    const wanted = accepted?.filter((x) => x !== 'overlay')[0] ?? 'xfs';
    const remediation = `mount a ${(accepted ?? ['ext4', 'xfs']).join(' or ')} filesystem at ${p.spec.path}, e.g. sudo mkfs.${wanted} /dev/DISK && sudo mkdir -p ${p.spec.path} && echo '/dev/DISK ${p.spec.path} ${wanted} defaults 0 2' | sudo tee -a /etc/fstab && sudo mount ${p.spec.path}`;
    if (VOLATILE.has(fs)) {
      return { id, status: exists ? 'fail' : 'warn', message: `${p.spec.path} is ${where(q)}: ${fs} loses its content on reboot`, facts, remediation };
    }
    if (accepted && !accepted.includes(fs)) {
      const msg = `${p.spec.path} is ${where(q)}; expected ${accepted.join(', ')}`;
      // A path not created yet may still get its own filesystem mounted: warn only.
      return { id, status: exists ? 'fail' : 'warn', message: msg, facts, remediation };
    }
    return { id, status: 'pass', message: `${p.spec.path} is ${where(q)}`, facts };
  });
}

/** Below this share of free inodes, warn even above the minimum. */
const INODE_WARN_RATIO = 0.1;

export function judgeDiskInodes(f: DiskFacts): Judgement[] {
  return f.paths
    .filter((p) => p.spec.minFreeInodes !== undefined)
    .map((p) => {
      const id = `disk.inodes[${p.spec.path}]`;
      if (!p.stats) return unmeasured(id, p);
      const q = p as PathFacts & { stats: FsStats };
      const min = p.spec.minFreeInodes!;
      const { freeInodes, totalInodes } = q.stats;
      const facts = { path: p.spec.path, measuredPath: q.stats.measuredPath, fsType: q.stats.fsType, freeInodes, totalInodes, minFreeInodes: min };
      const mount = q.stats.mountPoint ?? q.stats.measuredPath;
      const remediation = `find what holds the inodes: sudo du --inodes -x --max-depth=2 ${mount} | sort -n | tail; delete unused files or grow the filesystem`;
      if (totalInodes === 0) {
        return { id, status: 'pass', message: `${q.stats.fsType} ${where(q)} allocates inodes dynamically`, facts };
      }
      const has = `${freeInodes.toLocaleString('en-US')} of ${totalInodes.toLocaleString('en-US')} inodes free for ${p.spec.path} ${where(q)}`;
      if (freeInodes < min) return { id, status: 'fail', message: `${has}; needs ${min.toLocaleString('en-US')}`, facts, remediation };
      if (freeInodes < totalInodes * INODE_WARN_RATIO) return { id, status: 'warn', message: `${has}: less than ${INODE_WARN_RATIO * 100}% left`, facts, remediation };
      return { id, status: 'pass', message: has, facts };
    });
}

const gatherDisks = (ctx: JudgeContext) => ({ statFs: requirementsFor(ctx.profile, ctx.node.roles).disks.map((d) => d.path) });

const hasDisks = (ctx: JudgeContext) => requirementsFor(ctx.profile, ctx.node.roles).disks.length > 0;

export const diskFreeCheck = defineCheck<DiskFacts>({
  id: 'disk.free',
  category: 'storage',
  title: 'Free disk space per filesystem, for the required paths on it',
  appliesTo: hasDisks,
  gather: gatherDisks,
  probe: probeDisks,
  judge: judgeDiskFree,
});

export const diskFilesystemCheck = defineCheck<DiskFacts>({
  id: 'disk.filesystem',
  category: 'storage',
  title: 'Filesystem type per required path',
  appliesTo: hasDisks,
  gather: gatherDisks,
  probe: probeDisks,
  judge: judgeDiskFilesystem,
});

export const diskInodesCheck = defineCheck<DiskFacts>({
  id: 'disk.inodes',
  category: 'storage',
  title: 'Free inodes per required path',
  appliesTo: (ctx) => requirementsFor(ctx.profile, ctx.node.roles).disks.some((d) => d.minFreeInodes !== undefined),
  gather: gatherDisks,
  probe: probeDisks,
  judge: judgeDiskInodes,
});
