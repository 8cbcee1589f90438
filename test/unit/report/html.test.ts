import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, html, raw } from '../../../src/report/html/escape.ts';
import { renderReport } from '../../../src/report/render.ts';
import { fleetReport, HOSTILE_NODE, HOSTILE_TEXT, profile, sampleReport } from '../../support/report-fixture.ts';

const en = { lang: 'en' as const, color: false, profile };

test('html tag escapes every interpolated value, keeps Html as is, joins arrays, drops empty values', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  const v = '"><script>x</script>';
  assert.equal(html`<p title="${v}">${v}</p>`.text, '<p title="&quot;&gt;&lt;script&gt;x&lt;/script&gt;">&quot;&gt;&lt;script&gt;x&lt;/script&gt;</p>');
  assert.equal(html`<ul>${['<a>', html`<li>${'&'}</li>`]}</ul>`.text, '<ul>&lt;a&gt;<li>&amp;</li></ul>');
  assert.equal(html`${undefined}${null}${false}${0}${raw('<br>')}`.text, '0<br>');
});

test('html is one self-contained page: no script, no URL to fetch, a CSP that forbids requests', () => {
  const page = renderReport(fleetReport(4), 'html', en);
  assert.match(page, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.match(page, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;;/);
  // The hostile text quotes @import url(...) as escaped text: look at a page without it.
  const plain = renderReport(sampleReport(), 'html', en);
  assert.deepEqual(plain.match(/<script|<link|<iframe|<object|<embed|<img|@import|url\(/gi), null);
  assert.deepEqual(page.match(/<script|<link|<iframe|<object|<embed|<img/gi), null);
  // Every href/src is a fragment of the page itself.
  const refs = [...page.matchAll(/\s(?:href|src|xlink:href)="([^"]*)"/g)].map((m) => m[1]!);
  assert.ok(refs.length > 0);
  assert.deepEqual(refs.filter((r) => !r.startsWith('#')), []);
  // Fragments resolve: every #id linked to exists.
  const ids = new Set([...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
  assert.deepEqual(refs.filter((r) => !ids.has(r.slice(1))), []);
});

test('html: one element per result with data-node, data-check, data-status; node content escaped', () => {
  const report = fleetReport(3);
  const page = renderReport(report, 'html', en);
  const rows = [...page.matchAll(/<tr[^>]* data-node="([^"]*)" data-check="([^"]*)" data-status="([^"]*)"/g)];
  assert.equal(rows.length, report.results.length);
  assert.equal((page.match(/data-node=/g) ?? []).length, report.results.length);
  assert.ok(rows.some((m) => m[1] === escapeHtml(HOSTILE_NODE)));
  assert.ok(!page.includes(HOSTILE_NODE) && !page.includes(HOSTILE_TEXT));
  assert.ok(page.includes(escapeHtml(HOSTILE_TEXT)));
});

test('html: summary, matrix, grouped findings with remediations, a folded <details> per node', () => {
  const report = sampleReport();
  const page = renderReport(report, 'html', en);
  for (const h of ['Summary', 'Nodes × checklist items', 'Findings', 'Results per node']) assert.ok(page.includes(`<h2>${h}</h2>`), h);
  assert.equal((page.match(/<details class="node" id="n-\d+">/g) ?? []).length, 2);
  assert.match(page, /<pre>modprobe br_netfilter\necho br_netfilter &gt; \/etc\/modules-load.d\/k8s.conf<\/pre>/);
  // A cell carries a symbol and a colour class and its status word; it links to the node's results for the item.
  assert.match(page, /<td class="st-fail" title="worker-1 · OS-03: 1 fail"><a href="#n-1-5"><svg class="i" aria-hidden="true"><use href="#s-fail"\/><\/svg><span class="sr">fail<\/span><\/a><\/td>/);
  // The item's title once per node and item, across its rows.
  assert.match(page, /<tr id="n-1-5" data-node="worker-1" data-check="kernel.modules" data-status="fail"><td rowspan="1">OS-03 Kernel modules/);
  assert.match(page, /<tr id="n-1-5" data-node="worker-1" data-check="kernel.modules" data-status="fail">/);
  for (const s of ['pass', 'warn', 'fail', 'skip', 'error']) assert.match(page, new RegExp(`<symbol id="s-${s}" viewBox`));
});

test('html in Korean: labels, lang attribute and checklist titles follow --lang', () => {
  const page = renderReport(sampleReport(), 'html', { ...en, lang: 'ko' });
  assert.match(page, /<html lang="ko">/);
  assert.ok(page.includes('<h2>노드 × 체크리스트 항목</h2>'));
  assert.ok(page.includes('커널 모듈 (br_netfilter, overlay, nf_conntrack)'));
  assert.ok(page.includes('<h2>발견 사항</h2>'));
  assert.doesNotMatch(page, /<h2>Findings<\/h2>/);
});

test('html: a node that could not be checked is one matrix cell and one line with the reason, its results still one row each', () => {
  const report = fleetReport(3, 'en', 1);
  const page = renderReport(report, 'html', en);
  const skipped = report.results.filter((r) => r.node === 'node-03');
  assert.ok(skipped.length > 10 && skipped.every((r) => r.status === 'skip'));
  assert.match(page, new RegExp(`<td class="st-skip unchecked" colspan="\\d+"><a href="#n-2">.*${skipped.length} checks not run: no SSH answer from 192\\.0\\.2\\.12:22 within 5000 ms</a></td>`));
  assert.match(page, /<h3>Nodes not checked<\/h3>/);
  const findings = page.slice(page.indexOf('<ol class="findings">'), page.indexOf('<section id="nodes">'));
  assert.ok(findings.length > 1000 && !findings.includes('node-03'), 'no finding for the unreachable node');
  assert.equal((page.match(/data-node="node-03"/g) ?? []).length, skipped.length);
});
