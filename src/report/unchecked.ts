// A node that could not be checked (not reached, host key refused, not logged in) yields
// a `skip` for every check, all with the same reason (facts.notChecked). Human-readable
// reports show them as one line per node and reason, not dozens of identical lines.
import type { CheckResult } from '../schema/report.ts';
import { groupBy } from './checklist-map.ts';

export interface Unchecked {
  node: string;
  reason: string;
  /** Check ids, in report order. */
  ids: string[];
}

/** The reason a result was not checked because of its node, if that is why. */
export function notCheckedReason(r: CheckResult): string | undefined {
  const why = r.facts.notChecked;
  return r.status === 'skip' && typeof why === 'string' ? why : undefined;
}

/** Splits results into those to show one by one and, per node and reason, the unchecked ones. */
export function splitUnchecked(results: readonly CheckResult[]): { shown: CheckResult[]; unchecked: Unchecked[] } {
  const shown = results.filter((r) => notCheckedReason(r) === undefined);
  const skipped = results.filter((r) => notCheckedReason(r) !== undefined);
  const unchecked = [...groupBy(skipped, (r) => `${r.node}\u0000${notCheckedReason(r)}`).values()].map((rs) => ({
    node: rs[0]!.node,
    reason: notCheckedReason(rs[0]!)!,
    ids: rs.map((r) => r.id),
  }));
  return { shown, unchecked };
}
