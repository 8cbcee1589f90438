// Per-node reports merged into one site report (report merge): the union of their nodes
// and node results, site results left out (the caller judges the site checks again over
// the whole set). Two reports naming the same node are refused: one of them is stale.
import { InputError } from '../errors.ts';
import type { CheckResult, Report } from '../schema/report.ts';
import type { ReportNode } from './build.ts';

export interface MergedReports {
  /** The common site name, when every report names the same one. */
  site?: string;
  nodes: ReportNode[];
  results: CheckResult[];
  /** The earliest run's start, and the span until the last one ended. */
  startedAt: Date;
  durationMs: number;
}

export function mergeReports(inputs: { file: string; report: Report }[], isSiteResult: (r: CheckResult) => boolean): MergedReports {
  const owner = new Map<string, string>();
  const nodes: ReportNode[] = [];
  const results: CheckResult[] = [];
  let start = Infinity;
  let end = -Infinity;
  for (const { file, report } of inputs) {
    // A report of this machine alone lists it as its one node; older ones may list none.
    const listed = report.nodes?.length ? report.nodes : [...new Set(report.results.map((r) => r.node))].filter((n) => n !== 'site').map((name) => ({ name, roles: [] }));
    for (const n of listed) {
      const other = owner.get(n.name);
      if (other) throw new InputError({ file, field: 'nodes', expected: `node '${n.name}' is also in ${other}: merge one report per node` });
      owner.set(n.name, file);
      nodes.push({ ...n, roles: [...n.roles] });
    }
    for (const r of report.results) if (!isSiteResult(r) && owner.get(r.node) === file) results.push(r);
    const t = Date.parse(report.createdAt);
    if (Number.isFinite(t)) {
      start = Math.min(start, t);
      end = Math.max(end, t + (report.durationMs ?? 0));
    }
  }
  const sites = new Set(inputs.map((i) => i.report.site));
  const startedAt = new Date(Number.isFinite(start) ? start : Date.now());
  return { site: sites.size === 1 ? [...sites][0] : undefined, nodes, results, startedAt, durationMs: Number.isFinite(end) ? end - start : 0 };
}
