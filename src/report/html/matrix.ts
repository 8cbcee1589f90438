// The matrix table: nodes down, checklist items across, grouped by category.
// Each cell links to the node's results for that item.
import type { Lang, Status } from '../../schema/common.ts';
import type { Summary } from '../../schema/report.ts';
import { STATUSES } from '../build.ts';
import { labels } from '../i18n.ts';
import type { Matrix, MatrixCell, MatrixColumn, MatrixRow } from '../matrix.ts';
import { notCheckedReason } from '../unchecked.ts';
import { html, type Html } from './escape.ts';
import { icon } from './icons.ts';

/** Anchor of a node's details, and of its results for one matrix column. */
export const nodeAnchor = (row: number) => `n-${row}`;
export const cellAnchor = (row: number, col: number) => `n-${row}-${col}`;

export function columnLabel(c: MatrixColumn, lang: Lang): string {
  return c.id === '-' ? labels(lang).unmapped : c.id;
}

export function renderMatrix(m: Matrix, lang: Lang): Html {
  const L = labels(lang);
  const head = html`<thead>
<tr class="cat"><th rowspan="2" class="node">${L.node}</th>${m.categories.map((c) => html`<th colspan="${c.span}" title="${L.category[c.category]}">${L.category[c.category]}</th>`)}<th rowspan="2">${L.summary}</th></tr>
<tr class="ids">${m.columns.map((c) => html`<th scope="col" title="${c.id === '-' ? '' : `${c.id} `}${c.title}"><span>${columnLabel(c, lang)}</span></th>`)}</tr>
</thead>`;
  const body = m.rows.map(
    (row, r) => html`<tr><th scope="row" class="node"><a href="#${nodeAnchor(r)}">${row.node}</a>${row.roles.length ? html` <small>${row.roles.join(', ')}</small>` : ''}</th>${uncheckedRow(row, m.columns.length, lang, nodeAnchor(r)) ?? row.cells.map((cell, c) =>
      renderCell(cell, m.columns[c]!, row.node, lang, cellAnchor(r, c)),
    )}<td class="sum">${rowSummary(row.summary, lang)}</td></tr>
`,
  );
  return html`<div class="matrix-wrap"><table class="matrix">${head}<tbody>
${body}</tbody></table></div>
${legend(lang)}`;
}

/** A node none of whose checks ran: one cell across the row, with the reason. */
function uncheckedRow(row: MatrixRow, span: number, lang: Lang, anchor: string): Html | undefined {
  const results = row.cells.flatMap((c) => c.results);
  const reasons = new Set(results.map(notCheckedReason));
  if (reasons.size !== 1 || reasons.has(undefined)) return undefined;
  const L = labels(lang);
  const [reason] = reasons;
  return html`<td class="st-skip unchecked" colspan="${span}"><a href="#${anchor}">${icon('skip')} ${L.notCheckedCount(results.length)}: ${reason}</a></td>`;
}

function renderCell(cell: MatrixCell, col: MatrixColumn, node: string, lang: Lang, anchor: string): Html {
  const L = labels(lang);
  if (!cell.status) return html`<td class="none" title="${node} · ${col.title}: ${L.notChecked}">·<span class="sr">${L.notChecked}</span></td>`;
  const counts = STATUSES.filter((s) => cell.summary[s] > 0).map((s) => `${cell.summary[s]} ${L.status_[s]}`).join(', ');
  const label = `${node} · ${columnLabel(col, lang)}: ${counts}`;
  return html`<td class="st-${cell.status}" title="${label}"><a href="#${anchor}">${icon(cell.status)}<span class="sr">${L.status_[cell.status]}</span></a></td>`;
}

/** The statuses a reader acts on, with their counts; else the passes (or, where nothing ran, the skips). */
function rowSummary(s: Summary, lang: Lang): Html {
  const L = labels(lang);
  const shown = (['fail', 'error', 'warn'] as Status[]).filter((k) => s[k] > 0);
  if (!shown.length) return s.pass ? html`${icon('pass', L.status_.pass)} ${s.pass}` : html`${icon('skip', L.status_.skip)} ${s.skip}`;
  return html`${shown.map((k) => html`<span title="${L.status_[k]}">${icon(k, L.status_[k])} ${s[k]}</span> `)}`;
}

export function legend(lang: Lang): Html {
  const L = labels(lang);
  return html`<ul class="legend" aria-label="${L.legend}">${STATUSES.map((s) => html`<li><span class="sw st-${s}">${icon(s)}</span>${L.status_[s]}</li>`)}<li><span class="sw none">·</span>${L.notChecked}</li></ul>`;
}
