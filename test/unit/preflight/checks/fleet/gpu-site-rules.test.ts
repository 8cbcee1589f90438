// The GPU site rules on recorded per-node samples: one driver version, one OS release
// and kernel, one GPU model and count, one RDMA rate across the GPU nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import { judgeSameAcross, judgeSiteDriver, judgeSiteModel, judgeSiteOs, judgeSiteRdmaRate } from '../../../../../src/preflight/checks/fleet/gpu-site-rules.ts';
import { modelSamples } from '../../../../../src/preflight/checks/fleet/gpu-site-checks.ts';

const profile = loadProfile();
const pre = { ...profile, gpu: { ...profile.gpu, driver: 'preinstalled' as const } };

test('gpu.site.driver: one version passes; two versions fail naming the nodes; none under the operator passes', () => {
  const same = judgeSiteDriver([{ node: 'g1', value: '550.90.07' }, { node: 'g2', value: '550.90.07' }, { node: 'g3', error: 'node unreachable' }], pre);
  assert.equal(same[0]!.status, 'pass');
  assert.equal(same[0]!.message, 'NVIDIA driver 550.90.07 on all 2 GPU nodes; not read on g3 (node unreachable)');
  const two = judgeSiteDriver([{ node: 'g1', value: '550.90.07' }, { node: 'g2', value: '535.183.01' }, { node: 'g3', value: '550.90.07' }], pre)[0]!;
  assert.equal(two.status, 'fail');
  assert.equal(two.message, 'NVIDIA driver differs across GPU nodes: 550.90.07 on g1, g3; 535.183.01 on g2');
  assert.match(two.remediation!, /nvidia-driver-550-server="\$\(apt-cache madison .*\nRHEL\/Rocky: sudo dnf install -y nvidia-driver-550\.90\.07/s);
  assert.equal(two.facts!.majority, '550.90.07');
  const none = judgeSiteDriver([{ node: 'g1', error: 'no NVIDIA driver loaded' }, { node: 'g2', error: 'no NVIDIA driver loaded' }], profile)[0]!;
  assert.equal(none.status, 'pass');
  assert.match(none.message, /GPU Operator installs one version/);
  assert.equal(judgeSiteDriver([{ node: 'g1', error: 'no NVIDIA driver loaded' }], pre)[0]!.status, 'skip');
  assert.deepEqual(judgeSiteDriver([], pre), [], 'a site without GPU nodes: no result');
});

test('gpu.site.os, gpu.site.model, rdma.site.rate', () => {
  const os = judgeSiteOs([{ node: 'g1', value: 'ubuntu 22.04, kernel 5.15.0-105-generic' }, { node: 'g2', value: 'ubuntu 22.04, kernel 5.15.0-119-generic' }])[0]!;
  assert.equal(os.status, 'warn');
  assert.match(os.remediation!, /linux-image-5\.15\.0-105-generic linux-headers-5\.15\.0-105-generic/);
  assert.equal(judgeSiteOs([{ node: 'g1', value: 'x' }])[0]!.status, 'skip', 'one node: nothing to compare');
  // Before the driver, PCI ids stand in for nvidia-smi's names on every node alike.
  const samples = modelSamples([
    { node: 'g1', smi: '8 × NVIDIA H200', pci: '8 × PCI 10de:2335' },
    { node: 'g2', pci: '8 × PCI 10de:2335' },
  ]);
  assert.deepEqual(samples.map((s) => s.value), ['8 × PCI 10de:2335', '8 × PCI 10de:2335']);
  assert.equal(judgeSiteModel(samples)[0]!.status, 'pass');
  const mixed = judgeSiteModel(modelSamples([{ node: 'g1', smi: '8 × NVIDIA H200' }, { node: 'g2', smi: '4 × NVIDIA A100 80GB PCIe' }]))[0]!;
  assert.equal(mixed.status, 'warn');
  assert.match(mixed.message, /8 × NVIDIA H200 on g1; 4 × NVIDIA A100 80GB PCIe on g2/);
  const rdma = { ...profile, rdma: { ...profile.rdma, required: true } };
  assert.equal(judgeSiteRdmaRate([{ node: 'g1', value: '400 Gb/sec (4X NDR)' }, { node: 'g2', value: '200 Gb/sec (4X HDR)' }], rdma)[0]!.status, 'fail');
  assert.equal(judgeSiteRdmaRate([{ node: 'g1', value: '400 Gb/sec (4X NDR)' }, { node: 'g2', value: '200 Gb/sec (4X HDR)' }], profile)[0]!.status, 'warn');
  assert.equal(judgeSiteRdmaRate([{ node: 'g1', error: 'no HCA' }, { node: 'g2', error: 'no HCA' }], profile)[0]!.status, 'skip');
  assert.equal(judgeSameAcross([{ node: 'a', error: 'x' }], { what: 'w', differs: 'warn', remediation: () => '' })[0]!.message, 'no GPU node told its w; not read on a (x)');
});
