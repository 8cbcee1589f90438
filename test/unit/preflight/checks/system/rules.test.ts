// Every system rule judged on recorded facts: pass, warn and fail for each.
// No machine needed: the facts are what the probes return on real nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import type { FsStats, JudgeContext } from '../../../../../src/preflight/types.ts';
import type { Role } from '../../../../../src/schema/common.ts';
import { judgeOsRelease, parseOsRelease, versionMatches } from '../../../../../src/preflight/checks/system/os-release.ts';
import { hostnameProblems, judgeHostname, suggestHostname } from '../../../../../src/preflight/checks/system/hostname.ts';
import { judgeCpu, judgeMemory, parseCpuinfo, parseMeminfo } from '../../../../../src/preflight/checks/system/resources.ts';
import { judgeDiskFilesystem, judgeDiskFree, judgeDiskInodes, type DiskFacts } from '../../../../../src/preflight/checks/system/disk-space.ts';
import { judgeFsync, parseDdSeconds, percentile, type FsyncFacts } from '../../../../../src/preflight/checks/system/fsync.ts';
import { judgePrivileges } from '../../../../../src/preflight/checks/system/privileges.ts';
import { requirementsFor } from '../../../../../src/preflight/roles.ts';

const profile = loadProfile();
const GiB = 1024 ** 3;

function ctx(roles: Role[], extra: Partial<JudgeContext> = {}): JudgeContext {
  return { node: { name: 'node-1', roles }, profile, isRoot: true, lang: 'en', ...extra };
}

