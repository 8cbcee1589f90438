// Kernel and LSM rules judged on recorded facts (no machine needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import type { JudgeContext, Judgement } from '../../../../../src/preflight/types.ts';
import { kernelVersion, compareVersions } from '../../../../../src/preflight/checks/kernel/version.ts';
import { kernelModules, moduleState, type ModuleFacts } from '../../../../../src/preflight/checks/kernel/modules.ts';
import { kernelSysctl, parseSysctlConf } from '../../../../../src/preflight/checks/kernel/sysctl.ts';
import { kernelSwap, parseProcSwaps, fstabSwapLines } from '../../../../../src/preflight/checks/kernel/swap.ts';
import { kernelCgroup } from '../../../../../src/preflight/checks/kernel/cgroup.ts';
import { securityApparmor, securitySelinux } from '../../../../../src/preflight/checks/kernel/security.ts';

const profile = loadProfile();
const ctx: JudgeContext = { node: { name: 'n1', roles: ['control-plane'] }, profile, isRoot: true, lang: 'en' };
const one = (j: Judgement | Judgement[]): Judgement => (Array.isArray(j) ? j[0]! : j);

test('kernel.version: at/above minimum passes, below fails with an upgrade remediation, unknown is an error', () => {
  assert.equal(compareVersions('5.15.0-91-generic', '4.15'), 1);
  assert.equal(compareVersions('4.15', '4.15.0'), 0);
  assert.equal(one(kernelVersion.judge({ release: '5.15.0-91-generic' }, ctx)).status, 'pass');
  const old = one(kernelVersion.judge({ release: '3.10.0-1160.el7.x86_64' }, ctx));
  assert.equal(old.status, 'fail');
  assert.match(old.message, /3\.10\.0.*older than the required 4\.15/);
  assert.match(old.remediation!, /reboot/);
  assert.equal(one(kernelVersion.judge({ release: null }, ctx)).status, 'error');
});

const noModules: ModuleFacts = {
  release: '6.1.0',
  loaded: null,
  sysModule: [],
  builtinList: null,
  config: {},
  procTrace: [],
  filesystems: ['ext4'],
  loadAtBoot: [],
  wanted: ['br_netfilter', 'overlay', 'nf_conntrack'],
};

test('kernel.modules: built in (no loadable modules, as on this CI machine) passes', () => {
  const f: ModuleFacts = { ...noModules, config: { CONFIG_BRIDGE_NETFILTER: 'y' }, filesystems: ['ext4', 'overlay'], procTrace: ['nf_conntrack'] };
  assert.deepEqual(moduleState('br_netfilter', f), { state: 'builtin', evidence: 'CONFIG_BRIDGE_NETFILTER=y' });
  assert.equal(moduleState('overlay', f).state, 'builtin');
  const j = one(kernelModules.judge(f, ctx));
  assert.equal(j.status, 'pass');
  assert.match(j.message, /br_netfilter: builtin/);
});

test('kernel.modules: loaded and listed in modules-load.d passes; loaded but not persistent warns', () => {
  const f: ModuleFacts = { ...noModules, loaded: ['br_netfilter', 'overlay', 'nf_conntrack', 'ext4'], loadAtBoot: ['br_netfilter', 'overlay', 'nf_conntrack'] };
  assert.equal(one(kernelModules.judge(f, ctx)).status, 'pass');
  const w = one(kernelModules.judge({ ...f, loadAtBoot: ['overlay'] }, ctx));
  assert.equal(w.status, 'warn');
  assert.match(w.message, /br_netfilter, nf_conntrack loaded now but not listed/);
  assert.match(w.remediation!, /modules-load\.d\/k8s\.conf/);
});

test('kernel.modules: missing or modular-but-unloaded fails with modprobe + modules-load.d', () => {
  const f: ModuleFacts = { ...noModules, loaded: ['overlay', 'nf_conntrack'], config: { CONFIG_BRIDGE_NETFILTER: 'm' } };
  const j = one(kernelModules.judge(f, ctx));
  assert.equal(j.status, 'fail');
  assert.match(j.message, /br_netfilter \(not loaded\)/);
  assert.match(j.remediation!, /modprobe br_netfilter/);
  assert.match(j.remediation!, /\/etc\/modules-load\.d\/k8s\.conf/);
  const gone = one(kernelModules.judge({ ...noModules, loaded: ['overlay', 'nf_conntrack'] }, ctx));
  assert.match(gone.message, /br_netfilter \(not in this kernel\)/);
});

