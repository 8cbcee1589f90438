// Facts of the driver checks: the NVIDIA kernel module and packages on the host,
// whether the GPU Operator's driver container runs here, and nouveau (loaded, and
// blacklisted for the next boot in modprobe.d or on the kernel command line).
import type { Gather, ProbeContext } from '../../../types.ts';
import { list, read } from '../../kernel/host-io.ts';
import {
  installedPackages,
  kernelRelease,
  loadedModules,
  nodeGather,
  OPERATOR_DRIVER_ROOT,
  packageQuery,
  readNodeOs,
  readNvidiaModule,
  type NodeOs,
  type NvidiaModule,
  type Package,
} from './node.ts';
import { readSmi } from './smi.ts';

/** Host packages that carry a driver (Ubuntu/Debian names, then RHEL's). */
export const DRIVER_PACKAGES = ['nvidia-driver-*', 'nvidia-dkms-*', 'nvidia-kernel-common-*', 'nvidia-utils-*', 'cuda-drivers*', 'kmod-nvidia*', 'nvidia-kmod*', 'nvidia-driver'];

export interface DriverFacts {
  os: NodeOs;
  module: NvidiaModule;
  /** The GPU Operator's driver container has its root here (/run/nvidia/driver). */
  operatorDriver: boolean;
  packages: Package[];
  smi: { state: string; driverVersion?: string; error?: string };
}

export const driverGather = (): Gather => nodeGather({ dirs: [OPERATOR_DRIVER_ROOT], commands: [packageQuery(DRIVER_PACKAGES)] });

export async function probeDriver(ctx: ProbeContext): Promise<DriverFacts> {
  const [os, module, operatorDriver, packages, smi] = await Promise.all([
    readNodeOs(ctx),
    readNvidiaModule(ctx),
    list(ctx, OPERATOR_DRIVER_ROOT).then((l) => l !== null && l.length > 0),
    installedPackages(ctx, DRIVER_PACKAGES),
    readSmi(ctx),
  ]);
  return {
    os,
    module,
    operatorDriver,
    packages: packages.installed,
    smi: smi.state === 'ok' ? { state: 'ok', driverVersion: smi.report.driverVersion } : { state: smi.state, error: 'error' in smi ? smi.error : undefined },
  };
}

export const MODPROBE_DIRS = ['/etc/modprobe.d', '/run/modprobe.d', '/usr/lib/modprobe.d', '/lib/modprobe.d'];

export interface NouveauFacts {
  os: NodeOs;
  loaded: boolean;
  /** Where it was seen: /proc/modules, /sys/module/nouveau */
  seenIn: string[];
  /** Lines that keep it from loading at boot: "FILE: blacklist nouveau", "/proc/cmdline: modprobe.blacklist=nouveau" */
  blacklistedBy: string[];
  /** The running kernel ships the module (null: cannot tell). */
  inKernel: boolean | null;
  kernel: string | null;
}

export const nouveauGather = (): Gather =>
  nodeGather({ files: ['/proc/cmdline'], dirs: ['/sys/module/nouveau', ...MODPROBE_DIRS], globs: MODPROBE_DIRS.map((d) => `${d}/*.conf`) });

/** modprobe.d(5) lines that stop nouveau: blacklist, install ... /bin/false|true, options nouveau modeset=0. */
export function nouveauBlacklistLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim().replace(/\s+/g, ' '))
    .filter((l) => /^blacklist nouveau$/.test(l) || /^install nouveau (\/usr)?\/bin\/(false|true)\b/.test(l) || /^options nouveau (.* )?modeset=0\b/.test(l));
}

/** Kernel command line words that keep nouveau out. */
export function nouveauCmdline(cmdline: string): string[] {
  return cmdline.split(/\s+/).filter((w) => /^(rd\.driver\.blacklist|modprobe\.blacklist)=(.*,)?nouveau(,|$)/.test(w) || w === 'nouveau.modeset=0');
}

export async function probeNouveau(ctx: ProbeContext): Promise<NouveauFacts> {
  const [os, modules, sys, cmdline, kernel] = await Promise.all([readNodeOs(ctx), loadedModules(ctx), list(ctx, '/sys/module/nouveau'), read(ctx, '/proc/cmdline'), kernelRelease(ctx)]);
  const seenIn: string[] = [];
  if (modules?.includes('nouveau')) seenIn.push('/proc/modules');
  // /sys/module/nouveau also exists when nouveau is built into the kernel.
  if (sys !== null) seenIn.push('/sys/module/nouveau');
  const blacklistedBy: string[] = [];
  for (const dir of MODPROBE_DIRS) {
    for (const f of ((await list(ctx, dir)) ?? []).filter((n) => n.endsWith('.conf'))) {
      for (const line of nouveauBlacklistLines((await read(ctx, `${dir}/${f}`)) ?? '')) blacklistedBy.push(`${dir}/${f}: ${line}`);
    }
  }
  for (const w of nouveauCmdline(cmdline ?? '')) blacklistedBy.push(`/proc/cmdline: ${w}`);
  let inKernel: boolean | null = null;
  if (kernel) {
    const drm = await list(ctx, `/lib/modules/${kernel}/kernel/drivers/gpu/drm`);
    inKernel = drm === null ? null : drm.includes('nouveau');
  }
  return { os, loaded: seenIn.length > 0, seenIn, blacklistedBy, inKernel, kernel };
}
