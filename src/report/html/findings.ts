// Findings grouped across nodes, each with its remediation once.
import type { Lang } from '../../schema/common.ts';
import type { Profile } from '../../schema/profile.ts';
import type { Report } from '../../schema/report.ts';
import { itemTitle } from '../checklist-map.ts';
import { abbreviateNodes, groupFindings } from '../findings.ts';
import { labels } from '../i18n.ts';
import { splitUnchecked, type Unchecked } from '../unchecked.ts';
import { html, type Html } from './escape.ts';
import { icon } from './icons.ts';

/** Findings of the checks that ran; a node that could not be checked is one line with its reason, not a finding per check. */
export function renderFindings(report: Report, profile: Profile, lang: Lang): Html {
  const L = labels(lang);
  const { shown, unchecked } = splitUnchecked(report.results);
  const findings = groupFindings(shown, profile);
  if (!findings.length && !unchecked.length) return html`<p>${icon('pass')} ${L.noFindings}</p>`;
  return html`${uncheckedList(unchecked, lang)}<ol class="findings">${findings.map(
    (f) => html`<li class="finding ${f.status}">
<div class="head"><span class="badge st-${f.status}">${icon(f.status)} ${L.status_[f.status]}</span><code>${f.check}</code><span>${f.checklist === '-' ? '' : `${f.checklist} `}${itemTitle(profile, f.checklist, lang)}</span><span class="where">${L.onNodes(f.nodes.length)}: ${abbreviateNodes(f.nodes)}</span></div>
<p class="msg">${f.message}</p>${f.remediation ? html`
<div><strong>${L.remediation}</strong><pre>${f.remediation.trimEnd()}</pre></div>` : ''}
</li>
`,
  )}</ol>`;
}

function uncheckedList(unchecked: Unchecked[], lang: Lang): Html {
  if (!unchecked.length) return html``;
  const L = labels(lang);
  return html`<h3>${L.notCheckedTitle}</h3><table class="results unchecked"><thead><tr><th>${L.node}</th><th>${L.status}</th><th>${L.reason}</th></tr></thead><tbody>${unchecked.map(
    (u) => html`<tr><td>${u.node}</td><td class="status"><span class="badge st-skip">${icon('skip')} ${L.notCheckedCount(u.ids.length)}</span></td><td class="msg">${u.reason}</td></tr>`,
  )}</tbody></table>`;
}
