// gpu.kernel-headers (headers, local or internet repositories), gpu.secure-boot (efivars
// bytes, mokutil), gpu.iommu, gpu.toolkit (containerd 1.x and 2.x configs) on recorded facts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import type { JudgeContext } from '../../../../../src/preflight/types.ts';
import type { Profile } from '../../../../../src/schema/profile.ts';
import { isLocalRepo, parseAptSources, parseYumRepos, secureBootFromMokutil, secureBootFromVar, type KernelBuildFacts, type SecureBootFacts } from '../../../../../src/preflight/checks/gpu/facts/platform.ts';
import { parseContainerdRuntimes, type ToolkitFacts } from '../../../../../src/preflight/checks/gpu/facts/toolkit.ts';
import { judgeIommu, judgeKernelHeaders, judgeSecureBoot } from '../../../../../src/preflight/checks/gpu/rules/platform.ts';
import { judgeToolkit } from '../../../../../src/preflight/checks/gpu/rules/toolkit.ts';

const base = loadProfile();
const ctx = (gpu: Partial<Profile['gpu']> = {}): JudgeContext => ({ node: { name: 'gpu-1', roles: ['gpu-worker'] }, profile: { ...base, gpu: { ...base.gpu, ...gpu } }, isRoot: false, lang: 'en' });
const UBUNTU = { id: 'ubuntu', versionId: '22.04', distro: 'debian' as const };

test('repositories: one-line and deb822 apt sources, yum repos, local vs internet', () => {
  const list = parseAptSources('deb http://archive.ubuntu.com/ubuntu jammy main\n# deb http://old/ x y\ndeb [arch=amd64 signed-by=/k.gpg] http://repo.acme.local/ubuntu jammy main\n', '/etc/apt/sources.list');
  assert.deepEqual(list.map((r) => [r.url, r.local]), [['http://archive.ubuntu.com/ubuntu', false], ['http://repo.acme.local/ubuntu', true]]);
  const deb822 = parseAptSources('Types: deb\nURIs: http://kr.archive.ubuntu.com/ubuntu\nSuites: noble\n\nTypes: deb\nURIs: file:///srv/mirror\nEnabled: no\n', '/etc/apt/sources.list.d/ubuntu.sources');
  assert.deepEqual(deb822.map((r) => r.url), ['http://kr.archive.ubuntu.com/ubuntu']);
  const yum = parseYumRepos('[baseos]\nname=BaseOS\nmirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever\nenabled=1\n[local]\nbaseurl=http://10.0.0.5/rocky/9/BaseOS\n[off]\nbaseurl=http://x/\nenabled=0\n', '/etc/yum.repos.d/r.repo');
  assert.deepEqual(yum.map((r) => [r.url.split('?')[0], r.local]), [['https://mirrors.rockylinux.org/mirrorlist', false], ['http://10.0.0.5/rocky/9/BaseOS', true]]);
  assert.ok(isLocalRepo('file:///media/cdrom'));
  assert.ok(!isLocalRepo('https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64'));
});

test('gpu.kernel-headers: headers, a local repository, internet-only, nothing', () => {
  const f = (over: Partial<KernelBuildFacts>): KernelBuildFacts => ({ os: UBUNTU, kernel: '5.15.0-105-generic', headers: false, repos: [], ...over });
  assert.equal(judgeKernelHeaders(f({ headers: true }), ctx()).status, 'pass');
  const local = judgeKernelHeaders(f({ repos: [{ file: 'a', url: 'http://repo.acme.local/ubuntu', local: true }] }), ctx());
  assert.equal(local.status, 'pass');
  assert.match(local.message, /local repository http:\/\/repo\.acme\.local\/ubuntu/);
  const internet = judgeKernelHeaders(f({ repos: [{ file: 'a', url: 'http://archive.ubuntu.com/ubuntu', local: false }] }), ctx());
  assert.equal(internet.status, 'warn');
  assert.match(internet.message, /on the internet \(archive\.ubuntu\.com\)/);
  const none = judgeKernelHeaders(f({}), ctx());
  assert.equal(none.status, 'fail');
  assert.match(none.remediation!, /^Ubuntu\/Debian: sudo apt-get install -y linux-headers-\$\(uname -r\)\nRHEL\/Rocky: sudo dnf install -y kernel-devel-\$\(uname -r\)/);
  assert.equal(judgeKernelHeaders(f({}), ctx({ driver: 'preinstalled' })).status, 'skip');
});

