// The Markdown report a customer attaches to a support ticket: header table,
// summary; for several nodes the node × item matrix and the findings grouped across
// nodes; then (up to DETAIL_NODES nodes) one section per checklist category with each
// item's results and remediations.
import type { Status } from '../schema/common.ts';
import type { Report } from '../schema/report.ts';
import { groupByCategory } from './checklist-map.ts';
import { headerFields, summaryLine, total, verdict } from './header.ts';
import { labels } from './i18n.ts';
import { abbreviateNodes, DETAIL_NODES, groupFindings } from './findings.ts';
import { buildMatrix } from './matrix.ts';
import type { RenderOptions } from './render.ts';
import { splitUnchecked, type Unchecked } from './unchecked.ts';
import { STATUSES } from './build.ts';

const ICON: Record<Status, string> = { pass: '✅', warn: '⚠️', fail: '❌', skip: '⏭️', error: '❗' };

/** Text safe inside a table cell: no pipes, no line breaks, no raw HTML. */
export function cell(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, '<br>');
}

/** Text safe in a heading or paragraph: no raw HTML. */
function inline(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A list item whose remediation is a fenced code block inside it: commands (heredocs,
 * redirections) are copied as written, neither HTML-escaped nor joined into one line.
 * The fence is longer than any run of backticks in the text.
 */
export function remediationItem(node: string, id: string, remediation: string): string[] {
  return [`- **${inline(node)}** \`${id}\``, '', ...codeBlock(remediation)];
}

/** A fenced block (indented into a list item), the fence longer than any run of backticks in the text. */
function codeBlock(remediation: string): string[] {
  const text = remediation.replace(/\r/g, '').trimEnd();
  const fence = '`'.repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return [`  ${fence}`, ...text.split('\n').map((l) => (l ? `  ${l}` : '')), `  ${fence}`];
}

/** One item per check and cause across nodes: status, "on N nodes", the nodes, the message, one remediation. */
function findingsSection(report: Report, opts: RenderOptions): string[] {
  const L = labels(opts.lang);
  const findings = groupFindings(report.results, opts.profile);
  const out = [`## ${L.findings}`, ''];
  if (findings.length === 0) return [...out, L.noFindings, ''];
  for (const f of findings) {
    out.push(`- ${ICON[f.status]} **${L.status_[f.status]}** \`${f.check}\` ${L.onNodes(f.nodes.length)} (${inline(abbreviateNodes(f.nodes))}): ${inline(f.message.replace(/\s*\n\s*/g, ' '))}`);
    if (f.remediation) out.push('', ...codeBlock(f.remediation), '');
  }
  out.push('');
  return out;
}

export function renderMarkdown(report: Report, opts: RenderOptions): string {
  const L = labels(opts.lang);
  const out: string[] = [];
  out.push(`# ${L.reportTitle}: ${inline(report.site)}`, '');
  out.push('| | |', '|---|---|');
  for (const [k, v] of headerFields(report, opts.lang)) out.push(`| ${cell(k)} | ${cell(v)} |`);
  out.push('');

  out.push(`## ${L.summary}`, '');
  out.push(`| ${STATUSES.map((s) => `${ICON[s]} ${L.status_[s]}`).join(' | ')} | ${L.total} |`);
  out.push(`|${'---:|'.repeat(STATUSES.length + 1)}`);
  out.push(`| ${STATUSES.map((s) => String(report.summary[s])).join(' | ')} | ${total(report.summary)} |`);
  out.push('', `**${verdict(report.summary, opts.lang, opts.strict)}** ${summaryLine(report.summary, opts.lang)}`, '');
  out.push(...matrixTable(report, opts));
  // A node's unchecked checks are one row of their own table, not a finding or a row each.
  const { shown, unchecked } = splitUnchecked(report.results);
  const nodes = report.nodes?.length ?? 0;
  if (nodes > 1) out.push(...findingsSection({ ...report, results: shown }, opts));
  out.push(...uncheckedTable(unchecked, opts));
  if (nodes > DETAIL_NODES) {
    out.push(L.detailsElsewhere(nodes), '');
    return out.join('\n');
  }

  for (const { category, items } of groupByCategory(shown, opts.profile, opts.lang)) {
    out.push(`## ${L.category[category]}`, '');
    for (const item of items) {
      out.push(`### ${item.id === '-' ? '' : `${item.id} `}${inline(item.title)}`, '');
      out.push(`| ${L.node} | ${L.check} | ${L.status} | ${L.message} |`, '|---|---|---|---|');
      for (const r of item.results) {
        out.push(`| ${cell(r.node)} | \`${cell(r.id)}\` | ${ICON[r.status]} ${L.status_[r.status]} | ${cell(r.message)} |`);
      }
      out.push('');
      const fixes = item.results.filter((r) => r.status !== 'pass' && r.remediation);
      if (fixes.length) {
        out.push(`**${L.remediation}**`, '');
        for (const r of fixes) out.push(...remediationItem(r.node, r.id, r.remediation!));
        out.push('');
      }
    }
  }
  return out.join('\n');
}

/** One row per node (and reason) whose checks could not run, instead of a row per check in every section. */
function uncheckedTable(unchecked: Unchecked[], opts: RenderOptions): string[] {
  if (!unchecked.length) return [];
  const L = labels(opts.lang);
  const out = [`## ${L.notCheckedTitle}`, '', `| ${L.node} | ${L.status} | ${L.reason} |`, '|---|---|---|'];
  for (const u of unchecked) out.push(`| ${cell(u.node)} | ${ICON.skip} ${cell(L.notCheckedCount(u.ids.length))} | ${cell(u.reason)} |`);
  out.push('');
  return out;
}

/** The node × checklist-item matrix, for a site of several nodes: the whole site at a glance before the details. */
function matrixTable(report: Report, opts: RenderOptions): string[] {
  const m = buildMatrix(report, opts.profile, opts.lang);
  if (m.rows.length < 2) return [];
  const L = labels(opts.lang);
  const out = [`## ${L.matrix}`, ''];
  out.push(`| ${L.node} | ${m.columns.map((c) => (c.id === '-' ? cell(L.unmapped) : c.id)).join(' | ')} |`);
  out.push(`|---|${':-:|'.repeat(m.columns.length)}`);
  for (const row of m.rows) out.push(`| ${cell(row.node)} | ${row.cells.map((c) => (c.status ? ICON[c.status] : '·')).join(' | ')} |`);
  out.push('', `${L.legend}: ${STATUSES.map((s) => `${ICON[s]} ${L.status_[s]}`).join(', ')}, · ${L.notChecked}`, '');
  return out;
}
