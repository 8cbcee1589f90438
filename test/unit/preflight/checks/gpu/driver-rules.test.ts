// gpu.driver (operator vs preinstalled, minimum version) and gpu.nouveau (loaded,
// blacklisted, the initramfs rebuild per distribution) on recorded facts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import type { JudgeContext } from '../../../../../src/preflight/types.ts';
import type { Profile } from '../../../../../src/schema/profile.ts';
import { nouveauBlacklistLines, nouveauCmdline, type DriverFacts, type NouveauFacts } from '../../../../../src/preflight/checks/gpu/facts/driver.ts';
import { distroOf, packageQuery, parseNvrmVersion, parsePackages } from '../../../../../src/preflight/checks/gpu/facts/node.ts';
import { judgeGpuDriver, judgeNouveau } from '../../../../../src/preflight/checks/gpu/rules/driver.ts';
import { compareVersions, fixFor } from '../../../../../src/preflight/checks/gpu/rules/fix.ts';

const base = loadProfile();
const ctx = (gpu: Partial<Profile['gpu']> = {}): JudgeContext => ({ node: { name: 'gpu-1', roles: ['gpu-worker'] }, profile: { ...base, gpu: { ...base.gpu, ...gpu } }, isRoot: false, lang: 'en' });
const UBUNTU = { id: 'ubuntu', versionId: '22.04', distro: 'debian' as const };
const ROCKY = { id: 'rocky', versionId: '9.4', distro: 'rhel' as const };

function driver(over: Partial<DriverFacts> = {}): DriverFacts {
  return { os: UBUNTU, module: { loaded: false }, operatorDriver: false, packages: [], smi: { state: 'absent' }, ...over };
}
const loaded550 = { loaded: true, version: '550.90.07', source: '/proc/driver/nvidia/version' };

test('versions, distributions, NVRM banner, dpkg/rpm output', () => {
  assert.equal(compareVersions('550.90.07', '535'), 1);
  assert.equal(compareVersions('535', '535.0'), 0);
  assert.equal(compareVersions('530.30.02', '535'), -1);
  assert.equal(distroOf({ id: 'rocky', idLike: ['rhel', 'centos', 'fedora'] }), 'rhel');
  assert.equal(distroOf({ id: 'ubuntu', idLike: ['debian'] }), 'debian');
  assert.equal(distroOf({ id: 'sles' }), undefined);
  assert.equal(parseNvrmVersion('NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.90.07  Fri May 31 09:35:42 UTC 2024\nGCC version:  gcc version 12.3.0'), '550.90.07');
  assert.equal(parseNvrmVersion('NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build'), '560.35.03');
  assert.equal(parseNvrmVersion('550.54.15\n'), '550.54.15', '/sys/module/nvidia/version');
  const dpkg = parsePackages('dpkg\nii |nvidia-driver-550-server|550.90.07-0ubuntu0.22.04.1\nrc |nvidia-driver-535-server|535.183.01-0ubuntu1\nun |nvidia-dkms-550|\n');
  assert.deepEqual(dpkg, { manager: 'dpkg', installed: [{ name: 'nvidia-driver-550-server', version: '550.90.07-0ubuntu0.22.04.1' }] });
  assert.deepEqual(parsePackages('rpm\nii |nvidia-driver|550.90.07-1.el9\n'), { manager: 'rpm', installed: [{ name: 'nvidia-driver', version: '550.90.07-1.el9' }] });
  assert.match(packageQuery(['nvidia-driver-*']).at(-1)!, /dpkg-query -W .* 'nvidia-driver-\*'.*rpm -qa .* 'nvidia-driver-\*'/);
  assert.equal(fixFor({ debian: 'a', rhel: 'b' }, 'rhel'), 'RHEL/Rocky: b\nUbuntu/Debian: a');
  assert.equal(fixFor({ debian: 'x', rhel: 'x' }, undefined, 'note'), 'x\nnote');
});

