// Findings grouped across nodes, each with its remediation once.
import type { Lang } from '../../schema/common.ts';
import type { Profile } from '../../schema/profile.ts';
import type { Report } from '../../schema/report.ts';
import { itemTitle } from '../checklist-map.ts';
import { abbreviateNodes, groupFindings } from '../findings.ts';
import { labels } from '../i18n.ts';
import { html, type Html } from './escape.ts';
import { icon } from './icons.ts';

export function renderFindings(report: Report, profile: Profile, lang: Lang): Html {
  const L = labels(lang);
  const findings = groupFindings(report.results, profile);
  if (!findings.length) return html`<p>${icon('pass', L.status_.pass)} ${L.noFindings}</p>`;
  return html`<ol class="findings">${findings.map(
    (f) => html`<li class="finding ${f.status}">
<div class="head"><span class="badge st-${f.status}">${icon(f.status, L.status_[f.status])} ${L.status_[f.status]}</span><code>${f.check}</code><span>${f.checklist === '-' ? '' : `${f.checklist} `}${itemTitle(profile, f.checklist, lang)}</span><span class="where">${L.onNodes(f.nodes.length)}: ${abbreviateNodes(f.nodes)}</span></div>
<p class="msg">${f.message}</p>${f.remediation ? html`
<div><strong>${L.remediation}</strong><pre>${f.remediation.trimEnd()}</pre></div>` : ''}
</li>
`,
  )}</ol>`;
}
