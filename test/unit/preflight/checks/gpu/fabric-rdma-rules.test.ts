// gpu.fabricmanager on HGX facts (NVSwitches from a recorded sysfs tree, the fabric
// state from nvidia-smi), and the RDMA checks on an InfiniBand sysfs tree read through
// this machine's Host.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalHost } from '../../../../../src/preflight/hosts/local.ts';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import type { JudgeContext, ProbeContext } from '../../../../../src/preflight/types.ts';
import type { Profile } from '../../../../../src/schema/profile.ts';
import { isNvSwitch, pciId, readPci } from '../../../../../src/preflight/checks/gpu/facts/pci.ts';
import { readRdma, type RdmaFacts } from '../../../../../src/preflight/checks/gpu/facts/rdma.ts';
import { parseSmiXml } from '../../../../../src/preflight/checks/gpu/facts/smi-xml.ts';
import type { FabricFacts } from '../../../../../src/preflight/checks/gpu/facts/fabric.ts';
import { judgeFabricManager, upstreamVersion } from '../../../../../src/preflight/checks/gpu/rules/fabric.ts';
import { judgePeermem, judgeRdmaDevices, judgeRdmaPorts } from '../../../../../src/preflight/checks/gpu/rules/rdma.ts';
import { hgxDevices, makeIbTree, makePciTree, smiFixture } from '../../../../support/gpu-fixtures.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ac-sysfs-'));
  dirs.push(d);
  return d;
};
const base = loadProfile();
type Over = { gpu?: Partial<Profile['gpu']>; rdma?: Partial<Profile['rdma']> };
const ctx = (o: Over = {}): JudgeContext => ({
  node: { name: 'gpu-1', roles: ['gpu-worker'] },
  profile: { ...base, gpu: { ...base.gpu, ...o.gpu }, rdma: { ...base.rdma, ...o.rdma } },
  isRoot: false,
  lang: 'en',
});
const UBUNTU = { id: 'ubuntu', versionId: '22.04', distro: 'debian' as const };

async function hgxFabric(over: Partial<FabricFacts>, smiFile = 'hgx-h200-nvswitch.xml'): Promise<FabricFacts> {
  const root = temp();
  const { devices, slots } = hgxDevices();
  makePciTree(root, devices, slots);
  const pci = await readPci(createLocalHost(), new AbortController().signal, root);
  const smi = await parseSmiXml(smiFixture(smiFile));
  return {
    os: UBUNTU,
    nvswitches: pci.devices.filter((d) => isNvSwitch(d.vendor, d.class)).map((d) => ({ address: d.address, id: pciId(d) })),
    module: { loaded: true, version: smi.driverVersion },
    packages: [{ name: 'nvidia-fabricmanager-550', version: `${smi.driverVersion}-1` }],
    unit: { load: 'loaded', active: 'active', enabled: 'enabled' },
    gpuFabric: smi.gpus.filter((g) => g.fabric).map((g) => ({ busId: g.busId, ...g.fabric })),
    ...over,
  };
}

test('gpu.fabricmanager: HGX H200 with Fabric Manager at the driver version passes (preinstalled)', async () => {
  const pre = ctx({ gpu: { driver: 'preinstalled' } });
  const ok = judgeFabricManager(await hgxFabric({}), pre);
  assert.equal(ok.status, 'pass');
  assert.match(ok.message, /^4 NVSwitches \(10de:22a3\): nvidia-fabricmanager 550\.90\.07 enabled and running/);
  assert.equal(upstreamVersion('550.90.07-0ubuntu0.22.04.1'), '550.90.07');
});