test('gpu.driver, operator policy: no host driver passes; a loaded or installed one conflicts', () => {
  assert.equal(judgeGpuDriver(driver(), ctx()).status, 'pass');
  const conflict = judgeGpuDriver(driver({ module: loaded550, packages: [{ name: 'nvidia-driver-550-server', version: '550.90.07-0ubuntu1' }] }), ctx());
  assert.equal(conflict.status, 'fail');
  assert.match(conflict.message, /a host NVIDIA driver 550\.90\.07 is loaded \(nvidia-driver-550-server 550\.90\.07-0ubuntu1\)/);
  assert.match(conflict.remediation!, /^Ubuntu\/Debian: sudo apt-get purge -y 'nvidia-driver-\*'.*\nRHEL\/Rocky: sudo dnf module remove.*\nor keep it: set gpu\.driver: preinstalled .*driver\.enabled=false/s);
  const later = judgeGpuDriver(driver({ packages: [{ name: 'kmod-nvidia', version: '550.90.07-1.el9' }], os: ROCKY }), ctx());
  assert.equal(later.status, 'warn');
  assert.match(later.remediation!, /^RHEL\/Rocky: /, "the node's own family first");
  const operatorsOwn = judgeGpuDriver(driver({ module: loaded550, operatorDriver: true }), ctx());
  assert.equal(operatorsOwn.status, 'pass');
  assert.match(operatorsOwn.message, /loaded by the GPU Operator's driver container \(\/run\/nvidia\/driver\)/);
});

test('gpu.driver, preinstalled policy: present, minimum version, nvidia-smi working', () => {
  const pre = ctx({ driver: 'preinstalled', minDriverVersion: '535' });
  const none = judgeGpuDriver(driver(), pre);
  assert.equal(none.status, 'fail');
  assert.match(none.remediation!, /apt-get install -y nvidia-driver-535-server.*\nRHEL\/Rocky: sudo dnf module install -y nvidia-driver:535-dkms/s);
  const ok = judgeGpuDriver(driver({ module: loaded550, smi: { state: 'ok', driverVersion: '550.90.07' } }), pre);
  assert.equal(ok.status, 'pass');
  assert.equal(ok.message, 'host driver 550.90.07 (at least 535)');
  const old = judgeGpuDriver(driver({ module: { loaded: true, version: '525.147.05' }, smi: { state: 'ok', driverVersion: '525.147.05' } }), pre);
  assert.equal(old.status, 'fail');
  assert.match(old.message, /older than 535/);
  const mismatch = judgeGpuDriver(driver({ module: loaded550, smi: { state: 'failed', error: 'Failed to initialize NVML: Driver/library version mismatch' } }), pre);
  assert.equal(mismatch.status, 'fail');
  assert.match(mismatch.remediation!, /reboot/);
  const noSmi = judgeGpuDriver(driver({ module: loaded550 }), pre);
  assert.equal(noSmi.status, 'warn');
  assert.match(noSmi.remediation!, /nvidia-utils-550-server/);
});

test('gpu.nouveau: modprobe.d and command-line blacklists; loaded; not blacklisted', () => {
  assert.deepEqual(nouveauBlacklistLines('# keep nouveau away\nblacklist  nouveau\noptions nouveau modeset=0\ninstall nouveau /bin/false\nblacklist nvidiafb\n'), [
    'blacklist nouveau',
    'options nouveau modeset=0',
    'install nouveau /bin/false',
  ]);
  assert.deepEqual(nouveauCmdline('BOOT_IMAGE=/vmlinuz ro rd.driver.blacklist=nouveau modprobe.blacklist=radeon,nouveau quiet'), ['rd.driver.blacklist=nouveau', 'modprobe.blacklist=radeon,nouveau']);
  const f = (over: Partial<NouveauFacts>): NouveauFacts => ({ os: UBUNTU, loaded: false, seenIn: [], blacklistedBy: [], inKernel: true, kernel: '5.15.0-105-generic', ...over });
  const ok = judgeNouveau(f({ blacklistedBy: ['/etc/modprobe.d/blacklist-nouveau.conf: blacklist nouveau'] }));
  assert.equal(ok.status, 'pass');
  assert.equal(judgeNouveau(f({ inKernel: false })).status, 'pass', 'a kernel without nouveau needs no blacklist');
  const open = judgeNouveau(f({}));
  assert.equal(open.status, 'warn');
  assert.match(open.remediation!, /^Ubuntu\/Debian: .*blacklist-nouveau\.conf && sudo update-initramfs -u && sudo reboot\nRHEL\/Rocky: .* && sudo dracut --force && sudo reboot$/);
  const loaded = judgeNouveau(f({ os: ROCKY, loaded: true, seenIn: ['/proc/modules'], blacklistedBy: ['/etc/modprobe.d/nouveau.conf: blacklist nouveau'] }));
  assert.equal(loaded.status, 'fail');
  assert.match(loaded.message, /blacklisted .*the initramfs still loads it: rebuild it/);
  assert.match(loaded.remediation!, /^RHEL\/Rocky: .*dracut --force/);
});
