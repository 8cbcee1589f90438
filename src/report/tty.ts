// Terminal output: for a site of several nodes, the findings grouped across nodes first
// (one line per check and cause, "on N nodes", one remediation); then, for up to
// DETAIL_NODES nodes, per node and checklist item one line per result with the
// remediation under anything that did not pass; then the summary.
import type { Status } from '../schema/common.ts';
import type { Report } from '../schema/report.ts';
import { groupBy, groupByItem } from './checklist-map.ts';
import { abbreviateNodes, DETAIL_NODES, groupFindings } from './findings.ts';
import { headerFields, summaryLine, verdict } from './header.ts';
import { labels } from './i18n.ts';
import type { RenderOptions } from './render.ts';
import { splitUnchecked } from './unchecked.ts';

const SYMBOL: Record<Status, string> = { pass: '✔', warn: '!', fail: '✘', skip: '-', error: '⚠' };
const COLOR: Record<Status, string> = { pass: '32', warn: '33', fail: '31', skip: '90', error: '35' };

export function renderTty(report: Report, opts: RenderOptions): string {
  const L = labels(opts.lang);
  const paint = (code: string, s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const bold = (s: string) => paint('1', s);
  const out: string[] = [];

  out.push(bold(L.reportTitle));
  const fields = headerFields(report, opts.lang);
  const width = Math.max(...fields.map(([k]) => displayWidth(k)));
  for (const [k, v] of fields) out.push(`  ${pad(k, width)}  ${v}`);

  const roles = new Map((report.nodes ?? []).map((n) => [n.name, n.roles]));
  const statusWidth = Math.max(...Object.values(L.status_).map(displayWidth));
  const mark = (st: Status) => paint(COLOR[st], `${SYMBOL[st]} ${pad(L.status_[st], statusWidth)}`);
  const remedy = (text: string) => {
    const [first, ...rest] = text.replace(/\r/g, '').trimEnd().split('\n').map((l) => l.replace(CONTROL, ''));
    out.push(`      ${paint('2', '→')} ${first}`, ...rest.map((line) => `        ${line}`));
  };
  const byNode = groupBy(report.results, (r) => r.node);
  const several = (report.nodes?.length ?? 0) > 1;
  if (several) {
    out.push('', bold(`${L.findings} (${report.nodes!.length} ${L.nodes.toLowerCase()})`));
    // A node's unchecked checks are one line for that node, not one finding per check.
    const { shown, unchecked } = splitUnchecked(report.results);
    const findings = groupFindings(shown, opts.profile);
    if (findings.length === 0 && unchecked.length === 0) out.push(`  ${L.noFindings}`);
    for (const f of findings) {
      out.push(`  ${mark(f.status)}  ${f.check} ${L.onNodes(f.nodes.length)} (${oneLine(abbreviateNodes(f.nodes))}): ${oneLine(f.message)}`);
      if (f.remediation) remedy(f.remediation);
    }
    for (const u of unchecked) out.push(`  ${mark('skip')}  ${u.node}: ${L.notCheckedCount(u.ids.length)}: ${oneLine(u.reason)}`);
  }
  const detailed = !several || report.nodes!.length <= DETAIL_NODES;
  if (!detailed) out.push('', L.detailsElsewhere(report.nodes!.length));
  for (const [node, results] of detailed ? byNode : []) {
    out.push('');
    const r = roles.get(node);
    out.push(bold(`${L.node}: ${node}${r?.length ? ` (${r.join(', ')})` : ''}`));
    const { shown, unchecked } = splitUnchecked(results);
    for (const u of unchecked) {
      out.push(`  ${mark('skip')}  ${L.notCheckedCount(u.ids.length)}: ${oneLine(u.reason)}`);
    }
    for (const item of groupByItem(shown, opts.profile, opts.lang)) {
      out.push(`  ${item.id === '-' ? '' : `${item.id} `}${item.title}`);
      const idWidth = Math.max(...item.results.map((x) => x.id.length));
      for (const res of item.results) {
        out.push(`    ${mark(res.status)}  ${res.id.padEnd(idWidth)}  ${oneLine(res.message)}`);
        if (res.status !== 'pass' && res.remediation) remedy(res.remediation);
      }
    }
  }

  out.push('');
  out.push(`${bold(L.summary)}: ${summaryLine(report.summary, opts.lang)}`);
  const failed = report.summary.fail + report.summary.error > 0 || (opts.strict === true && report.summary.warn > 0);
  out.push(paint(failed ? '31;1' : report.summary.warn > 0 ? '33;1' : '32;1', verdict(report.summary, opts.lang, opts.strict)));
  return out.join('\n') + '\n';
}

/** Terminal columns of a string: Hangul and other East Asian wide characters take two. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const wide =
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0xa4cf) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6);
    w += wide ? 2 : 1;
  }
  return w;
}

function pad(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

// Messages may quote command output from a node: drop control characters so
// they cannot move the cursor or recolour the terminal.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').replace(CONTROL, '').trim();
}
