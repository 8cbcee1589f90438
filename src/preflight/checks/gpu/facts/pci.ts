// PCI facts of a node from sysfs: every function's vendor, device and class, its PCIe
// link (current and maximum width and speed), the chain of bridges above it, and the
// physical slots the firmware names. No root needed. `root` is /sys on a node; tests
// point it at a recorded tree.
import type { Gather, Host } from '../../../types.ts';
import { readSysfsAttrs, sysfsGrep } from './sysfs.ts';

export const NVIDIA_VENDOR = '0x10de';

export interface PciLink {
  /** e.g. "16.0 GT/s PCIe" as sysfs prints it */
  currentSpeed?: string;
  maxSpeed?: string;
  currentWidth?: number;
  maxWidth?: number;
}

export interface PciFunction {
  address: string;
  vendor: string;
  device: string;
  class: string;
  link: PciLink;
  /** Bridges between the root complex and this function, nearest last (from the sysfs link). */
  upstream: string[];
}

export interface PciFacts {
  readable: boolean;
  devices: PciFunction[];
  /** Slot name -> address it names (domain:bus:device, without the function). */
  slots: Record<string, string>;
}

const DEVICE_ATTRS = ['vendor', 'device', 'class', 'current_link_speed', 'current_link_width', 'max_link_speed', 'max_link_width'].map((a) => `*/${a}`);
const SLOT_ATTRS = ['*/address'];

const devicesDir = (root: string) => `${root}/bus/pci/devices`;
const slotsDir = (root: string) => `${root}/bus/pci/slots`;
const lsDevices = (root: string) => ['ls', '-l', devicesDir(root)];

/** What readPci runs on an SSH node (for a check's gather). */
export function pciGather(root = '/sys'): Gather {
  return { commands: [sysfsGrep(devicesDir(root), DEVICE_ATTRS), sysfsGrep(slotsDir(root), SLOT_ATTRS), lsDevices(root)] };
}

export function isNvidiaGpu(vendor: string, pciClass: string): boolean {
  return vendor.trim().toLowerCase() === NVIDIA_VENDOR && /^0x03/i.test(pciClass.trim());
}

/** NVSwitch: an NVIDIA function of the bridge class "other" (0x0680), as on HGX boards. */
export function isNvSwitch(vendor: string, pciClass: string): boolean {
  return vendor.trim().toLowerCase() === NVIDIA_VENDOR && /^0x0680/i.test(pciClass.trim());
}

const PCI_ADDR = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

/** `ls -l /sys/bus/pci/devices`: each link's target names the bridges above the function. */
export function parseUpstream(lsOutput: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of lsOutput.split('\n')) {
    const m = / (\S+) -> (\S+)$/.exec(line.trim());
    if (!m || !PCI_ADDR.test(m[1]!)) continue;
    const chain = m[2]!.split('/').filter((s) => PCI_ADDR.test(s));
    out[m[1]!] = chain.slice(0, -1);
  }
  return out;
}

const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);

export async function readPci(host: Host, signal: AbortSignal, root = '/sys'): Promise<PciFacts> {
  const [attrs, slotAttrs, ls] = await Promise.all([
    readSysfsAttrs(host, devicesDir(root), DEVICE_ATTRS, signal),
    readSysfsAttrs(host, slotsDir(root), SLOT_ATTRS, signal),
    host.exec(lsDevices(root), { signal, sudo: false }).catch((err: unknown) => {
      if (signal.aborted) throw err;
      return null;
    }),
  ]);
  if (attrs === null) return { readable: false, devices: [], slots: {} };
  const upstream = ls?.code === 0 ? parseUpstream(ls.stdout) : {};
  const byAddr = new Map<string, Map<string, string>>();
  for (const [rel, value] of attrs) {
    const [addr, attr] = rel.split('/') as [string, string];
    if (!byAddr.has(addr)) byAddr.set(addr, new Map());
    byAddr.get(addr)!.set(attr, value);
  }
  const devices = [...byAddr.entries()]
    .map(([address, a]): PciFunction => ({
      address,
      vendor: (a.get('vendor') ?? '').toLowerCase(),
      device: (a.get('device') ?? '').toLowerCase(),
      class: (a.get('class') ?? '').toLowerCase(),
      link: {
        currentSpeed: a.get('current_link_speed'),
        maxSpeed: a.get('max_link_speed'),
        currentWidth: num(a.get('current_link_width')),
        maxWidth: num(a.get('max_link_width')),
      },
      upstream: upstream[address] ?? [],
    }))
    .sort((x, y) => x.address.localeCompare(y.address));
  const slots: Record<string, string> = {};
  for (const [rel, value] of slotAttrs ?? []) slots[rel.split('/')[0]!] = value.toLowerCase();
  return { readable: true, devices, slots };
}

/** The slot holding a function: its own address or that of a bridge above it (GPUs behind a switch). */
export function slotOf(f: Pick<PciFunction, 'address' | 'upstream'>, slots: Record<string, string>): string | undefined {
  for (const addr of [f.address, ...[...f.upstream].reverse()]) {
    const noFn = addr.toLowerCase().replace(/\.[0-7]$/, '');
    const hit = Object.entries(slots).find(([, a]) => a === noFn || a === addr.toLowerCase());
    if (hit) return hit[0];
  }
  return undefined;
}

/** `10de:2330` */
export const pciId = (f: Pick<PciFunction, 'vendor' | 'device'>) => `${f.vendor.replace(/^0x/, '')}:${f.device.replace(/^0x/, '')}`;
