// The GPU probes on this machine's real /proc and /sys, locally and over a real sshd on
// 127.0.0.1: the same facts both ways, no probe errors, and (no GPU here) every GPU check
// says so. The SSH path's one-grep sysfs reader is proven on recorded HGX and InfiniBand
// trees against the local reader of the same trees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sshToSelf, type SelfSsh } from '../support/ssh-self.ts';
import { createLoginUser } from '../support/sshd.ts';
import { hgxDevices, makeIbTree, makePciTree } from '../support/gpu-fixtures.ts';
import { createLocalHost } from '../../src/preflight/hosts/local.ts';
import { runChecks } from '../../src/preflight/engine.ts';
import { loadProfile } from '../../src/preflight/profile.ts';
import { gpuChecks } from '../../src/preflight/checks/gpu/index.ts';
import { gpuSiteCheckList } from '../../src/preflight/checks/fleet/gpu-site-checks.ts';
import { readPci } from '../../src/preflight/checks/gpu/facts/pci.ts';
import { readRdma } from '../../src/preflight/checks/gpu/facts/rdma.ts';
import type { Host, ProbeContext } from '../../src/preflight/types.ts';
import type { CheckResult } from '../../src/schema/report.ts';

let self: SelfSsh;
let ssh: Host;
const profile = loadProfile();

before(async () => {
  self = await sshToSelf('ac-fleet-gpu-'); // ac-fleet*: the login user's home, found again by removeStaleUsers
  ssh = self.host;
});
after(() => self?.close());

async function run(host: Host): Promise<Map<string, CheckResult>> {
  const results = await runChecks({
    nodes: [{ info: { name: host.name, roles: ['gpu-worker'] }, host }],
    checks: gpuChecks,
    siteChecks: gpuSiteCheckList,
    profile,
    timeoutMs: 20_000,
    concurrency: 8,
    lang: 'en',
  });
  return new Map(results.map((r) => [r.id, r]));
}

test('GPU probes: locally and over SSH the same facts; without a GPU every check says so', async () => {
  const [local, remote] = [await run(createLocalHost({ name: 'self' })), await run(ssh)];
  const ids = gpuChecks.map((c) => c.id);
  for (const id of ids) {
    assert.ok(local.has(id) && remote.has(id), `${id} ran both ways`);
    for (const r of [local.get(id)!, remote.get(id)!]) assert.notEqual(r.status, 'error', `${id} on ${r.node}: ${r.message}`);
    assert.equal(remote.get(id)!.status, local.get(id)!.status, `${id}: ${remote.get(id)!.message} vs ${local.get(id)!.message}`);
  }
  const same = (id: string, keys: string[]) => {
    const pick = (m: Map<string, CheckResult>) => Object.fromEntries(keys.map((k) => [k, m.get(id)?.facts[k]]));
    assert.deepEqual(pick(remote), pick(local), id);
  };
  same('gpu.devices', ['count', 'gpus', 'pciReadable']);
  same('gpu.driver', ['module', 'packages', 'operatorDriver', 'os']);
  same('gpu.nouveau', ['loaded', 'seenIn', 'blacklistedBy', 'inKernel', 'kernel']);
  same('gpu.kernel-headers', ['kernel', 'headers', 'repos']);
  same('gpu.secure-boot', ['uefi', 'state']);
  same('gpu.iommu', ['groups', 'units', 'cmdline']);
  same('gpu.toolkit', ['packages', 'binaries', 'configs', 'runtimes']);
  same('rdma.devices', ['present', 'hcas', 'ports']);
  for (const id of ['gpu.site.driver', 'gpu.site.os', 'gpu.site.model', 'rdma.site.rate']) assert.ok(local.has(id) && remote.has(id), `${id} ran`);

  const count = local.get('gpu.devices')!.facts.count as number;
  if (count === 0) {
    // This machine: no NVIDIA GPU. Each GPU check's message must say it, whatever its verdict.
    assert.equal(local.get('gpu.devices')!.status, 'fail', 'a gpu-worker without a GPU fails');
    for (const id of ids) assert.match(local.get(id)!.message, /no NVIDIA GPU/, id);
    assert.equal(local.get('gpu.model')!.status, 'skip');
    assert.match(local.get('gpu.model')!.message, /nvidia-smi is not on this node/);
  } else {
    assert.equal(local.get('gpu.devices')!.status, 'pass', local.get('gpu.devices')!.message);
  }
});

