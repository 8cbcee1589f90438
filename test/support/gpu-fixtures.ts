// Recorded GPU node facts for tests: nvidia-smi -q -x documents (test/fixtures/nvidia-smi,
// written from NVIDIA's nvsmi DTD), and sysfs trees built the way the kernel lays them out
// (devices under /sys/devices, /sys/bus/pci/devices and /sys/class/infiniband as links).
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export const smiFixture = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/nvidia-smi', name), 'utf8');

export interface FakePci {
  address: string;
  vendor: string;
  device: string;
  class: string;
  /** Bridges above it, root port first. */
  parents?: string[];
  link?: { current: [string, number]; max: [string, number] };
}

function put(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text + '\n');
}

/** root/devices/pci0000:00/<parents...>/<address>/..., linked from root/bus/pci/devices. */
export function makePciTree(root: string, devices: FakePci[], slots: Record<string, string> = {}): void {
  mkdirSync(join(root, 'bus/pci/devices'), { recursive: true });
  for (const d of devices) {
    const real = join(root, 'devices/pci0000:00', ...(d.parents ?? []), d.address);
    put(join(real, 'vendor'), d.vendor);
    put(join(real, 'device'), d.device);
    put(join(real, 'class'), d.class);
    if (d.link) {
      put(join(real, 'current_link_speed'), d.link.current[0]);
      put(join(real, 'current_link_width'), String(d.link.current[1]));
      put(join(real, 'max_link_speed'), d.link.max[0]);
      put(join(real, 'max_link_width'), String(d.link.max[1]));
    }
    const link = join(root, 'bus/pci/devices', d.address);
    symlinkSync(relative(dirname(link), real), link);
  }
  for (const [name, address] of Object.entries(slots)) put(join(root, 'bus/pci/slots', name, 'address'), address);
}

export interface FakeIbPort {
  hca: string;
  port: number;
  state: string;
  physState: string;
  rate: string;
  linkLayer: string;
}

/** root/class/infiniband/<hca> -> ../../devices/.../infiniband/<hca> with ports/N/... */
export function makeIbTree(root: string, ports: FakeIbPort[], hcaType = 'MT4129', fw = '28.39.1002'): void {
  mkdirSync(join(root, 'class/infiniband'), { recursive: true });
  for (const hca of new Set(ports.map((p) => p.hca))) {
    const real = join(root, 'devices/pci0000:00/0000:00:02.0/0000:3b:00.0/infiniband', hca);
    put(join(real, 'hca_type'), hcaType);
    put(join(real, 'fw_ver'), fw);
    const link = join(root, 'class/infiniband', hca);
    symlinkSync(relative(dirname(link), real), link);
  }
  for (const p of ports) {
    const dir = join(root, 'class/infiniband', p.hca, 'ports', String(p.port));
    put(join(dir, 'state'), p.state);
    put(join(dir, 'phys_state'), p.physState);
    put(join(dir, 'rate'), p.rate);
    put(join(dir, 'link_layer'), p.linkLayer);
  }
}

/** An HGX-style board: 8 GPUs behind PCIe switches, 4 NVSwitches, one slot per GPU. */
export const GEN5 = '32.0 GT/s PCIe';
export function hgxDevices(opts: { degraded?: string; slow?: string } = {}): { devices: FakePci[]; slots: Record<string, string> } {
  const buses = ['18', '2a', '3a', '5d', '9a', 'ab', 'ba', 'db'];
  const devices: FakePci[] = [{ address: '0000:00:00.0', vendor: '0x8086', device: '0x09a2', class: '0x060000' }];
  const slots: Record<string, string> = {};
  buses.forEach((b, i) => {
    const address = `0000:${b}:00.0`;
    const up = `0000:${(parseInt(b, 16) - 1).toString(16).padStart(2, '0')}:00.0`;
    const width = opts.degraded === address ? 8 : 16;
    const speed = opts.slow === address ? '2.5 GT/s PCIe' : GEN5;
    devices.push({ address: up, vendor: '0x1000', device: '0xc030', class: '0x060400', parents: ['0000:00:01.0'], link: { current: [GEN5, 16], max: [GEN5, 16] } });
    devices.push({ address, vendor: '0x10de', device: '0x2335', class: '0x030200', parents: ['0000:00:01.0', up], link: { current: [speed, width], max: [GEN5, 16] } });
    slots[`${i + 1}`] = up.replace(/\.0$/, '');
  });
  for (const [i, b] of ['05', '06', '07', '08'].entries()) {
    devices.push({ address: `0000:${b}:00.${i % 2}`, vendor: '0x10de', device: '0x22a3', class: '0x068000', link: { current: ['2.5 GT/s PCIe', 1], max: ['2.5 GT/s PCIe', 1] } });
  }
  return { devices, slots };
}
