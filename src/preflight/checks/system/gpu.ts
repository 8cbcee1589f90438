// gpu.devices / gpu.driver / gpu.nouveau: NVIDIA GPUs on the PCI bus (vendor
// 0x10de, display class 0x03xx), the driver as nvidia-smi reports it, and the
// nouveau driver that must not hold the GPUs on GPU nodes.
import { requirementsFor } from '../../roles.ts';
import { defineCheck, type Host, type JudgeContext, type Judgement } from '../../types.ts';

const PCI_DEVICES = '/sys/bus/pci/devices';
const NVIDIA_VENDOR = '0x10de';

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

export interface GpuDriverFacts {
  /** nvidia-smi found on the node */
  present: boolean;
  ok?: boolean;
  driverVersion?: string;
  gpus?: string[];
  error?: string;
}

export interface NouveauFacts {
  loaded: boolean;
  /** Where it was seen: /proc/modules, /sys/module/nouveau */
  seenIn: string[];
}

const needsGpu = (ctx: JudgeContext) => requirementsFor(ctx.profile, ctx.node.roles).gpu.required;

/** GPUs a GPU node must have: the profile's minCount, or the site's gpusPerNode when larger. */
function expectedGpus(ctx: JudgeContext): number {
  return Math.max(requirementsFor(ctx.profile, ctx.node.roles).gpu.minCount, ctx.site?.resources?.gpusPerNode ?? 0);
}

export function isNvidiaGpu(vendor: string, pciClass: string): boolean {
  return vendor.trim().toLowerCase() === NVIDIA_VENDOR && /^0x03/i.test(pciClass.trim());
}

