// The GPU node checks: each a probe (facts/) and a pure rule (rules/). They run on
// GPU nodes only, except gpu.devices, which also warns about GPUs a plain worker has.
import { defineCheck, type CheckDef, type JudgeContext, type Judgement, type ProbeContext } from '../../types.ts';
import { driverGather, nouveauGather, probeDriver, probeNouveau, type DriverFacts, type NouveauFacts } from './facts/driver.ts';
import { once } from './facts/memo.ts';
import { nodeGather, readNodeOs } from './facts/node.ts';
import { pciGather, readPci, type PciFacts } from './facts/pci.ts';
import { mergeGathers } from '../../hosts/batch.ts';
import { readSmi } from './facts/smi.ts';
import { gpuDevicesFacts, judgeGpuDevices, judgePcie, needsGpu, nvidiaGpus, pcieFacts, type GpuDevicesFacts, type PcieFacts } from './rules/devices.ts';
import { judgeGpuDriver, judgeNouveau } from './rules/driver.ts';
import { judgeEcc, judgeMemoryErrors, judgeMig, judgeModel, judgePersistence, type SmiCheckFacts } from './rules/smi.ts';
import { fabricGather, probeFabric, type FabricFacts } from './facts/fabric.ts';
import { iommuGather, kernelBuildGather, probeIommu, probeKernelBuild, probeSecureBoot, secureBootGather, type IommuFacts, type KernelBuildFacts, type SecureBootFacts } from './facts/platform.ts';
import { peermemGather, probePeermem, rdmaGather, readRdma, type PeermemFacts, type RdmaFacts } from './facts/rdma.ts';
import { probeToolkit, toolkitGather, type ToolkitFacts } from './facts/toolkit.ts';
import { judgeFabricManager } from './rules/fabric.ts';
import { judgeIommu, judgeKernelHeaders, judgeSecureBoot } from './rules/platform.ts';
import { judgePeermem, judgeRdmaDevices, judgeRdmaPorts } from './rules/rdma.ts';
import { judgeToolkit } from './rules/toolkit.ts';

/** The node's PCI tree, read once for the checks that need it. */
export const pciOf = (ctx: ProbeContext): Promise<PciFacts> => once(ctx.host, 'pci:/sys', ctx.signal, (signal) => readPci(ctx.host, signal));

const NO_GPU_NOTE = "no NVIDIA GPU on this node's PCI bus (see gpu.devices)";

/**
 * A GPU-node check that also says when the node has no GPU at all: its verdict on the
 * configuration stands (GPUs may be added later), but the reader must not take it for a GPU's.
 */
function gpuNodeCheck<F extends object>(def: CheckDef<F>): CheckDef {
  return defineCheck<F & { pciGpus: number | null }>({
    ...def,
    appliesTo: needsGpu,
    gather: (ctx) => mergeGathers([def.gather?.(ctx) ?? {}, pciGather()]),
    async probe(ctx) {
      const [facts, pci] = await Promise.all([def.probe(ctx), pciOf(ctx)]);
      return { ...facts, pciGpus: pci.readable ? nvidiaGpus(pci).length : null };
    },
    judge(f, ctx) {
      const j = def.judge(f, ctx);
      const note = (x: Judgement): Judgement => (f.pciGpus === 0 && !/no NVIDIA GPU/.test(x.message) ? { ...x, message: `${x.message}; ${NO_GPU_NOTE}` } : x);
      return Array.isArray(j) ? j.map(note) : note(j);
    },
  });
}

export const gpuDevicesCheck = defineCheck<GpuDevicesFacts>({
  id: 'gpu.devices',
  category: 'resources',
  title: 'NVIDIA GPUs on the PCI bus',
  gather: () => pciGather(),
  probe: async (ctx) => gpuDevicesFacts(await pciOf(ctx)),
  judge: judgeGpuDevices,
});

export const gpuDriverCheck = gpuNodeCheck<DriverFacts>({
  id: 'gpu.driver',
  category: 'resources',
  title: 'NVIDIA driver policy (GPU Operator or preinstalled) and version',
  gather: driverGather,
  probe: probeDriver,
  judge: judgeGpuDriver,
});

export const nouveauCheck = gpuNodeCheck<NouveauFacts>({
  id: 'gpu.nouveau',
  category: 'os',
  title: 'nouveau is not loaded and is blacklisted on GPU nodes',
  gather: nouveauGather,
  probe: probeNouveau,
  judge: (f) => judgeNouveau(f),
});

