// The JSON report: the PreflightReport shape of docs/formats.md, keys in a fixed order so diffs of two
// runs line up.
import type { CheckResult, Report } from '../schema/report.ts';

const REPORT_KEYS = ['apiVersion', 'kind', 'tool', 'createdAt', 'host', 'site', 'lang', 'profile', 'durationMs', 'nodes', 'summary', 'results'] as const;
const RESULT_KEYS = ['id', 'node', 'checklist', 'category', 'title', 'status', 'message', 'facts', 'remediation', 'durationMs'] as const;

function ordered<T extends object>(obj: T, keys: readonly string[]): T {
  const src = obj as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (src[k] !== undefined) out[k] = src[k];
  for (const k of Object.keys(src)) if (!(k in out) && src[k] !== undefined) out[k] = src[k];
  return out as T;
}

/** The report with its keys (and its results' keys) in contract order. */
export function canonicalReport(report: Report): Report {
  return ordered({ ...report, results: report.results.map((r) => ordered<CheckResult>(r, RESULT_KEYS)) }, REPORT_KEYS);
}

export function renderJson(report: Report): string {
  return JSON.stringify(canonicalReport(report), null, 2) + '\n';
}
