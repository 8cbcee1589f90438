// Facts of the NVSwitch check: NVSwitch functions on the PCI bus (HGX boards), the
// host's nvidia-fabricmanager package and unit, the driver's version, and the
// fabric state nvidia-smi reports per GPU (R525 and later).
import type { Gather, ProbeContext } from '../../../types.ts';
import { installedPackages, nodeGather, packageQuery, readNodeOs, readNvidiaModule, readUnit, unitGather, type NodeOs, type NvidiaModule, type Package, type UnitState } from './node.ts';
import { isNvSwitch, pciGather, pciId, type PciFacts } from './pci.ts';
import { readSmi } from './smi.ts';

export const FM_UNIT = 'nvidia-fabricmanager';
/** Ubuntu: nvidia-fabricmanager-550; RHEL (CUDA repo): nvidia-fabric-manager. */
export const FM_PACKAGES = ['nvidia-fabricmanager*', 'nvidia-fabric-manager*'];

export interface FabricFacts {
  os: NodeOs;
  nvswitches: { address: string; id: string }[];
  module: NvidiaModule;
  packages: Package[];
  unit: UnitState;
  /** Per GPU, from nvidia-smi; null without a report. */
  gpuFabric: { busId: string; state?: string; status?: string }[] | null;
}

export const fabricGather = (): Gather => nodeGather({ ...pciGather(), commands: [...pciGather().commands!, packageQuery(FM_PACKAGES), unitGather(FM_UNIT)] });

export async function probeFabric(ctx: ProbeContext, pci: Promise<PciFacts>): Promise<FabricFacts> {
  const nvswitches = (await pci).devices.filter((d) => isNvSwitch(d.vendor, d.class)).map((d) => ({ address: d.address, id: pciId(d) }));
  const os = await readNodeOs(ctx);
  if (!nvswitches.length) return { os, nvswitches, module: { loaded: false }, packages: [], unit: {}, gpuFabric: null };
  const [module, packages, unit, smi] = await Promise.all([readNvidiaModule(ctx), installedPackages(ctx, FM_PACKAGES), readUnit(ctx, FM_UNIT), readSmi(ctx)]);
  return {
    os,
    nvswitches,
    module,
    packages: packages.installed,
    unit,
    gpuFabric: smi.state === 'ok' ? smi.report.gpus.filter((g) => g.fabric).map((g) => ({ busId: g.busId, ...g.fabric })) : null,
  };
}