export const pcieCheck = gpuNodeCheck<PcieFacts>({
  id: 'gpu.pcie',
  category: 'resources',
  title: 'GPU PCIe links at their maximum width and speed',
  gather: () => nodeGather(pciGather()),
  probe: async (ctx) => pcieFacts(await pciOf(ctx), (await readNodeOs(ctx)).distro),
  judge: judgePcie,
});

/** A check that judges nvidia-smi's report. */
function smiCheck(id: string, title: string, judge: (f: SmiCheckFacts, ctx: JudgeContext) => Judgement): CheckDef {
  return gpuNodeCheck<SmiCheckFacts>({
    id,
    category: 'resources',
    title,
    gather: () => nodeGather(),
    probe: async (ctx) => ({ smi: await readSmi(ctx), distro: (await readNodeOs(ctx)).distro }),
    judge,
  });
}

export const smiChecks: CheckDef[] = [
  smiCheck('gpu.model', 'GPU model and count as in the site file (nvidia-smi)', judgeModel),
  smiCheck('gpu.mig', 'MIG mode as the profile asks (nvidia-smi)', judgeMig),
  smiCheck('gpu.ecc', 'ECC enabled on GPU memory (nvidia-smi)', judgeEcc),
  smiCheck('gpu.memory-errors', 'No retired pages or remapped rows pending (nvidia-smi)', judgeMemoryErrors),
  smiCheck('gpu.persistence', 'Persistence mode on (nvidia-smi)', judgePersistence),
];

export const kernelHeadersCheck = gpuNodeCheck<KernelBuildFacts>({
  id: 'gpu.kernel-headers',
  category: 'os',
  title: "What the driver container needs: the running kernel's headers, or a local package repository",
  gather: kernelBuildGather,
  probe: probeKernelBuild,
  judge: judgeKernelHeaders,
});

export const secureBootCheck = gpuNodeCheck<SecureBootFacts>({
  id: 'gpu.secure-boot',
  category: 'security',
  title: 'Secure Boot lets the NVIDIA driver load',
  gather: secureBootGather,
  probe: probeSecureBoot,
  judge: judgeSecureBoot,
});

export const fabricManagerCheck = gpuNodeCheck<FabricFacts>({
  id: 'gpu.fabricmanager',
  category: 'resources',
  title: 'NVSwitch systems run Fabric Manager at the driver version',
  gather: fabricGather,
  probe: (ctx) => probeFabric(ctx, pciOf(ctx)),
  judge: judgeFabricManager,
});

export const iommuCheck = gpuNodeCheck<IommuFacts>({
  id: 'gpu.iommu',
  category: 'os',
  title: 'IOMMU on for GPU passthrough',
  gather: iommuGather,
  probe: probeIommu,
  judge: judgeIommu,
});

export const toolkitCheck = gpuNodeCheck<ToolkitFacts>({
  id: 'gpu.toolkit',
  category: 'resources',
  title: 'NVIDIA Container Toolkit and the containerd nvidia runtime',
  gather: toolkitGather,
  probe: probeToolkit,
  judge: judgeToolkit,
});

/** The node's HCAs, read once (rdma.devices, rdma.ports and the site's rate check). */
export const rdmaOf = (ctx: ProbeContext): Promise<RdmaFacts> => once(ctx.host, 'rdma:/sys', ctx.signal, () => readRdma(ctx));

export const rdmaDevicesCheck = gpuNodeCheck<RdmaFacts>({
  id: 'rdma.devices',
  category: 'network',
  title: 'InfiniBand / RoCE HCAs for multi-node training',
  gather: () => rdmaGather(),
  probe: rdmaOf,
  judge: judgeRdmaDevices,
});

export const rdmaPortsCheck = gpuNodeCheck<RdmaFacts>({
  id: 'rdma.ports',
  category: 'network',
  title: 'HCA ports ACTIVE at the expected rate and link layer',
  gather: () => rdmaGather(),
  probe: rdmaOf,
  judge: judgeRdmaPorts,
});

export const peermemCheck = gpuNodeCheck<PeermemFacts>({
  id: 'rdma.peermem',
  category: 'network',
  title: 'nvidia_peermem loaded for GPUDirect RDMA',
  gather: peermemGather,
  probe: probePeermem,
  judge: judgePeermem,
});
