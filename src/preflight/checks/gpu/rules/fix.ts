// Fix commands per supported distribution family, the node's own first.
import type { Distro } from '../facts/node.ts';

export interface FixBy {
  debian: string;
  rhel: string;
}

const LABEL: Record<Distro, string> = { debian: 'Ubuntu/Debian', rhel: 'RHEL/Rocky' };

/** "Ubuntu/Debian: ...\nRHEL/Rocky: ..." with the node's family first; `note` (same for all) last. */
export function fixFor(fix: FixBy, distro: Distro | undefined, note?: string): string {
  const order: Distro[] = distro === 'rhel' ? ['rhel', 'debian'] : ['debian', 'rhel'];
  // One command for every family: said once.
  const lines = fix.debian === fix.rhel ? [fix.debian] : order.map((d) => `${LABEL[d]}: ${fix[d]}`);
  return [...lines, ...(note ? [note] : [])].join('\n');
}

/** The same command on every family (hardware, firmware, files the tool names). */
export const same = (cmd: string): FixBy => ({ debian: cmd, rhel: cmd });

/** Numeric, dot-separated versions: -1, 0, 1. "535" < "535.1" < "550.90.07". */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** `PKG=VERSION` for apt-get, the package revision looked up (Ubuntu's archive and NVIDIA's repository number them differently). */
export const aptPin = (pkg: string, version: string) => `${pkg}="$(apt-cache madison ${pkg} | awk -v v=${version} 'index($3, v) == 1 {print $3; exit}')"`;