const UBUNTU = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
ID=ubuntu
ID_LIKE=debian
`;
const ROCKY = `NAME="Rocky Linux"\nVERSION_ID="8.9"\nID="rocky"\nID_LIKE="rhel centos fedora"\nPRETTY_NAME="Rocky Linux 8.9 (Green Obsidian)"\n`;

test('os.release: parsing and version matching', () => {
  assert.deepEqual(parseOsRelease(UBUNTU), { PRETTY_NAME: 'Ubuntu 22.04.4 LTS', NAME: 'Ubuntu', VERSION_ID: '22.04', ID: 'ubuntu', ID_LIKE: 'debian' });
  assert.equal(parseOsRelease(ROCKY).ID, 'rocky');
  assert.ok(versionMatches('8', '8.9'));
  assert.ok(versionMatches('8', '8'));
  assert.ok(!versionMatches('8', '80'));
  assert.ok(!versionMatches('22.04', '22.10'));
});

test('os.release: pass, fail on version, fail on distribution, warn when unknown', () => {
  const f = (text: string) => {
    const kv = parseOsRelease(text);
    return { found: true, id: kv.ID, idLike: kv.ID_LIKE?.split(' '), versionId: kv.VERSION_ID, prettyName: kv.PRETTY_NAME };
  };
  assert.equal(judgeOsRelease(f(UBUNTU), profile).status, 'pass');
  assert.equal(judgeOsRelease(f(ROCKY), profile).status, 'pass', 'rocky 8.9 matches "8"');
  const old = judgeOsRelease({ found: true, id: 'ubuntu', versionId: '18.04', prettyName: 'Ubuntu 18.04.6 LTS' }, profile);
  assert.equal(old.status, 'fail');
  assert.match(old.message, /version 18\.04 is not supported \(supported: 20\.04, 22\.04, 24\.04\)/);
  assert.match(old.remediation!, /astrago-check profile > my-profile.yaml\): .* --profile my-profile.yaml/, 'says how to get the profile out of the binary');
  const debian = judgeOsRelease({ found: true, id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' }, profile);
  assert.equal(debian.status, 'fail');
  assert.match(debian.remediation!, /\{id: debian, versions: \["12"\]\}/);
  const centos = judgeOsRelease({ found: true, id: 'centos', idLike: ['rhel', 'fedora'], versionId: '7' }, profile);
  assert.match(centos.message, /like rhel, which is supported/);
  assert.equal(judgeOsRelease({ found: false }, profile).status, 'warn');
});

test('os.hostname: RFC 1123, lowercase, length', () => {
  assert.equal(judgeHostname({ hostname: 'gpu-node-01.acme.local' }).status, 'pass');
  const upper = judgeHostname({ hostname: 'GPU-Node_01' });
  assert.equal(upper.status, 'fail');
  assert.match(upper.message, /uppercase/);
  assert.match(upper.message, /characters other than/);
  assert.equal(upper.remediation, 'sudo hostnamectl set-hostname gpu-node-01');
  assert.deepEqual(hostnameProblems('-bad.x'), ["label '-bad' starts or ends with '-'"]);
  assert.match(hostnameProblems('a'.repeat(64)).join(), /64 characters long \(max 63\)/);
  assert.match(hostnameProblems(`${'a'.repeat(60)}.`.repeat(5)).join(), /max 253/);
  assert.match(hostnameProblems('a..b').join(), /empty label/);
  assert.equal(suggestHostname('My_Host.Example.COM'), 'my-host.example.com');
  assert.equal(judgeHostname({ hostname: 'localhost' }).status, 'warn');
  assert.equal(judgeHostname({ hostname: 'master-1' }, 'master-1').status, 'pass');
  const differs = judgeHostname({ hostname: 'vm' }, 'master-1');
  assert.equal(differs.status, 'warn');
  assert.match(differs.message, /hostname 'vm' differs from the node name 'master-1' in the site file/);
  assert.equal(differs.remediation, "sudo hostnamectl set-hostname master-1 on the node, or name it 'vm' in the site file");
  assert.equal(judgeHostname({ hostname: 'vm' }, 'Master_1').remediation, "name the node 'vm' in the site file");
});

test('role requirements: the strictest role wins, disks merge by path', () => {
  const r = requirementsFor(profile, ['worker', 'gpu-worker']);
  assert.deepEqual([r.cpu.min, r.cpu.recommended, r.cpu.role], [4, 8, 'gpu-worker']);
  assert.equal(r.gpu.required, true);
  const containerd = r.disks.find((d) => d.path === '/var/lib/containerd')!;
  assert.equal(containerd.minFreeGiB, 100);
  const cp = requirementsFor(profile, ['control-plane', 'worker']);
  assert.deepEqual(cp.disks.map((d) => d.path).sort(), ['/', '/var/lib/containerd', '/var/lib/etcd', '/var/lib/kubelet']);
  assert.equal(cp.gpu.required, false);
});

test('resources.cpu: parse, pass / warn / fail per role', () => {
  const cpuinfo = 'processor\t: 0\nmodel name\t: AMD EPYC 7763\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7763\n';
  assert.deepEqual(parseCpuinfo(cpuinfo), { cpus: 2, model: 'AMD EPYC 7763' });
  assert.equal(judgeCpu({ cpus: 8 }, ctx(['control-plane'])).status, 'pass');
  assert.equal(judgeCpu({ cpus: 2 }, ctx(['control-plane'])).status, 'warn');
  const fail = judgeCpu({ cpus: 4 }, ctx(['worker', 'gpu-worker']));
  assert.equal(fail.status, 'warn', 'gpu-worker: 4 meets min 4, below recommended 8');
  const low = judgeCpu({ cpus: 2 }, ctx(['worker', 'gpu-worker']));
  assert.equal(low.status, 'fail');
  assert.match(low.message, /gpu-worker \(strictest of worker, gpu-worker\) needs at least 4/);
  assert.ok(low.remediation);
});

test('resources.memory: parse, pass / warn / fail, with the MemTotal allowance', () => {
  assert.deepEqual(parseMeminfo('MemTotal:       16318484 kB\nMemFree: 1 kB\n'), { memTotalKiB: 16318484 });
  assert.throws(() => parseMeminfo('nothing'), /MemTotal/);
  const kib = (g: number) => Math.round(g * 1024 * 1024);
  assert.equal(judgeMemory({ memTotalKiB: kib(15.6) }, ctx(['gpu-worker'])).status, 'warn', 'a 16 GiB machine shows ~15.6 GiB and meets min 16');
  assert.equal(judgeMemory({ memTotalKiB: kib(12) }, ctx(['gpu-worker'])).status, 'fail');
  assert.equal(judgeMemory({ memTotalKiB: kib(32) }, ctx(['gpu-worker'])).status, 'pass');
  assert.equal(judgeMemory({ memTotalKiB: kib(6) }, ctx(['worker'])).status, 'warn');
  assert.match(judgeMemory({ memTotalKiB: kib(2) }, ctx(['worker'])).message, /needs at least 4 GiB/);
});

function stats(path: string, measured: string, over: Partial<FsStats> = {}): FsStats {
  return { path, measuredPath: measured, mountPoint: '/', fsType: 'ext4', totalBytes: 500 * GiB, freeBytes: 300 * GiB, totalInodes: 1e7, freeInodes: 9e6, ...over };
}

function diskFacts(roles: Role[], byPath: (p: string) => Partial<FsStats>): DiskFacts {
  return {
    paths: requirementsFor(profile, roles).disks.map((spec) => ({ spec, stats: { ...stats(spec.path, spec.path), ...byPath(spec.path) } })),
  };
}

test('disk.free: one result per filesystem; pass / warn / fail; shared filesystems add up', () => {
  // Each path on its own filesystem.
  const own = (free: Record<string, number>) => diskFacts(['control-plane'], (p) => ({ mountPoint: p, freeBytes: (free[p] ?? 500) * GiB }));
  const pass = judgeDiskFree(own({}));
  assert.deepEqual(pass.map((j) => [j.id, j.status]), [['disk.free[/]', 'pass'], ['disk.free[/var/lib/etcd]', 'pass'], ['disk.free[/var/lib/containerd]', 'pass']]);
  const mixed = judgeDiskFree(own({ '/var/lib/etcd': 15, '/var/lib/containerd': 20 }));
  assert.deepEqual(mixed.map((j) => j.status), ['pass', 'warn', 'fail']);
  assert.match(mixed[2]!.remediation!, /df -h \/var\/lib\/containerd/);
  assert.doesNotMatch(mixed[2]!.remediation!, /dedicated disk at \/var\/lib\/containerd/, 'it has one already');
  // All on /: 20 + 10 + 50 = 80 GiB needed in all: ONE result, the total and the paths sharing it.
  const shared = judgeDiskFree(diskFacts(['control-plane'], () => ({ freeBytes: 70 * GiB })));
  assert.equal(shared.length, 1);
  assert.equal(shared[0]!.id, 'disk.free[/]');
  assert.equal(shared[0]!.status, 'fail');
  assert.equal(
    shared[0]!.message,
    '70 GiB free on / (ext4) for /, /var/lib/etcd, /var/lib/containerd (sharing this filesystem); needs 80 GiB in all (/ 20 + /var/lib/etcd 10 + /var/lib/containerd 50 GiB): 10 GiB short',
  );
  assert.deepEqual(shared[0]!.facts!.paths, ['/', '/var/lib/etcd', '/var/lib/containerd']);
  // Never "mount a dedicated disk at /": the largest other path gets its own disk.
  assert.match(shared[0]!.remediation!, /free space or grow the filesystem on \/ .*or mount a dedicated disk at \/var\/lib\/containerd \(it needs 50 GiB\)/);
  assert.doesNotMatch(shared[0]!.remediation!, /dedicated disk at \/ /);
  const alone = judgeDiskFree({ paths: [{ spec: { path: '/', minFreeGiB: 20 }, stats: stats('/', '/', { freeBytes: 5 * GiB }) }] });
  assert.doesNotMatch(alone[0]!.remediation!, /dedicated disk/);
  // A path that does not exist yet is measured at its ancestor, and the message says so.
  const anc = judgeDiskFree({ paths: [{ spec: { path: '/var/lib/etcd', minFreeGiB: 10 }, stats: stats('/var/lib/etcd', '/var/lib') }] });
  assert.match(anc[0]!.message, /\/var\/lib\/etcd does not exist yet, measured at \/var\/lib/);
  const err = judgeDiskFree({ paths: [{ spec: { path: '/x', minFreeGiB: 1 }, error: 'EIO' }] });
  assert.equal(err[0]!.status, 'error');
  assert.equal(err[0]!.id, 'disk.free[/x]');
});

test('disk.filesystem: pass / warn / fail', () => {
  const f = (fsType: string, measured = '/var/lib/etcd') => ({ paths: [{ spec: { path: '/var/lib/etcd', minFreeGiB: 10, filesystems: ['ext4', 'xfs'] }, stats: stats('/var/lib/etcd', measured, { fsType }) }] });
  assert.equal(judgeDiskFilesystem(f('xfs'))[0]!.status, 'pass');
  const btrfs = judgeDiskFilesystem(f('btrfs'))[0]!;
  assert.equal(btrfs.status, 'fail');
  assert.match(btrfs.message, /expected ext4, xfs/);
  assert.match(btrfs.remediation!, /mkfs\.ext4/);
  assert.equal(judgeDiskFilesystem(f('btrfs', '/var/lib'))[0]!.status, 'warn', 'not created yet: a dedicated mount may follow');
  const tmp = judgeDiskFilesystem({ paths: [{ spec: { path: '/', minFreeGiB: 1 }, stats: stats('/', '/', { fsType: 'tmpfs' }) }] })[0]!;
  assert.equal(tmp.status, 'fail');
  assert.match(tmp.message, /loses its content on reboot/);
  assert.equal(judgeDiskFilesystem({ paths: [{ spec: { path: '/', minFreeGiB: 1 }, stats: stats('/', '/', { fsType: 'zfs' }) }] })[0]!.status, 'pass', 'no list: any persistent filesystem');
});

test('disk.inodes: pass / warn / fail, dynamic inodes pass', () => {
  const f = (free: number, total = 1e7) => ({ paths: [{ spec: { path: '/', minFreeGiB: 1, minFreeInodes: 100000 }, stats: stats('/', '/', { freeInodes: free, totalInodes: total }) }] });
  assert.equal(judgeDiskInodes(f(5e6))[0]!.status, 'pass');
  assert.equal(judgeDiskInodes(f(5e5))[0]!.status, 'warn');
  const fail = judgeDiskInodes(f(5e4))[0]!;
  assert.equal(fail.status, 'fail');
  assert.equal(fail.id, 'disk.inodes[/]');
  assert.match(fail.remediation!, /du --inodes/);
  assert.equal(judgeDiskInodes(f(0, 0))[0]!.status, 'pass');
  assert.deepEqual(judgeDiskInodes({ paths: [{ spec: { path: '/x', minFreeGiB: 1 }, stats: stats('/x', '/') }] }), [], 'no inode threshold: no result');
});

test('disk.fsync: percentile, dd parsing, pass / warn / fail / skip as non-root', () => {
  assert.equal(percentile([5, 1, 2, 3, 4, 6, 7, 8, 9, 100], 99), 100);
  assert.equal(percentile(Array.from({ length: 200 }, (_, i) => i + 1), 99), 198);
  assert.equal(parseDdSeconds('200+0 records in\n200+0 records out\n460000 bytes (460 kB, 449 KiB) copied, 0.824 s, 558 kB/s\n'), 0.824);
  const base: FsyncFacts = { path: '/var/lib/etcd', measuredPath: '/var/lib/etcd', writable: true, method: 'fdatasync', samples: 200, requestedSamples: 200, p50Ms: 1, maxMs: 20 };
  const cp = ctx(['control-plane']);
  assert.equal(judgeFsync([{ ...base, p99Ms: 2.1 }], cp)[0]!.status, 'pass');
  const warn = judgeFsync([{ ...base, p99Ms: 18 }], cp)[0]!;
  assert.equal(warn.status, 'warn');
  assert.match(warn.remediation!, /fio --rw=write --ioengine=sync --fdatasync=1 --directory=\/var\/lib\/etcd/);
  assert.equal(judgeFsync([{ ...base, p99Ms: 80 }], cp)[0]!.status, 'fail');
  const dd = judgeFsync([{ ...base, method: 'dd-dsync', p99Ms: undefined, meanMs: 4.1 }], cp)[0]!;
  assert.equal(dd.status, 'pass');
  assert.match(dd.message, /p99 needs a local run/);
  assert.equal(judgeFsync([{ ...base, method: 'dd-dsync', meanMs: 60 }], cp)[0]!.status, 'fail');
  const nonRoot = judgeFsync([{ path: '/var/lib/etcd', measuredPath: '/var/lib', writable: false, uid: 65534 }], ctx(['control-plane'], { isRoot: false }))[0]!;
  assert.equal(nonRoot.status, 'skip');
  assert.equal(nonRoot.id, 'disk.fsync');
  assert.match(nonRoot.message, /needs root: cannot write a test file in \/var\/lib as uid 65534/);
  assert.match(nonRoot.remediation!, /sudo astrago-check --only disk\.fsync/);
  assert.equal(judgeFsync([{ ...base, samples: 0 }], cp)[0]!.status, 'error');
});

test('host.privileges: pass as root or with sudo, warn without', () => {
  assert.equal(judgePrivileges({ uid: 0, user: 'root' }).status, 'pass');
  assert.equal(judgePrivileges({ uid: 1000, user: 'astrago', sudo: 'ok' }).status, 'pass');
  const no = judgePrivileges({ uid: 1000, user: 'astrago', sudo: 'password' });
  assert.equal(no.status, 'warn');
  assert.match(no.remediation!, /astrago ALL=\(ALL\) NOPASSWD: ALL/);
  assert.match(judgePrivileges({ uid: 65534, user: 'nobody', sudo: 'missing' }).message, /sudo is not installed/);
});
