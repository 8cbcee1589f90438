// gpu.devices and gpu.pcie: NVIDIA GPUs on the PCI bus (vendor 0x10de, display class
// 0x03xx) against the role and the site's gpusPerNode, and each GPU's PCIe link
// against its maximum width and speed.
import { requirementsFor } from '../../../roles.ts';
import type { JudgeContext, Judgement } from '../../../types.ts';
import { isNvidiaGpu, pciId, slotOf, type PciFacts, type PciFunction } from '../facts/pci.ts';
import { fixFor } from './fix.ts';
import type { Distro } from '../facts/node.ts';

export interface PciGpu {
  address: string;
  /** vendor:device, e.g. 10de:20b0 */
  id: string;
  class: string;
}

export interface GpuDevicesFacts {
  pciReadable: boolean;
  gpus: PciGpu[];
}

export const nvidiaGpus = (f: PciFacts): PciFunction[] => f.devices.filter((d) => isNvidiaGpu(d.vendor, d.class));

export function gpuDevicesFacts(f: PciFacts): GpuDevicesFacts {
  return { pciReadable: f.readable, gpus: nvidiaGpus(f).map((d) => ({ address: d.address, id: pciId(d), class: d.class })) };
}

export const needsGpu = (ctx: JudgeContext) => requirementsFor(ctx.profile, ctx.node.roles).gpu.required;

/** GPUs a GPU node must have: the profile's minCount, or the site's gpusPerNode when larger. */
export function expectedGpus(ctx: JudgeContext): number {
  return Math.max(requirementsFor(ctx.profile, ctx.node.roles).gpu.minCount, ctx.site?.resources?.gpusPerNode ?? 0);
}

export function judgeGpuDevices(f: GpuDevicesFacts, ctx: JudgeContext): Judgement {
  const n = f.gpus.length;
  const facts = { ...f, count: n };
  const found = n === 0 ? 'no NVIDIA GPU' : `${n} NVIDIA GPU${n === 1 ? '' : 's'} (${[...new Set(f.gpus.map((g) => g.id))].join(', ')})`;
  if (needsGpu(ctx)) {
    const want = expectedGpus(ctx);
    if (!f.pciReadable) {
      return { status: 'warn', message: `cannot list PCI devices (/sys/bus/pci/devices unreadable); ${want} NVIDIA GPU(s) expected`, facts, remediation: 'lspci -nn | grep -i nvidia' };
    }
    if (n < want) {
      return {
        status: 'fail',
        message: `${found} on the PCI bus; a gpu-worker needs at least ${want}`,
        facts: { ...facts, expected: want },
        remediation: `check the GPUs are installed and passed through to this machine: lspci -nn | grep -i nvidia; or remove gpu-worker from the roles of ${ctx.node.name} in the site file`,
      };
    }
    return { status: 'pass', message: `${found} (gpu-worker needs ${want})`, facts: { ...facts, expected: want } };
  }
  if (n > 0 && ctx.node.roles.includes('worker')) {
    return {
      status: 'warn',
      message: `${found} on a node without the gpu-worker role: they will not be used`,
      facts,
      remediation: `add gpu-worker to the roles of ${ctx.node.name} in the site file (or run with --role gpu-worker)`,
    };
  }
  return { status: 'pass', message: `${found} (none needed for ${ctx.node.roles.join(', ')})`, facts };
}

export interface GpuLink {
  address: string;
  slot?: string;
  currentWidth?: number;
  maxWidth?: number;
  currentSpeed?: string;
  maxSpeed?: string;
}

export interface PcieFacts {
  pciReadable: boolean;
  links: GpuLink[];
  distro?: Distro;
}

export function pcieFacts(f: PciFacts, distro?: Distro): PcieFacts {
  return {
    pciReadable: f.readable,
    links: nvidiaGpus(f).map((g) => ({ address: g.address, slot: slotOf(g, f.slots), ...g.link })),
    distro,
  };
}

/** "16.0 GT/s PCIe" -> 16; "Unknown" -> undefined. */
export const gts = (s: string | undefined) => {
  const m = s === undefined ? null : /^(\d+(?:\.\d+)?)\s*GT\/s/.exec(s);
  return m ? Number(m[1]) : undefined;
};

const where = (l: GpuLink) => `${l.address}${l.slot ? ` (slot ${l.slot})` : ''}`;

export function judgePcie(f: PcieFacts, ctx: JudgeContext): Judgement {
  const policy = ctx.profile.gpu.pcie;
  const facts = { ...f, policy };
  if (!f.pciReadable) return { status: 'skip', message: 'not checked: /sys/bus/pci/devices is not readable', facts };
  if (f.links.length === 0) return { status: 'skip', message: 'not checked: no NVIDIA GPU on the PCI bus (see gpu.devices)', facts };
  const unknown = f.links.filter((l) => l.currentWidth === undefined || l.maxWidth === undefined);
  if (unknown.length === f.links.length) {
    return { status: 'skip', message: `not checked: sysfs shows no PCIe link width for the ${f.links.length} GPU(s) (a VM's virtual bus often has none)`, facts };
  }
  const narrow = f.links.filter((l) => l.currentWidth !== undefined && l.maxWidth !== undefined && l.currentWidth < l.maxWidth);
  const slow = f.links.filter((l) => {
    const [c, m] = [gts(l.currentSpeed), gts(l.maxSpeed)];
    return c !== undefined && m !== undefined && c < m;
  });
  const speedNote = slow.length
    ? `; ${slow.map((l) => `${where(l)} at ${l.currentSpeed} of ${l.maxSpeed}`).join(', ')} (idle GPUs lower their link speed to save power: compare under load with nvidia-smi -q -d PCI)`
    : '';
  const lspci = (ls: GpuLink[]) => ls.map((l) => `sudo lspci -vv -s ${l.address} | grep -E 'LnkCap|LnkSta'`).join('; ');
  if (narrow.length) {
    return {
      status: policy.width,
      message: `PCIe link narrower than the GPU's maximum: ${narrow.map((l) => `${where(l)} x${l.currentWidth} of x${l.maxWidth}`).join(', ')}${speedNote}`,
      remediation: fixFor(
        { debian: `sudo apt-get install -y pciutils && ${lspci(narrow)}`, rhel: `sudo dnf install -y pciutils && ${lspci(narrow)}` },
        f.distro,
        'then power the node off and reseat the GPU (and its riser or cable) in that slot; check the BIOS PCIe bifurcation and link-width settings',
      ),
      facts,
    };
  }
  if (slow.length && policy.speed === 'warn') {
    return {
      status: 'warn',
      message: `PCIe link slower than the GPU's maximum${speedNote.replace(/^;/, ':')}`,
      remediation: fixFor({ debian: `sudo apt-get install -y pciutils && ${lspci(slow)}`, rhel: `sudo dnf install -y pciutils && ${lspci(slow)}` }, f.distro, 'under load the link must train to its maximum; if not, check the slot generation setting in the BIOS'),
      facts,
    };
  }
  const widths = [...new Set(f.links.filter((l) => l.currentWidth !== undefined).map((l) => `x${l.currentWidth}`))].join('/');
  const known = f.links.length - unknown.length;
  const unread = unknown.length ? `; link width not in sysfs for ${unknown.map(where).join(', ')}` : '';
  return { status: 'pass', message: `${known} GPU link${known === 1 ? '' : 's'} at full width${widths ? ` (${widths})` : ''}${speedNote}${unread}`, facts };
}