test('gpu.fabricmanager: missing, wrong version, stopped, GPUs outside the fabric fail', async () => {
  const pre = ctx({ gpu: { driver: 'preinstalled' } });
  const missing = judgeFabricManager(await hgxFabric({ packages: [], unit: { load: 'not-found' } }), pre);
  assert.equal(missing.status, 'fail');
  assert.match(missing.message, /nvidia-fabricmanager is not installed/);
  assert.match(missing.remediation!, /apt-get install -y nvidia-fabricmanager-550="\$\(apt-cache madison nvidia-fabricmanager-550 .*v=550\.90\.07.*\nRHEL\/Rocky: sudo dnf install -y nvidia-fabric-manager-550\.90\.07 && sudo systemctl enable --now nvidia-fabricmanager/s);
  const skew = judgeFabricManager(await hgxFabric({ packages: [{ name: 'nvidia-fabricmanager-550', version: '550.54.15-1' }] }), pre);
  assert.match(skew.message, /its version 550\.54\.15 differs from the driver's 550\.90\.07/);
  const stopped = judgeFabricManager(await hgxFabric({ unit: { load: 'loaded', active: 'failed', enabled: 'disabled' } }), pre);
  assert.match(stopped.message, /not enabled at boot.*not running/);
  const h100 = await hgxFabric({ module: { loaded: true, version: '535.183.06' }, packages: [{ name: 'nvidia-fabricmanager-535', version: '535.183.06-1' }] }, 'hgx-h100-fabric-not-started.xml');
  const notJoined = judgeFabricManager(h100, pre);
  assert.equal(notJoined.status, 'fail');
  assert.match(notJoined.message, /8 GPU\(s\) not in the NVLink fabric \(00000000:18:00\.0: Not Started/);
});

test('gpu.fabricmanager: operator policy and non-NVSwitch systems', async () => {
  assert.equal(judgeFabricManager(await hgxFabric({ packages: [], unit: {} }), ctx()).status, 'pass');
  const clash = judgeFabricManager(await hgxFabric({}), ctx());
  assert.equal(clash.status, 'warn', "the host's fabric manager competes with the driver container's");
  assert.match(clash.remediation!, /^sudo systemctl disable --now nvidia-fabricmanager$/);
  const pcie = judgeFabricManager({ os: UBUNTU, nvswitches: [], module: { loaded: false }, packages: [], unit: {}, gpuFabric: null }, ctx({ gpu: { driver: 'preinstalled' } }));
  assert.equal(pcie.status, 'pass');
  assert.match(pcie.message, /no NVSwitch/);
});

async function ib(ports: Parameters<typeof makeIbTree>[1]): Promise<RdmaFacts> {
  const root = temp();
  makeIbTree(root, ports);
  const p = { host: createLocalHost(), signal: new AbortController().signal, timeoutMs: 5000 } as ProbeContext;
  return readRdma(p, root);
}
const NDR = { state: '4: ACTIVE', physState: '5: LinkUp', rate: '400 Gb/sec (4X NDR)', linkLayer: 'InfiniBand' };

test('rdma: HCAs and ports from /sys/class/infiniband; ACTIVE, link layer, rate', async () => {
  const f = await ib([
    { hca: 'mlx5_0', port: 1, ...NDR },
    { hca: 'mlx5_1', port: 1, ...NDR },
  ]);
  assert.deepEqual(f.hcas, [
    { name: 'mlx5_0', type: 'MT4129', firmware: '28.39.1002' },
    { name: 'mlx5_1', type: 'MT4129', firmware: '28.39.1002' },
  ]);
  assert.deepEqual(f.ports[0], { hca: 'mlx5_0', port: '1', state: 'ACTIVE', physState: 'LinkUp', rate: '400 Gb/sec (4X NDR)', rateGbps: 400, linkLayer: 'InfiniBand' });
  const req = ctx({ rdma: { required: true, linkLayer: 'InfiniBand', minRateGbps: 200 } });
  assert.equal(judgeRdmaDevices(f, req).status, 'pass');
  const ports = judgeRdmaPorts(f, req);
  assert.equal(ports.status, 'pass');
  assert.equal(ports.message, '2 port(s) ACTIVE, InfiniBand, 400 Gb/sec (4X NDR)');

  const down = await ib([
    { hca: 'mlx5_0', port: 1, ...NDR },
    { hca: 'mlx5_1', port: 1, state: '1: DOWN', physState: '2: Polling', rate: '10 Gb/sec (4X SDR)', linkLayer: 'InfiniBand' },
  ]);
  const j = judgeRdmaPorts(down, req);
  assert.equal(j.status, 'fail');
  assert.match(j.message, /not ACTIVE: mlx5_1 port 1 DOWN \(Polling\)/);
  assert.match(j.remediation!, /ibstat/);
  assert.equal(judgeRdmaPorts(down, ctx()).status, 'warn', 'no RDMA required: a down port is worth a look');
  const roce = await ib([{ hca: 'mlx5_0', port: 1, state: '4: ACTIVE', physState: '5: LinkUp', rate: '100 Gb/sec (4X EDR)', linkLayer: 'Ethernet' }]);
  assert.match(judgeRdmaPorts(roce, req).message, /link layer not InfiniBand: mlx5_0 port 1 Ethernet; below 200 Gb\/s: mlx5_0 port 1 100 Gb\/sec/);

  const none = await readRdma({ host: createLocalHost(), signal: new AbortController().signal, timeoutMs: 5000 } as ProbeContext, join(temp(), 'no-sys'));
  assert.equal(none.present, false);
  assert.equal(judgeRdmaDevices(none, ctx()).status, 'skip');
  const need = judgeRdmaDevices({ ...none, os: UBUNTU }, req);
  assert.equal(need.status, 'fail');
  assert.match(need.remediation!, /rdma-core/);
});

test('rdma.peermem: profile, operator policy, preinstalled', () => {
  const f = { os: UBUNTU, loaded: null };
  assert.equal(judgePeermem(f, ctx()).status, 'skip');
  assert.match(judgePeermem(f, ctx({ rdma: { gpuDirect: true } })).message, /driver\.rdma\.enabled=true/);
  const pre = judgePeermem(f, ctx({ rdma: { gpuDirect: true }, gpu: { driver: 'preinstalled' } }));
  assert.equal(pre.status, 'fail');
  assert.match(pre.remediation!, /modprobe nvidia_peermem && echo nvidia_peermem \| sudo tee \/etc\/modules-load\.d\/nvidia-peermem\.conf/);
  assert.equal(judgePeermem({ os: UBUNTU, loaded: 'nvidia_peermem' }, ctx({ rdma: { gpuDirect: true } })).status, 'pass');
});
