// GPU node readiness: the GPUs, their driver and what it needs, NVSwitch, PCIe, MIG,
// memory health, the container toolkit, and the RDMA fabric for multi-node training.
import type { CheckDef } from '../../types.ts';
import * as c from './checks.ts';

export const gpuChecks: CheckDef[] = [
  c.gpuDevicesCheck,
  c.gpuDriverCheck,
  c.nouveauCheck,
  c.kernelHeadersCheck,
  c.secureBootCheck,
  c.fabricManagerCheck,
  c.pcieCheck,
  c.iommuCheck,
  ...c.smiChecks,
  c.toolkitCheck,
  c.rdmaDevicesCheck,
  c.rdmaPortsCheck,
  c.peermemCheck,
];
