// Each node's results, folded in <details>. Every result of the report is one
// row here carrying data-node, data-check and data-status, for scripts and tests.
import type { Lang } from '../../schema/common.ts';
import type { CheckResult } from '../../schema/report.ts';
import { STATUSES } from '../build.ts';
import { labels } from '../i18n.ts';
import type { Matrix } from '../matrix.ts';
import { html, type Html } from './escape.ts';
import { icon } from './icons.ts';
import { cellAnchor, nodeAnchor } from './matrix.ts';

export function renderNodes(m: Matrix, lang: Lang): Html {
  const L = labels(lang);
  return html`${m.rows.map((row, r) => {
    const counts = STATUSES.filter((s) => row.summary[s] > 0).map((s) => `${row.summary[s]} ${L.status_[s]}`).join(', ');
    // The item's title once, across its rows; its first row is where the matrix cell links.
    const rows = row.cells.flatMap((cell, c) => {
      const col = m.columns[c]!;
      const item = html`<td rowspan="${cell.results.length}">${col.id === '-' ? '' : `${col.id} `}${col.title}</td>`;
      return cell.results.map((res, i) => resultRow(res, i === 0 ? { anchor: cellAnchor(r, c), item } : undefined, lang));
    });
    return html`<details class="node" id="${nodeAnchor(r)}"><summary>${row.node}${row.roles.length ? ` (${row.roles.join(', ')})` : ''}<span class="counts-inline">${counts}</span></summary>
<table class="results"><thead><tr><th>${L.checklistItem}</th><th>${L.check}</th><th>${L.status}</th><th>${L.message}</th></tr></thead><tbody>
${rows}</tbody></table></details>
`;
  })}`;
}

function resultRow(r: CheckResult, first: { anchor: string; item: Html } | undefined, lang: Lang): Html {
  const L = labels(lang);
  const facts = Object.keys(r.facts).length ? html`<details class="facts"><summary>${L.facts}</summary><pre>${JSON.stringify(r.facts, null, 2)}</pre></details>` : '';
  const fix = r.status !== 'pass' && r.remediation ? html`<div><strong>${L.remediation}</strong><pre>${r.remediation.trimEnd()}</pre></div>` : '';
  return html`<tr${first ? html` id="${first.anchor}"` : ''} data-node="${r.node}" data-check="${r.id}" data-status="${r.status}">${first?.item}<td><code>${r.id}</code></td><td class="status"><span class="badge st-${r.status}">${icon(r.status)} ${L.status_[r.status]}</span></td><td class="msg">${r.message}${fix}${facts}</td></tr>
`;
}
