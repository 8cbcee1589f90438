// The HTML report: one self-contained file (inline CSS and SVG, no script, no
// request anywhere — the page's own Content-Security-Policy forbids them), printable
// to PDF: header, summary, the node × checklist-item matrix, grouped findings,
// and each node's results folded.
import type { Report } from '../../schema/report.ts';
import { STATUSES } from '../build.ts';
import { headerFields, summaryLine, total, verdict } from '../header.ts';
import { labels } from '../i18n.ts';
import { buildMatrix } from '../matrix.ts';
import type { RenderOptions } from '../render.ts';
import { html, raw, type Html } from './escape.ts';
import { renderFindings } from './findings.ts';
import { icon, iconDefs } from './icons.ts';
import { renderMatrix } from './matrix.ts';
import { renderNodes } from './nodes.ts';
import { STYLES } from './styles.ts';

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

export function renderHtml(report: Report, opts: RenderOptions): string {
  const L = labels(opts.lang);
  const matrix = buildMatrix(report, opts.profile, opts.lang);
  const page = html`<!DOCTYPE html>
<html lang="${opts.lang}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${report.tool.name} ${report.tool.version}">
<title>${L.reportTitle}: ${report.site}</title>
<style>${raw(STYLES)}</style>
</head>
<body>
${iconDefs()}
<header>
<h1>${L.reportTitle}: ${report.site}</h1>
<table class="meta">${headerFields(report, opts.lang).map(([k, v]) => html`<tr><th scope="row">${k}</th><td>${v}</td></tr>`)}</table>
</header>
<section id="summary"><h2>${L.summary}</h2>
${summary(report)}
<p class="verdict">${verdict(report.summary, opts.lang, opts.strict)}</p>
<p>${summaryLine(report.summary, opts.lang)}</p>
</section>
<section id="matrix"><h2>${L.matrix}</h2>
${renderMatrix(matrix, opts.lang)}
</section>
<section id="findings"><h2>${L.findings}</h2>
${renderFindings(report, opts.profile, opts.lang)}
</section>
<section id="nodes"><h2>${L.nodeDetails}</h2>
${renderNodes(matrix, opts.lang)}
</section>
</body>
</html>
`;
  return page.text;

  function summary(r: Report): Html {
    const n = total(r.summary);
    let x = 0;
    // A bar of the statuses' shares; the counts beside it carry the same numbers as text and symbols.
    const bars = STATUSES.filter((s) => r.summary[s] > 0).map((s) => {
      const w = (r.summary[s] / n) * 1000;
      const rect = html`<rect class="st-${s}" x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="10" fill="var(--${s}-bg)"/>`;
      x += w;
      return rect;
    });
    return html`<ul class="counts">${STATUSES.map((s) => html`<li class="st-${s}">${icon(s)}<span class="n">${r.summary[s]}</span> ${L.status_[s]}</li>`)}<li>${L.total} <span class="n">${n}</span></li></ul>
${n ? html`<svg class="bar" viewBox="0 0 1000 10" preserveAspectRatio="none" aria-hidden="true">${bars}</svg>` : ''}`;
  }
}
