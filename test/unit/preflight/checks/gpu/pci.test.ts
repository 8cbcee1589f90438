// PCI facts from sysfs trees laid out as the kernel does (temp directories, read through
// this machine's Host), and the PCIe link rule on a healthy and a degraded HGX board.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalHost } from '../../../../../src/preflight/hosts/local.ts';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import type { JudgeContext } from '../../../../../src/preflight/types.ts';
import { isNvSwitch, parseUpstream, readPci, slotOf } from '../../../../../src/preflight/checks/gpu/facts/pci.ts';
import { parseSysfsGrep } from '../../../../../src/preflight/checks/gpu/facts/sysfs.ts';
import { gpuDevicesFacts, judgeGpuDevices, judgePcie, pcieFacts } from '../../../../../src/preflight/checks/gpu/rules/devices.ts';
import { hgxDevices, makePciTree } from '../../../../support/gpu-fixtures.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const host = createLocalHost({ name: 'self' });
const signal = new AbortController().signal;
const profile = loadProfile();
const ctx = (p = profile): JudgeContext => ({ node: { name: 'gpu-1', roles: ['gpu-worker'] }, profile: p, isRoot: false, lang: 'en' });

function tree(opts: Parameters<typeof hgxDevices>[0] = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'ac-sysfs-'));
  dirs.push(root);
  const { devices, slots } = hgxDevices(opts);
  makePciTree(root, devices, slots);
  return root;
}

test('readPci: functions, links, the bridges above each GPU and its slot', async () => {
  const f = await readPci(host, signal, tree());
  assert.equal(f.readable, true);
  assert.equal(f.devices.length, 1 + 16 + 4);
  const gpu = f.devices.find((d) => d.address === '0000:9a:00.0')!;
  assert.deepEqual(
    { vendor: gpu.vendor, device: gpu.device, class: gpu.class, link: gpu.link, upstream: gpu.upstream },
    { vendor: '0x10de', device: '0x2335', class: '0x030200', link: { currentSpeed: '32.0 GT/s PCIe', maxSpeed: '32.0 GT/s PCIe', currentWidth: 16, maxWidth: 16 }, upstream: ['0000:00:01.0', '0000:99:00.0'] },
  );
  assert.equal(slotOf(gpu, f.slots), '5', 'the slot of the switch port above the GPU');
  assert.equal(f.devices.filter((d) => isNvSwitch(d.vendor, d.class)).length, 4);
  const dev = gpuDevicesFacts(f);
  assert.equal(dev.gpus.length, 8);
  assert.equal(dev.gpus[0]!.id, '10de:2335');
  assert.equal(judgeGpuDevices(dev, ctx()).status, 'pass');
  assert.deepEqual(await readPci(host, signal, join(tree(), 'nothing-here')), { readable: false, devices: [], slots: {} });
});

test('gpu.pcie: healthy board passes, a narrow link fails naming the slot, an idle link is a note', async () => {
  const healthy = judgePcie(pcieFacts(await readPci(host, signal, tree())), ctx());
  assert.equal(healthy.status, 'pass');
  assert.match(healthy.message, /^8 GPU links at full width \(x16\)$/);

  const degraded = judgePcie(pcieFacts(await readPci(host, signal, tree({ degraded: '0000:3a:00.0' })), 'rhel'), ctx());
  assert.equal(degraded.status, 'fail');
  assert.match(degraded.message, /0000:3a:00\.0 \(slot 3\) x8 of x16/);
  assert.match(degraded.remediation!, /^RHEL\/Rocky: sudo dnf install -y pciutils && sudo lspci -vv -s 0000:3a:00\.0/);
  assert.match(degraded.remediation!, /\nUbuntu\/Debian: sudo apt-get install -y pciutils/);
  assert.match(degraded.remediation!, /reseat the GPU/);
  const warnOnly = judgePcie(pcieFacts(await readPci(host, signal, tree({ degraded: '0000:3a:00.0' }))), ctx({ ...profile, gpu: { ...profile.gpu, pcie: { width: 'warn', speed: 'note' } } }));
  assert.equal(warnOnly.status, 'warn');

  const idle = judgePcie(pcieFacts(await readPci(host, signal, tree({ slow: '0000:db:00.0' }))), ctx());
  assert.equal(idle.status, 'pass', 'an idle GPU trains down: only a note');
  assert.match(idle.message, /0000:db:00\.0 \(slot 8\) at 2\.5 GT\/s PCIe of 32\.0 GT\/s PCIe \(idle GPUs lower their link speed/);
  const strict = judgePcie(pcieFacts(await readPci(host, signal, tree({ slow: '0000:db:00.0' }))), ctx({ ...profile, gpu: { ...profile.gpu, pcie: { width: 'fail', speed: 'warn' } } }));
  assert.equal(strict.status, 'warn');
});

test('gpu.pcie: no GPU, no link attributes, unreadable sysfs: skip with the reason', () => {
  assert.match(judgePcie({ pciReadable: true, links: [] }, ctx()).message, /no NVIDIA GPU on the PCI bus/);
  assert.match(judgePcie({ pciReadable: true, links: [{ address: '0000:17:00.0' }] }, ctx()).message, /no PCIe link width/);
  assert.equal(judgePcie({ pciReadable: false, links: [] }, ctx()).status, 'skip');
});

test('grep and ls parsers: names with colons, values with slashes', () => {
  const attrs = parseSysfsGrep('0000:17:00.0/vendor:0x10de\n0000:17:00.0/current_link_speed:16.0 GT/s PCIe\nmlx5_0/ports/1/rate:400 Gb/sec (4X NDR)\nmlx5_0/ports/1/state:4: ACTIVE\n', [
    '*/vendor',
    '*/current_link_speed',
    '*/ports/*/rate',
    '*/ports/*/state',
  ]);
  assert.deepEqual([...attrs], [
    ['0000:17:00.0/vendor', '0x10de'],
    ['0000:17:00.0/current_link_speed', '16.0 GT/s PCIe'],
    ['mlx5_0/ports/1/rate', '400 Gb/sec (4X NDR)'],
    ['mlx5_0/ports/1/state', '4: ACTIVE'],
  ]);
  const ls = 'total 0\nlrwxrwxrwx 1 root root 0 Dec  3 17:00 0000:17:00.0 -> ../../../devices/pci0000:00/0000:00:01.0/0000:16:00.0/0000:17:00.0\n';
  assert.deepEqual(parseUpstream(ls), { '0000:17:00.0': ['0000:00:01.0', '0000:16:00.0'] });
});
