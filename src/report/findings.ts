// Findings grouped across nodes: what did not pass, one entry per check and
// cause, with the nodes it concerns. A 50-node site with one sysctl wrong
// everywhere reads as one finding "on 50 nodes", not fifty.
import type { Category, Status } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import type { CheckResult } from '../schema/report.ts';
import { SEVERITY } from './matrix.ts';

/** tty and markdown list each node's results only up to this many nodes; past it the grouped findings stand for them. */
export const DETAIL_NODES = 10;

export interface Finding {
  check: string;
  status: Status;
  checklist: string;
  category: Category;
  message: string;
  remediation?: string;
  /** Node names in report order. */
  nodes: string[];
  results: CheckResult[];
}

/** Results that did not pass, grouped by check id, status, message and remediation; worst first, then widest. */
export function groupFindings(results: readonly CheckResult[], profile: Profile): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const r of results) {
    if (r.status === 'pass') continue;
    const key = JSON.stringify([r.id, r.status, r.message, r.remediation ?? '']);
    const f = byKey.get(key);
    if (f) {
      if (!f.nodes.includes(r.node)) f.nodes.push(r.node);
      f.results.push(r);
    } else {
      byKey.set(key, { check: r.id, status: r.status, checklist: r.checklist, category: r.category, message: r.message, remediation: r.remediation, nodes: [r.node], results: [r] });
    }
  }
  const rank = new Map(profile.checklist.map((c, i) => [c.id, i]));
  const itemRank = (f: Finding) => rank.get(f.checklist) ?? Number.MAX_SAFE_INTEGER;
  return [...byKey.values()].sort(
    (a, b) => SEVERITY.indexOf(a.status) - SEVERITY.indexOf(b.status) || b.nodes.length - a.nodes.length || itemRank(a) - itemRank(b) || a.check.localeCompare(b.check),
  );
}

/** "a, b, c" — past `max` names, the first ones and "+N". */
export function abbreviateNodes(nodes: readonly string[], max = 10): string {
  if (nodes.length <= max) return nodes.join(', ');
  return `${nodes.slice(0, max).join(', ')} +${nodes.length - max}`;
}
