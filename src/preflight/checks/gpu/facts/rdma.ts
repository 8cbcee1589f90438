// Facts of the fabric checks for multi-node training: InfiniBand / RoCE HCAs and
// their ports from /sys/class/infiniband (state, rate, link layer), and whether
// nvidia_peermem (GPUDirect RDMA) is loaded. `root` is /sys on a node.
import type { Gather, ProbeContext } from '../../../types.ts';
import { moduleLoaded, nodeGather, readNodeOs, type NodeOs } from './node.ts';
import { readSysfsAttrs, sysfsGrep } from './sysfs.ts';

export interface RdmaPort {
  hca: string;
  port: string;
  /** "ACTIVE", "DOWN", "INIT", ... (sysfs prints "4: ACTIVE") */
  state: string;
  physState?: string;
  /** Gb/s, from "400 Gb/sec (4X NDR)" */
  rateGbps?: number;
  rate?: string;
  /** InfiniBand or Ethernet (RoCE) */
  linkLayer?: string;
}

export interface RdmaFacts {
  os: NodeOs;
  /** /sys/class/infiniband exists (an RDMA stack is loaded). */
  present: boolean;
  hcas: { name: string; type?: string; firmware?: string }[];
  ports: RdmaPort[];
}

const IB_ATTRS = ['*/hca_type', '*/fw_ver', '*/ports/*/state', '*/ports/*/phys_state', '*/ports/*/rate', '*/ports/*/link_layer'];
const ibDir = (root: string) => `${root}/class/infiniband`;

export const rdmaGather = (root = '/sys'): Gather => nodeGather({ commands: [sysfsGrep(ibDir(root), IB_ATTRS)] });

/** "4: ACTIVE" -> ACTIVE; "5: LinkUp" -> LinkUp */
const afterColon = (s: string | undefined) => s?.replace(/^\d+:\s*/, '');

export async function readRdma(ctx: ProbeContext, root = '/sys'): Promise<RdmaFacts> {
  const [os, attrs] = await Promise.all([readNodeOs(ctx), readSysfsAttrs(ctx.host, ibDir(root), IB_ATTRS, ctx.signal)]);
  if (attrs === null) return { os, present: false, hcas: [], ports: [] };
  const hcas = new Map<string, { name: string; type?: string; firmware?: string }>();
  const ports = new Map<string, RdmaPort>();
  for (const [rel, value] of attrs) {
    const parts = rel.split('/');
    const hca = parts[0]!;
    if (!hcas.has(hca)) hcas.set(hca, { name: hca });
    if (parts.length === 2) {
      if (parts[1] === 'hca_type') hcas.get(hca)!.type = value;
      if (parts[1] === 'fw_ver') hcas.get(hca)!.firmware = value;
      continue;
    }
    const key = `${hca}/${parts[2]}`;
    if (!ports.has(key)) ports.set(key, { hca, port: parts[2]!, state: 'unknown' });
    const p = ports.get(key)!;
    if (parts[3] === 'state') p.state = afterColon(value)!;
    if (parts[3] === 'phys_state') p.physState = afterColon(value);
    if (parts[3] === 'link_layer') p.linkLayer = value;
    if (parts[3] === 'rate') {
      p.rate = value;
      const m = /^(\d+(?:\.\d+)?)\s*Gb\/sec/.exec(value);
      if (m) p.rateGbps = Number(m[1]);
    }
  }
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  return { os, present: true, hcas: [...hcas.values()].sort(byName), ports: [...ports.values()].sort((a, b) => `${a.hca}/${a.port}`.localeCompare(`${b.hca}/${b.port}`)) };
}

export interface PeermemFacts {
  os: NodeOs;
  /** nvidia_peermem (or the older nv_peer_mem) loaded */
  loaded: string | null;
}

export const peermemGather = (): Gather => nodeGather({ dirs: ['/sys/module/nvidia_peermem', '/sys/module/nv_peer_mem'] });

export async function probePeermem(ctx: ProbeContext): Promise<PeermemFacts> {
  const os = await readNodeOs(ctx);
  for (const m of ['nvidia_peermem', 'nv_peer_mem']) if (await moduleLoaded(ctx, m)) return { os, loaded: m };
  return { os, loaded: null };
}