test('kernel.sysctl: right and persisted passes; runtime only warns; wrong or absent fails', () => {
  const good = { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' };
  assert.equal(one(kernelSysctl.judge({ current: good, persisted: good }, ctx)).status, 'pass');
  const w = one(kernelSysctl.judge({ current: good, persisted: { 'net.ipv4.ip_forward': '1' } }, ctx));
  assert.equal(w.status, 'warn');
  assert.match(w.message, /bridge-nf-call-iptables = 1/);
  assert.match(w.remediation!, /99-kubernetes\.conf[\s\S]*sysctl --system/);
  const f = one(kernelSysctl.judge({ current: { 'net.ipv4.ip_forward': '0', 'net.bridge.bridge-nf-call-iptables': null }, persisted: {} }, ctx));
  assert.equal(f.status, 'fail');
  assert.match(f.message, /net\.ipv4\.ip_forward = 0 \(want 1\)/);
  assert.match(f.message, /bridge-nf-call-iptables = \(absent\)/);
  assert.match(f.remediation!, /modprobe br_netfilter/);
  assert.deepEqual(parseSysctlConf('# c\nnet.ipv4.ip_forward=1\n-net/bridge/bridge-nf-call-iptables = 1\n; x'), { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' });
});

test('kernel.swap: off passes, active fails (swapoff + fstab), fstab entry alone warns', () => {
  const swaps = parseProcSwaps('Filename\tType\tSize\tUsed\tPriority\n/swap.img file 2097148 0 -2\n');
  assert.deepEqual(swaps, [{ device: '/swap.img', type: 'file', sizeKiB: 2097148 }]);
  assert.equal(one(kernelSwap.judge({ active: [], fstab: [] }, ctx)).status, 'pass');
  const f = one(kernelSwap.judge({ active: swaps, fstab: [] }, ctx));
  assert.equal(f.status, 'fail');
  assert.match(f.remediation!, /swapoff -a[\s\S]*\/etc\/fstab/);
  const fstab = fstabSwapLines('/dev/sda1 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n#/old none swap sw 0 0\n');
  assert.deepEqual(fstab, ['/swap.img none swap sw 0 0']);
  assert.equal(one(kernelSwap.judge({ active: [], fstab }, ctx)).status, 'warn');
  const allowed = { ...ctx, profile: { ...profile, kernel: { ...profile.kernel, swapAllowed: true } } };
  assert.equal(one(kernelSwap.judge({ active: swaps, fstab: [] }, allowed)).status, 'pass');
});

test('kernel.cgroup: v2 passes; v1 passes under "any" but fails when v2 is required', () => {
  const v2 = { controllers: 'cpu memory pids', mounts: ['cgroup2 /sys/fs/cgroup'] };
  const v1 = { controllers: null, mounts: ['cgroup /sys/fs/cgroup/memory', 'cgroup /sys/fs/cgroup/cpu'] };
  assert.equal(one(kernelCgroup.judge(v2, ctx)).status, 'pass');
  const any = one(kernelCgroup.judge(v1, ctx));
  assert.equal(any.status, 'pass');
  assert.match(any.message, /cgroup v1/);
  const strict = { ...ctx, profile: { ...profile, kernel: { ...profile.kernel, cgroup: 'v2' as const } } };
  const f = one(kernelCgroup.judge(v1, strict));
  assert.equal(f.status, 'fail');
  assert.match(f.remediation!, /systemd\.unified_cgroup_hierarchy=1/);
  assert.equal(one(kernelCgroup.judge({ controllers: null, mounts: [] }, ctx)).status, 'warn');
});

test('security.selinux: absent = disabled passes; enforcing fails with a persistent fix; config drift warns', () => {
  const none = one(securitySelinux.judge({ getenforce: null, enforceFile: null, configured: null }, ctx));
  assert.equal(none.status, 'pass');
  assert.match(none.message, /not present/);
  const enf = one(securitySelinux.judge({ getenforce: 'Enforcing', enforceFile: '1', configured: 'enforcing' }, ctx));
  assert.equal(enf.status, 'fail');
  assert.match(enf.remediation!, /setenforce 0[\s\S]*SELINUX=permissive/);
  const drift = one(securitySelinux.judge({ getenforce: 'Permissive', enforceFile: '0', configured: 'enforcing' }, ctx));
  assert.equal(drift.status, 'warn');
  assert.match(drift.message, /enforcing at next boot/);
});

test('security.apparmor: reports the mode (every mode passes), counts profiles as root', () => {
  assert.match(one(securityApparmor.judge({ enabled: null, profiles: null, isRoot: false }, ctx)).message, /not in this kernel/);
  const on = one(securityApparmor.judge({ enabled: 'Y', profiles: { enforce: 12, complain: 1 }, isRoot: true }, ctx));
  assert.equal(on.status, 'pass');
  assert.match(on.message, /12 profiles enforcing/);
  assert.match(one(securityApparmor.judge({ enabled: 'Y', profiles: null, isRoot: false }, ctx)).message, /need root/);
});
