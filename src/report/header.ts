// The header every human-readable format shows: tool, time, host, site.
import type { Lang } from '../schema/common.ts';
import type { Report, Summary } from '../schema/report.ts';
import { labels } from './i18n.ts';
import { STATUSES } from './build.ts';

export function headerFields(report: Report, lang: Lang): [label: string, value: string][] {
  const L = labels(lang);
  const fields: [string, string][] = [
    [L.site, report.site],
    [L.host, report.host],
    [L.time, report.createdAt],
    [L.tool, `${report.tool.name} ${report.tool.version}`],
  ];
  if (report.profile) fields.push([L.profile, report.profile]);
  if (report.durationMs !== undefined) fields.push([L.duration, `${(report.durationMs / 1000).toFixed(2)} s`]);
  if (report.nodes?.length) {
    const list = report.nodes.map((n) => `${n.name} (${n.roles.join(', ')})`);
    fields.push([L.nodes, list.length > 10 ? `${list.length}: ${list.slice(0, 10).join('; ')}; +${list.length - 10}` : list.join('; ')]);
  }
  return fields;
}

export function total(summary: Summary): number {
  return STATUSES.reduce((n, s) => n + summary[s], 0);
}

/** "3 pass, 1 warn, ..." in the report language. */
export function summaryLine(summary: Summary, lang: Lang): string {
  const L = labels(lang);
  return `${STATUSES.map((s) => `${summary[s]} ${L.status_[s]}`).join(', ')} (${total(summary)} ${L.total})`;
}

/** The closing line; with --strict a warning fails the run (exit 1), so the verdict says so too. */
export function verdict(summary: Summary, lang: Lang, strict = false): string {
  const L = labels(lang);
  if (summary.fail > 0 || summary.error > 0) return L.result.failed;
  if (summary.warn > 0) return strict ? L.result.strictWarnings : L.result.warnings;
  return L.result.ok;
}
