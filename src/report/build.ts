// Assembles the report document from check results: stable ordering, summary
// counts and the exit code the CLI returns.
import { API_VERSION, type Lang, type Status } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import type { CheckResult, Report, Summary } from '../schema/report.ts';
import { TOOL_NAME, TOOL_VERSION } from '../version.ts';

export interface ReportNode {
  name: string;
  address?: string;
  roles: string[];
  reachable?: boolean;
  durationMs?: number;
}

export interface BuildReportInput {
  results: CheckResult[];
  siteName?: string;
  /** The machine that ran the checks. */
  host: string;
  profileName: string;
  lang: Lang;
  nodes?: ReportNode[];
  startedAt: Date;
  durationMs: number;
  /** When given, checklist items sort in profile order (else by id). */
  profile?: Profile;
}

export const STATUSES: readonly Status[] = ['pass', 'warn', 'fail', 'skip', 'error'];

export function summarize(results: readonly CheckResult[]): Summary {
  const summary: Summary = { pass: 0, warn: 0, fail: 0, skip: 0, error: 0 };
  for (const r of results) summary[r.status]++;
  return summary;
}

const collator = new Intl.Collator('en', { numeric: true });

/** Sorts results by node (site order, then name), checklist item (profile order, then id), check id. */
export function sortResults(results: readonly CheckResult[], nodes: readonly ReportNode[] = [], profile?: Profile): CheckResult[] {
  const nodeRank = new Map(nodes.map((n, i) => [n.name, i]));
  const itemRank = new Map((profile?.checklist ?? []).map((c, i) => [c.id, i]));
  const rank = (m: Map<string, number>, k: string) => m.get(k) ?? Number.MAX_SAFE_INTEGER;
  return [...results].sort(
    (a, b) =>
      rank(nodeRank, a.node) - rank(nodeRank, b.node) ||
      collator.compare(a.node, b.node) ||
      rank(itemRank, a.checklist) - rank(itemRank, b.checklist) ||
      collator.compare(a.checklist, b.checklist) ||
      collator.compare(a.id, b.id),
  );
}

export function buildReport(input: BuildReportInput): Report {
  const results = sortResults(input.results, input.nodes, input.profile);
  const report: Report = {
    apiVersion: API_VERSION,
    kind: 'PreflightReport',
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    createdAt: input.startedAt.toISOString(),
    host: input.host,
    site: input.siteName ?? input.host,
    lang: input.lang,
    profile: input.profileName,
    durationMs: Math.round(input.durationMs),
    summary: summarize(results),
    results,
  };
  if (input.nodes) report.nodes = input.nodes.map((n) => ({ ...n, roles: [...n.roles] }));
  return report;
}

/** 1 when anything failed or errored; warnings count only with --strict. */
export function exitCodeFor(summary: Summary, strict: boolean): 0 | 1 {
  if (summary.fail > 0 || summary.error > 0) return 1;
  if (strict && summary.warn > 0) return 1;
  return 0;
}