test('gpu.secure-boot: efivars bytes and mokutil; operator vs preinstalled', () => {
  assert.equal(secureBootFromVar('\x06\x00\x00\x00\x01'), 'enabled');
  assert.equal(secureBootFromVar('\x06\x00\x00\x00\x00'), 'disabled');
  assert.equal(secureBootFromVar('\x06'), undefined);
  assert.equal(secureBootFromMokutil('SecureBoot enabled\n'), 'enabled');
  assert.equal(secureBootFromMokutil('SecureBoot disabled\nPlatform is in Setup Mode\n'), 'disabled');
  assert.equal(secureBootFromMokutil("This system doesn't support Secure Boot\n"), 'disabled');
  const f = (over: Partial<SecureBootFacts>): SecureBootFacts => ({ os: UBUNTU, uefi: true, state: 'enabled', source: 'efivars', nvidiaLoaded: false, ...over });
  assert.equal(judgeSecureBoot(f({ uefi: false, state: 'disabled' }), ctx()).status, 'pass');
  assert.equal(judgeSecureBoot(f({ state: 'disabled' }), ctx()).status, 'pass');
  const op = judgeSecureBoot(f({}), ctx());
  assert.equal(op.status, 'fail');
  assert.match(op.message, /unsigned and will not load/);
  assert.match(op.remediation!, /mokutil --disable-validation.*\n.*usePrecompiled/s);
  const pre = judgeSecureBoot(f({}), ctx({ driver: 'preinstalled' }));
  assert.equal(pre.status, 'warn');
  assert.match(pre.remediation!, /^Ubuntu\/Debian: sudo update-secureboot-policy --enroll-key.*\nRHEL\/Rocky: sudo mokutil --import \/var\/lib\/dkms\/mok\.pub/s);
  assert.equal(judgeSecureBoot(f({ nvidiaLoaded: true }), ctx()).status, 'pass', 'a loaded module is a signed one');
  const unknown = judgeSecureBoot(f({ state: 'unknown', source: undefined }), ctx());
  assert.equal(unknown.status, 'skip');
  assert.match(unknown.remediation!, /apt-get install -y mokutil/);
});

test('gpu.iommu: skipped unless passthrough; groups present or the kernel parameters', () => {
  const f = { os: { ...UBUNTU, distro: 'rhel' as const }, cmdline: [], units: [], groups: 0, vfioPci: false, cpuVendor: 'AuthenticAMD' };
  assert.equal(judgeIommu(f, ctx()).status, 'skip');
  const off = judgeIommu(f, ctx({ passthrough: true }));
  assert.equal(off.status, 'fail');
  assert.match(off.remediation!, /^RHEL\/Rocky: sudo grubby --update-kernel=ALL --args="amd_iommu=on iommu=pt"/);
  const on = judgeIommu({ ...f, groups: 57, units: ['ivhd0'], vfioPci: true }, ctx({ passthrough: true }));
  assert.equal(on.status, 'pass');
  assert.match(on.message, /57 IOMMU groups \(ivhd0\)/);
});

test('gpu.toolkit: containerd runtimes parsed (1.x and 2.x); policy preinstalled vs operator', () => {
  const v1 = parseContainerdRuntimes(
    'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "nvidia"\n  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n    runtime_type = "io.containerd.runc.v2"\n    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]\n      BinaryName = "/usr/bin/nvidia-container-runtime"\n',
    '/etc/containerd/config.toml',
  );
  assert.equal(v1.defaultRuntime, 'nvidia');
  assert.deepEqual(
    v1.runtimes.map((r) => [r.table.split('.').pop(), r.binary]),
    [['nvidia', '/usr/bin/nvidia-container-runtime']],
    'BinaryName in the options sub-table belongs to its runtime',
  );
  const v2 = parseContainerdRuntimes("version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'nvidia-cdi']\n  BinaryName = '/usr/bin/nvidia-container-runtime.cdi'\n", '/etc/containerd/conf.d/99-nvidia.toml');
  assert.deepEqual(v2.runtimes.map((r) => r.binary), ['/usr/bin/nvidia-container-runtime.cdi']);
  assert.deepEqual(parseContainerdRuntimes('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n', 'x').runtimes, []);
  const f = (over: Partial<ToolkitFacts>): ToolkitFacts => ({ os: UBUNTU, packages: [], binaries: [], configs: [], runtimes: [], ...over });
  assert.equal(judgeToolkit(f({}), ctx()).status, 'pass', 'the operator installs it');
  const both = judgeToolkit(f({ packages: [{ name: 'nvidia-container-toolkit', version: '1.17.3-1' }], runtimes: v1.runtimes }), ctx());
  assert.equal(both.status, 'warn');
  assert.match(both.message, /toolkit\.enabled=false/);
  const pre = ctx({ toolkit: 'preinstalled' });
  const missing = judgeToolkit(f({}), pre);
  assert.equal(missing.status, 'fail');
  assert.match(missing.remediation!, /apt-get install -y nvidia-container-toolkit && sudo nvidia-ctk runtime configure --runtime=containerd/);
  const unconfigured = judgeToolkit(f({ packages: [{ name: 'nvidia-container-toolkit', version: '1.17.3-1' }], configs: [{ file: '/etc/containerd/config.toml', readable: true }] }), pre);
  assert.equal(unconfigured.status, 'fail');
  assert.match(unconfigured.remediation!, /^sudo nvidia-ctk runtime configure --runtime=containerd && sudo systemctl restart containerd$/);
  const unreadable = judgeToolkit(f({ binaries: ['/usr/bin/nvidia-ctk'], configs: [{ file: '/etc/containerd/config.toml', readable: false }] }), pre);
  assert.equal(unreadable.status, 'warn');
  const ok = judgeToolkit(f({ packages: [{ name: 'nvidia-container-toolkit', version: '1.17.3-1' }], configs: [{ file: '/etc/containerd/config.toml', readable: true }], runtimes: v1.runtimes, defaultRuntime: 'nvidia' }), pre);
  assert.equal(ok.status, 'pass');
  assert.match(ok.message, /nvidia-container-toolkit 1\.17\.3-1; containerd runtime nvidia in \/etc\/containerd\/config\.toml; default runtime: nvidia/);
});
