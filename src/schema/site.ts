// The site file: the filled customer checklist. Secrets only by reference.
import { z } from 'zod';
import { apiVersion, envVarName, hostPort, roleSchema } from './common.ts';

const cidr = z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'expected a CIDR like 10.233.0.0/18');

/** OpenSSH ProxyJump hops, `[user@]host[:port]`, in order. */
const proxyJump = z
  .array(z.string().regex(/^(?:[^@\s]+@)?(?:\[[0-9A-Fa-f:.]+\]|[^@:\s[\]]+)(?::\d{1,5})?$/, 'expected [user@]host[:port]'))
  .min(1)
  .describe('jump hosts to reach the node through, in order (as OpenSSH ProxyJump); each host key is checked like the node\'s');

export const sshSchema = z.strictObject({
  user: z.string().min(1).optional().describe('SSH user (default: the current user)'),
  port: z.number().int().min(1).max(65535).optional().describe('SSH port (default 22)'),
  keyFile: z.string().optional().describe('private key file; ~ is expanded'),
  passphraseEnv: envVarName.optional().describe('environment variable holding the key passphrase'),
  passwordEnv: envVarName.optional().describe('environment variable holding the SSH password'),
  passwordFile: z.string().optional().describe('file holding the SSH password'),
  knownHostsFile: z.string().optional().describe('known_hosts file (default ~/.ssh/known_hosts)'),
  sudo: z.boolean().optional().describe('run root-only probes with sudo -n'),
  proxyJump: proxyJump.optional(),
});

export const nodeSchema = z.strictObject({
  name: z.string().min(1),
  address: z.string().min(1).describe('IP or DNS name'),
  roles: z.array(roleSchema).min(1),
  ssh: sshSchema.optional(),
});

export const proxySchema = z.strictObject({
  http: z.string().optional(),
  https: z.string().optional(),
  noProxy: z.array(z.string()).optional(),
  passwordEnv: envVarName.optional().describe('proxy password, when the proxy URL names a user'),
});

export const siteSchema = z.strictObject({
  apiVersion,
  kind: z.literal('Site'),
  metadata: z.strictObject({ name: z.string().min(1) }),
  nodes: z.array(nodeSchema).default([]),
  ssh: z.strictObject({ proxyJump: proxyJump.optional() }).optional().describe('SSH settings for every node (a node\'s own ssh settings win)'),
  network: z
    .strictObject({
      proxy: proxySchema.optional(),
      podCidr: cidr.optional(),
      serviceCidr: cidr.optional(),
      dns: z.array(z.string()).optional(),
      ntp: z.array(z.string()).optional(),
      targets: z.array(hostPort).optional().describe('extra host:port reachability checks'),
    })
    .optional(),
  registry: z
    .strictObject({
      url: z.string().min(1),
      caFile: z.string().optional(),
      username: z.string().optional(),
      passwordEnv: envVarName.optional(),
      passwordFile: z.string().optional(),
      insecure: z.boolean().optional(),
      mirrors: z
        .array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/, 'expected a registry host[:port], e.g. docker.io'))
        .optional()
        .describe('source registries (docker.io, quay.io, …) the nodes\' containerd must pull from this registry (preflight registry.mirror)'),
    })
    .optional(),
  storage: z
    .strictObject({
      nfs: z.strictObject({ server: z.string(), path: z.string() }).optional(),
    })
    .optional(),
  resources: z
    .strictObject({
      gpusPerNode: z.number().int().min(0).optional(),
      gpuModel: z.string().optional(),
    })
    .optional(),
});

export type Site = z.infer<typeof siteSchema>;
export type SiteNode = z.infer<typeof nodeSchema>;