test('as an unprivileged SSH user the GPU probes find what root finds', async () => {
  const login = createLoginUser(`ac${process.pid}u`, self.dir);
  const user = await self.connectAs(login.name);
  try {
    assert.notEqual(await user.uid(), 0);
    const [asRoot, asUser] = [await run(ssh), await run(user)];
    for (const c of gpuChecks) {
      const [r, u] = [asRoot.get(c.id)!, asUser.get(c.id)!];
      assert.notEqual(u.status, 'error', `${c.id}: ${u.message}`);
      assert.equal(u.status, r.status, `${c.id}: ${u.message} vs ${r.message}`);
      assert.equal(u.message, r.message, c.id);
    }
  } finally {
    await user.close();
    login.remove();
  }
});

test('site checks across two GPU nodes (this machine locally and over SSH): one OS and kernel, one model', async () => {
  const results = await runChecks({
    nodes: [
      { info: { name: 'gpu-a', roles: ['gpu-worker'] }, host: createLocalHost({ name: 'gpu-a' }) },
      { info: { name: 'gpu-b', roles: ['gpu-worker'] }, host: ssh },
      { info: { name: 'cp', roles: ['control-plane'] }, host: createLocalHost({ name: 'cp' }) },
    ],
    checks: [],
    siteChecks: gpuSiteCheckList,
    profile,
    timeoutMs: 20_000,
    concurrency: 4,
    lang: 'en',
  });
  const by = new Map(results.map((r) => [r.id, r]));
  const os = by.get('gpu.site.os')!;
  assert.equal(os.status, 'pass', os.message);
  assert.match(os.message, /, kernel \S+ on all 2 GPU nodes$/, 'the control-plane node is not compared');
  assert.deepEqual(Object.keys(os.facts.values as object).sort(), ['gpu-a', 'gpu-b']);
  const model = by.get('gpu.site.model')!;
  assert.equal(model.status, 'pass', model.message);
  const driver = by.get('gpu.site.driver')!;
  assert.notEqual(driver.status, 'error', driver.message);
  assert.equal(by.get('rdma.site.rate')!.node, 'site');
});

test('the SSH one-grep sysfs reader finds what the local reader finds (HGX board, InfiniBand)', async () => {
  const root = join(self.dir, 'sys');
  const { devices, slots } = hgxDevices({ degraded: '0000:3a:00.0' });
  makePciTree(root, devices, slots);
  makeIbTree(root, [
    { hca: 'mlx5_0', port: 1, state: '4: ACTIVE', physState: '5: LinkUp', rate: '400 Gb/sec (4X NDR)', linkLayer: 'InfiniBand' },
    { hca: 'mlx5_1', port: 1, state: '1: DOWN', physState: '3: Disabled', rate: '10 Gb/sec (4X SDR)', linkLayer: 'InfiniBand' },
  ]);
  const signal = new AbortController().signal;
  const [localPci, remotePci] = [await readPci(createLocalHost(), signal, root), await readPci(ssh, signal, root)];
  assert.equal(localPci.devices.length, 21);
  assert.deepEqual(remotePci, localPci);
  assert.equal(remotePci.devices.find((d) => d.address === '0000:3a:00.0')!.link.currentWidth, 8);
  const probe = (host: Host) => ({ host, signal, timeoutMs: 10_000 }) as ProbeContext;
  const [localIb, remoteIb] = [await readRdma(probe(createLocalHost()), root), await readRdma(probe(ssh), root)];
  assert.equal(localIb.ports.length, 2);
  assert.deepEqual(remoteIb, localIb);
  assert.deepEqual(await readPci(ssh, signal, join(root, 'none')), { readable: false, devices: [], slots: {} });
});
