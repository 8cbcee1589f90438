// Network checks: ports, reachability, firewall, proxy, registry, time, DNS.
import type { CheckDef } from '../../types.ts';
import { portsFree } from './ports.ts';
import { networkTargets, storageNfs } from './targets.ts';
import { firewallRules, firewallStatus } from './firewall.ts';
import { proxyContainerd, proxyEnv, proxyNoProxy, proxyReach } from './proxy.ts';
import { registryApi, registryAuth, registryDns, registryTcp, registryTls } from './registry.ts';
import { registryMirror } from './registry-mirror.ts';
import { timeSync } from './time.ts';
import { dnsNodes, dnsResolvers } from './dns.ts';

export const networkChecks: CheckDef[] = [
  portsFree,
  networkTargets,
  storageNfs,
  firewallStatus,
  firewallRules,
  proxyEnv,
  proxyNoProxy,
  proxyReach,
  proxyContainerd,
  registryDns,
  registryTcp,
  registryTls,
  registryApi,
  registryAuth,
  registryMirror,
  timeSync,
  dnsResolvers,
  dnsNodes,
];