export function judgeGpuDevices(f: GpuDevicesFacts, ctx: JudgeContext): Judgement {
  const n = f.gpus.length;
  const facts = { ...f, count: n };
  const found = n === 0 ? 'no NVIDIA GPU' : `${n} NVIDIA GPU${n === 1 ? '' : 's'} (${[...new Set(f.gpus.map((g) => g.id))].join(', ')})`;
  if (needsGpu(ctx)) {
    const want = expectedGpus(ctx);
    if (!f.pciReadable) {
      return { status: 'warn', message: `cannot list PCI devices (${PCI_DEVICES} unreadable); ${want} NVIDIA GPU(s) expected`, facts, remediation: 'lspci -nn | grep -i nvidia' };
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

export function parseNvidiaSmi(stdout: string): { driverVersion?: string; gpus: string[] } {
  const rows = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.split(',').map((c) => c.trim()));
  return { driverVersion: rows[0]?.[0], gpus: rows.map((r) => r.slice(1).join(', ')).filter(Boolean) };
}

const DRIVER_HELP =
  'let the GPU Operator install the driver (its default, driver.enabled=true), or install it on the host: ' +
  'sudo apt-get install -y nvidia-driver-550-server (Ubuntu) / sudo dnf module install -y nvidia-driver:latest-dkms (RHEL, Rocky)';

export function judgeGpuDriver(f: GpuDriverFacts): Judgement {
  if (!f.present) {
    return { status: 'warn', message: 'nvidia-smi not found: no NVIDIA driver on the host', facts: { ...f }, remediation: DRIVER_HELP };
  }
  if (!f.ok) {
    return {
      status: 'fail',
      message: `nvidia-smi fails: ${f.error ?? 'unknown error'}`,
      facts: { ...f },
      remediation: 'nvidia-smi  # a driver/library version mismatch needs a reboot; a missing device node needs: sudo modprobe nvidia',
    };
  }
  const names = f.gpus?.length ? `, ${f.gpus.length} GPU(s): ${[...new Set(f.gpus)].join('; ')}` : '';
  return { status: 'pass', message: `NVIDIA driver ${f.driverVersion ?? '(version unknown)'}${names}`, facts: { ...f } };
}

export const NOUVEAU_REMEDIATION =
  "printf 'blacklist nouveau\\noptions nouveau modeset=0\\n' | sudo tee /etc/modprobe.d/blacklist-nouveau.conf" +
  ' && (sudo update-initramfs -u || sudo dracut --force) && sudo reboot';

export function judgeNouveau(f: NouveauFacts): Judgement {
  if (f.loaded) {
    return { status: 'fail', message: `the nouveau driver is loaded (${f.seenIn.join(', ')}); the NVIDIA driver cannot take the GPUs`, facts: { ...f }, remediation: NOUVEAU_REMEDIATION };
  }
  return { status: 'pass', message: 'the nouveau driver is not loaded', facts: { ...f } };
}

interface PciDevice {
  address: string;
  vendor: string;
  class: string;
  device: string;
}

/** `grep -H . DIR/vendor ...` lines: "0000:17:00.0/vendor:0x10de". */
export function parsePciGrep(stdout: string): PciDevice[] {
  const byAddr = new Map<string, PciDevice>();
  for (const line of stdout.split('\n')) {
    const m = /^([^/]+)\/(vendor|class|device):(\S+)$/.exec(line.trim());
    if (!m) continue;
    const d = byAddr.get(m[1]!) ?? { address: m[1]!, vendor: '', class: '', device: '' };
    d[m[2] as 'vendor' | 'class' | 'device'] = m[3]!.toLowerCase();
    byAddr.set(m[1]!, d);
  }
  return [...byAddr.values()].sort((a, b) => a.address.localeCompare(b.address));
}

const PCI_GREP = ['sh', '-c', `cd ${PCI_DEVICES} && grep -H . */vendor */class */device`];

/** PCI devices of the host, or null when sysfs is not readable. */
async function readPciDevices(host: Host, signal: AbortSignal): Promise<PciDevice[] | null> {
  if (host.kind !== 'local') {
    // Over SSH each file read is a round trip and servers have 100+ PCI functions: read them all in one command.
    const r = await host.exec(PCI_GREP, { signal });
    if (r.code === 0) return parsePciGrep(r.stdout);
    if (r.code !== 127) return null;
  }
  const entries = await host.readDir(PCI_DEVICES, { signal });
  if (entries === null) return null;
  return Promise.all(
    entries.map(async (address) => {
      const [vendor, cls, device] = await Promise.all(
        ['vendor', 'class', 'device'].map((a) => host.readFile(`${PCI_DEVICES}/${address}/${a}`, { signal, maxBytes: 64 })),
      );
      return { address, vendor: (vendor ?? '').trim().toLowerCase(), class: (cls ?? '').trim().toLowerCase(), device: (device ?? '').trim().toLowerCase() };
    }),
  );
}

export const gpuDevicesCheck = defineCheck<GpuDevicesFacts>({
  id: 'gpu.devices',
  category: 'resources',
  title: 'NVIDIA GPUs on the PCI bus',
  gather: () => ({ commands: [PCI_GREP] }),
  async probe({ host, signal }) {
    const devices = await readPciDevices(host, signal);
    if (devices === null) return { pciReadable: false, gpus: [] };
    const gpus = devices
      .filter((d) => isNvidiaGpu(d.vendor, d.class))
      .map((d) => ({ address: d.address, id: `${d.vendor.slice(2)}:${d.device.replace(/^0x/, '')}`, class: d.class }));
    return { pciReadable: true, gpus };
  },
  judge: judgeGpuDevices,
});

export const gpuDriverCheck = defineCheck<GpuDriverFacts>({
  id: 'gpu.driver',
  category: 'resources',
  title: 'NVIDIA driver (nvidia-smi)',
  appliesTo: needsGpu,
  async probe({ host, signal }) {
    const r = await host.exec(['nvidia-smi', '--query-gpu=driver_version,name', '--format=csv,noheader'], { signal });
    if (r.code === 127) return { present: false };
    if (r.code !== 0) {
      const first = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] || `exit ${r.code}`;
      return { present: true, ok: false, error: first };
    }
    return { present: true, ok: true, ...parseNvidiaSmi(r.stdout) };
  },
  judge: judgeGpuDriver,
});

export const nouveauCheck = defineCheck<NouveauFacts>({
  id: 'gpu.nouveau',
  category: 'os',
  title: 'nouveau is not loaded on GPU nodes',
  appliesTo: needsGpu,
  gather: () => ({ files: ['/proc/modules'], dirs: ['/sys/module/nouveau'] }),
  async probe({ host, signal }) {
    const seenIn: string[] = [];
    const modules = await host.readFile('/proc/modules', { signal });
    if (modules !== null && /^nouveau\s/m.test(modules)) seenIn.push('/proc/modules');
    // /sys/module/nouveau also exists when nouveau is built into the kernel.
    if ((await host.readDir('/sys/module/nouveau', { signal })) !== null) seenIn.push('/sys/module/nouveau');
    return { loaded: seenIn.length > 0, seenIn };
  },
  judge: (f) => judgeNouveau(f),
});
