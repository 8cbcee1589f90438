// rdma.devices, rdma.ports, rdma.peermem: what multi-node training (mpi-operator,
// NCCL over InfiniBand or RoCE) needs on each GPU node.
import type { JudgeContext, Judgement } from '../../../types.ts';
import type { PeermemFacts, RdmaFacts, RdmaPort } from '../facts/rdma.ts';
import { fixFor, same } from './fix.ts';

const RDMA_STACK = {
  debian: 'sudo apt-get install -y rdma-core ibverbs-utils infiniband-diags && sudo modprobe mlx5_ib',
  rhel: 'sudo dnf install -y rdma-core libibverbs-utils infiniband-diags && sudo modprobe mlx5_ib',
};
const OFED_NOTE = "or NVIDIA's DOCA-OFED / MLNX_OFED (the GPU Operator's Network Operator can install it); check the card: lspci -nn | grep -i mellanox";

export function judgeRdmaDevices(f: RdmaFacts, ctx: JudgeContext): Judgement {
  const required = ctx.profile.rdma.required;
  const facts = { ...f, required };
  if (!f.hcas.length) {
    if (!required) return { status: 'skip', message: 'no InfiniBand/RoCE HCA here, and the profile does not ask for one (rdma.required: false)', facts };
    return {
      status: 'fail',
      message: `no InfiniBand/RoCE HCA${f.present ? ' in /sys/class/infiniband' : ' (no /sys/class/infiniband: no RDMA driver loaded)'}; multi-node training needs one (rdma.required: true)`,
      remediation: fixFor(RDMA_STACK, f.os.distro, OFED_NOTE),
      facts,
    };
  }
  return { status: 'pass', message: `${f.hcas.length} HCA(s): ${f.hcas.map((h) => `${h.name}${h.type ? ` (${h.type}${h.firmware ? `, firmware ${h.firmware}` : ''})` : ''}`).join(', ')}`, facts };
}

const portName = (p: RdmaPort) => `${p.hca} port ${p.port}`;

export function judgeRdmaPorts(f: RdmaFacts, ctx: JudgeContext): Judgement {
  const want = ctx.profile.rdma;
  const facts = { ports: f.ports, linkLayer: want.linkLayer, minRateGbps: want.minRateGbps };
  if (!f.ports.length) return { status: 'skip', message: 'not checked: no HCA port (see rdma.devices)', facts };
  const down = f.ports.filter((p) => p.state !== 'ACTIVE');
  const layer = want.linkLayer === 'any' ? [] : f.ports.filter((p) => p.state === 'ACTIVE' && p.linkLayer && p.linkLayer !== want.linkLayer);
  const slow = want.minRateGbps === undefined ? [] : f.ports.filter((p) => p.state === 'ACTIVE' && p.rateGbps !== undefined && p.rateGbps < want.minRateGbps!);
  const active = f.ports.filter((p) => p.state === 'ACTIVE');
  const problems = [
    ...(down.length ? [`not ACTIVE: ${down.map((p) => `${portName(p)} ${p.state}${p.physState ? ` (${p.physState})` : ''}`).join(', ')}`] : []),
    ...(layer.length ? [`link layer not ${want.linkLayer}: ${layer.map((p) => `${portName(p)} ${p.linkLayer}`).join(', ')}`] : []),
    ...(slow.length ? [`below ${want.minRateGbps} Gb/s: ${slow.map((p) => `${portName(p)} ${p.rate}`).join(', ')}`] : []),
  ];
  if (problems.length) {
    // A port that is down where the profile needs no RDMA is worth a look, not a blocker.
    return {
      status: want.required || layer.length || slow.length ? 'fail' : 'warn',
      message: problems.join('; '),
      remediation: fixFor(
        { debian: 'sudo apt-get install -y infiniband-diags && ibstat', rhel: 'sudo dnf install -y infiniband-diags && ibstat' },
        f.os.distro,
        'a port stays INIT until a subnet manager runs on the fabric (opensm or the switch\'s), and DOWN while its cable is out (phys_state Polling or Disabled)',
      ),
      facts,
    };
  }
  const rates = [...new Set(active.map((p) => p.rate ?? '?'))].join(', ');
  const layers = [...new Set(active.map((p) => p.linkLayer ?? '?'))].join('/');
  return { status: 'pass', message: `${active.length} port(s) ACTIVE, ${layers}, ${rates}`, facts };
}

export function judgePeermem(f: PeermemFacts, ctx: JudgeContext): Judgement {
  const facts = { ...f, gpuDirect: ctx.profile.rdma.gpuDirect, policy: ctx.profile.gpu.driver };
  if (!ctx.profile.rdma.gpuDirect) return { status: 'skip', message: 'not checked: the profile does not ask for GPUDirect RDMA (rdma.gpuDirect: false)', facts };
  if (f.loaded) return { status: 'pass', message: `${f.loaded} is loaded: GPUDirect RDMA available`, facts };
  if (ctx.profile.gpu.driver === 'operator') {
    return { status: 'skip', message: "not checked before the install: the GPU Operator's driver container loads nvidia_peermem when installed with --set driver.rdma.enabled=true", facts };
  }
  const fix = same('sudo modprobe nvidia_peermem && echo nvidia_peermem | sudo tee /etc/modules-load.d/nvidia-peermem.conf');
  return { status: 'fail', message: 'nvidia_peermem is not loaded: NCCL falls back to copies through host memory (rdma.gpuDirect: true)', remediation: fixFor(fix, f.os.distro, 'it ships with the driver (R470+); the HCA driver (mlx5_ib) must be loaded first'), facts };
}
