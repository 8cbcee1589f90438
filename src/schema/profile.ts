// The check profile: thresholds per role and the customer checklist items.
// Data, not code: an engineer edits a copy and points --profile at it.
import { z } from 'zod';
import { apiVersion, categorySchema, roleSchema } from './common.ts';

const i18n = z.strictObject({ en: z.string().min(1), ko: z.string().min(1) });

export const portSpecSchema = z.strictObject({
  port: z.union([z.number().int().min(1).max(65535), z.string().regex(/^\d{1,5}-\d{1,5}$/, 'expected a port or a range like 30000-32767')]),
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
  purpose: z.string(),
  /** When set, the port is needed only if this CNI is used (e.g. calico -> 179). */
  cni: z.string().optional(),
  /** Peers on other nodes connect to it (node-to-node matrix). */
  peers: z.array(roleSchema).optional(),
});

export const diskSpecSchema = z.strictObject({
  path: z.string().min(1),
  minFreeGiB: z.number().min(0),
  warnFreeGiB: z.number().min(0).optional(),
  minFreeInodes: z.number().int().min(0).optional(),
  filesystems: z.array(z.string()).optional().describe('accepted filesystem types'),
  fsync: z.boolean().optional().describe('measure fsync latency (etcd)'),
});
export type DiskSpec = z.infer<typeof diskSpecSchema>;

export const roleProfileSchema = z.strictObject({
  cpu: z.strictObject({ min: z.number().min(0), recommended: z.number().min(0).optional() }),
  memoryGiB: z.strictObject({ min: z.number().min(0), recommended: z.number().min(0).optional() }),
  disks: z.array(diskSpecSchema).default([]),
  ports: z.array(portSpecSchema).default([]),
  gpu: z.strictObject({ required: z.boolean(), minCount: z.number().int().min(0).optional() }).optional(),
});
export type RoleProfile = z.infer<typeof roleProfileSchema>;

export const profileSchema = z.strictObject({
  apiVersion,
  kind: z.literal('CheckProfile'),
  metadata: z.strictObject({ name: z.string().min(1), description: z.string().optional() }),
  cni: z.string().default('calico').describe('CNI whose ports are required'),
  roles: z.strictObject({
    'control-plane': roleProfileSchema,
    worker: roleProfileSchema,
    'gpu-worker': roleProfileSchema,
  }),
  os: z.strictObject({
    supported: z.array(z.strictObject({ id: z.string(), versions: z.array(z.string()).min(1), name: z.string().optional() })),
  }),
  disk: z
    .strictObject({
      fsyncP99WarnMs: z.number().default(10),
      fsyncP99FailMs: z.number().default(50),
      fsyncSamples: z.number().int().min(1).max(10000).default(200),
    })
    .prefault({}),
  kernel: z
    .strictObject({
      minVersion: z.string().default('4.15'),
      modules: z.array(z.string()).default([]),
      sysctls: z.record(z.string(), z.string()).default({}),
      swapAllowed: z.boolean().default(false),
      cgroup: z.enum(['v1', 'v2', 'any']).default('any'),
      selinux: z.array(z.enum(['enforcing', 'permissive', 'disabled'])).default(['permissive', 'disabled']),
    })
    .prefault({}),
  time: z.strictObject({ maxOffsetMs: z.number().default(500), maxSkewMs: z.number().default(1000) }).prefault({}),
  proxy: z
    .strictObject({ requiredNoProxy: z.array(z.string()).default(['.svc', '.cluster.local', 'localhost', '127.0.0.1']) })
    .prefault({}),
  tls: z.strictObject({ certExpiryWarnDays: z.number().default(30) }).prefault({}),
  gpu: z
    .strictObject({
      driver: z
        .enum(['operator', 'preinstalled'])
        .default('operator')
        .describe("operator: GPU Operator's driver container (no driver on the host); preinstalled: the host's driver (driver.enabled=false)"),
      minDriverVersion: z.string().regex(/^\d+(\.\d+)*$/, 'expected a version like 535 or 550.90.07').default('535').describe('preinstalled: the lowest driver version accepted'),
      toolkit: z
        .enum(['operator', 'preinstalled'])
        .default('operator')
        .describe('operator: GPU Operator installs the container toolkit; preinstalled: nvidia-container-toolkit on the host (toolkit.enabled=false)'),
      mig: z.enum(['any', 'disabled', 'enabled']).default('any').describe('MIG mode every GPU must be in (any: not judged)'),
      ecc: z.boolean().default(true).describe('ECC must be enabled on GPUs that have it'),
      persistenceMode: z.boolean().default(true).describe('persistence mode must be on (nvidia-persistenced)'),
      passthrough: z.boolean().default(false).describe('GPUs are passed to VMs (vfio): the IOMMU must be on'),
      pcie: z
        .strictObject({
          width: z.enum(['fail', 'warn']).default('fail').describe('a GPU link narrower than its maximum'),
          speed: z.enum(['warn', 'note']).default('note').describe('a GPU link slower than its maximum (idle GPUs lower it: note = pass with a note)'),
        })
        .prefault({}),
    })
    .prefault({}),
  rdma: z
    .strictObject({
      required: z.boolean().default(false).describe('multi-node training: GPU nodes need an InfiniBand/RoCE HCA with an ACTIVE port'),
      linkLayer: z.enum(['any', 'InfiniBand', 'Ethernet']).default('any').describe('InfiniBand, or Ethernet (RoCE)'),
      minRateGbps: z.number().min(0).optional().describe('lowest port rate accepted, e.g. 200'),
      gpuDirect: z.boolean().default(false).describe('GPUDirect RDMA: nvidia_peermem must be loaded'),
    })
    .prefault({}),
  checklist: z.array(
    z.strictObject({
      id: z.string().regex(/^[A-Z]+-\d+$/, 'expected an id like NET-01'),
      category: categorySchema,
      title: i18n,
      description: i18n.optional(),
      checks: z.array(z.string()).default([]).describe('check ids that verify this item'),
    }),
  ),
});

export type Profile = z.infer<typeof profileSchema>;
export type ChecklistItem = Profile['checklist'][number];
