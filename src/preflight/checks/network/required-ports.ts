// The ports a node needs, from the profile: every role of the node, honouring
// the profile's CNI (ports marked cni: X only when X is the CNI in use).
import type { Profile } from '../../../schema/profile.ts';
import type { Role } from '../../../schema/common.ts';

export interface PortNeed {
  from: number;
  to: number;
  protocol: 'tcp' | 'udp';
  purpose: string;
  /** "6443/tcp" or "30000-32767/tcp". */
  label: string;
}

export function requiredPorts(profile: Profile, roles: Role[]): PortNeed[] {
  const out = new Map<string, PortNeed>();
  for (const role of roles) {
    for (const p of profile.roles[role]?.ports ?? []) {
      if (p.cni && p.cni !== profile.cni) continue;
      const [from, to] = typeof p.port === 'number' ? [p.port, p.port] : (p.port.split('-').map(Number) as [number, number]);
      const label = `${from === to ? from : `${from}-${to}`}/${p.protocol}`;
      if (!out.has(label)) out.set(label, { from, to, protocol: p.protocol, purpose: p.purpose, label });
    }
  }
  return [...out.values()].sort((a, b) => a.from - b.from || a.protocol.localeCompare(b.protocol));
}
