// The HTML report in a real browser (Debian's chromium, headless, every request
// sent to a recording proxy that refuses it): the DOM holds one element per
// result with its data attributes, nothing is fetched, and it renders to a
// screenshot and to a PDF whose text holds the folded node details.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReport } from '../../src/report/render.ts';
import { elementsWith, runChromium } from '../support/chromium.ts';
import { fleetReport, HOSTILE_NODE, HOSTILE_TEXT, profile } from '../support/report-fixture.ts';
import { runBinary } from '../support/run-binary.ts';
import { tempDir } from '../support/temp.ts';

const dir = tempDir('ac-html-');
const KEEP = process.env.AC_KEEP_HTML_RENDERS; // a folder: keep the screenshots and PDFs to look at

function page(lang: 'en' | 'ko', nodes = 12) {
  // The last node could not be reached.
  const report = fleetReport(nodes, lang, 1);
  const file = join(dir, `report-${lang}-${nodes}.html`);
  writeFileSync(file, renderReport(report, 'html', { lang, color: false, profile }));
  return { report, file, url: `file://${file}` };
}

test('control: the recording proxy sees a request a page makes (so "none seen" below means none made)', async () => {
  const file = join(dir, 'leaky.html');
  writeFileSync(file, '<!DOCTYPE html><img src="http://leak.invalid/control.png">');
  const run = await runChromium(`file://${file}`, ['--dump-dom']);
  assert.ok(run.pageRequests.some((l) => l.includes('leak.invalid/control.png')), run.pageRequests.join('\n'));
});

test('html in chromium: one element per result with data-node/data-check/data-status, hostile text inert, no request', async () => {
  const { report, url } = page('en');
  const run = await runChromium(url, ['--dump-dom']);
  assert.deepEqual(run.pageRequests, []);
  const els = elementsWith(run.stdout, 'data-check');
  const seen = els.map((e) => `${e['data-node']}\u0000${e['data-check']}\u0000${e['data-status']}`).sort();
  const expected = report.results.map((r) => `${r.node}\u0000${r.id}\u0000${r.status}`).sort();
  assert.equal(els.length, report.results.length);
  assert.deepEqual(seen, expected);
  assert.ok(els.every((e) => 'data-node' in e && 'data-status' in e));
  // The hostile node name and message arrived as text: no script, no injected image, no extra row.
  assert.equal(elementsWith(run.stdout, 'src').length, 0);
  assert.doesNotMatch(run.stdout, /<script/i);
  assert.ok(run.stdout.includes(HOSTILE_NODE.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')));
  assert.ok(run.stdout.includes('&lt;script&gt;fetch('));
  assert.ok(report.results.some((r) => r.message === HOSTILE_TEXT));
  // One <details> per node, folded.
  assert.equal((run.stdout.match(/<details class="node"/g) ?? []).length, 12);
  assert.doesNotMatch(run.stdout, /<details class="node"[^>]* open/);
});

for (const lang of ['en', 'ko'] as const) {
  test(`html (${lang}) renders to a screenshot and to a PDF that holds the node details, with no request`, async () => {
    if (!existsSync('/usr/bin/pdftotext')) throw new Error('pdftotext is missing: apt-get install poppler-utils');
    const { report, url } = page(lang);
    const png = join(KEEP ?? dir, `report-${lang}.png`);
    const pdf = join(KEEP ?? dir, `report-${lang}.pdf`);
    const shot = await runChromium(url, ['--hide-scrollbars', '--window-size=1280,2400', `--screenshot=${png}`]);
    const print = await runChromium(url, ['--no-pdf-header-footer', `--print-to-pdf=${pdf}`]);
    assert.deepEqual([...shot.pageRequests, ...print.pageRequests], []);
    assert.deepEqual([...readFileSync(png).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // Words joined by single spaces: font fallback (Hangul) spreads them apart in the layout.
    // A line may also break after the hyphen of a node name (node-\n11).
    const text = execFileSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ').replace(/- /g, '-');
    // Printed, the folded node details unfold: a passing result's message appears only there.
    const passing = report.results.find((r) => r.status === 'pass' && r.node === 'node-11')!;
    assert.ok(text.includes(passing.message.replace(/- /g, '-')), `PDF text lacks "${passing.message}"`);
    assert.ok(text.includes(lang === 'ko' ? 'Astrago 사전 점검 보고서' : 'Astrago preflight report'));
    assert.ok(text.includes(lang === 'ko' ? '노드 × 체크리스트 항목' : 'Nodes × checklist items'));
    // The sysctl failure of every node checked is one finding; the unreachable node is one line with its reason.
    assert.match(text, lang === 'ko' ? /노드 11대/ : /on 11 nodes/);
    assert.match(text, /no SSH answer from 192\.0\.2\.21:22 within 5000 ms/);
    const pages = Number(/Pages:\s+(\d+)/.exec(execFileSync('pdfinfo', [pdf], { encoding: 'utf8' }))![1]);
    assert.ok(pages >= 2, `${pages} pages`);
  });
}

test('binary: preflight --format html --output, opened in chromium, holds the same results as --format json', async () => {
  const only = ['--local', '--only', 'os.release,kernel.swap,kernel.cgroup,os.hostname'];
  const h = await runBinary([...only, '--format', 'html', '--output', join(dir, 'local.html')]);
  assert.ok(h.code === 0 || h.code === 1, h.stderr);
  const j = await runBinary([...only, '--format', 'json']);
  const json = JSON.parse(j.stdout) as { results: { node: string; id: string }[] };
  assert.ok(json.results.length >= 4);
  const run = await runChromium(`file://${join(dir, 'local.html')}`, ['--dump-dom']);
  assert.deepEqual(run.pageRequests, []);
  const seen = elementsWith(run.stdout, 'data-check').map((e) => `${e['data-node']} ${e['data-check']}`).sort();
  assert.deepEqual(seen, json.results.map((r) => `${r.node} ${r.id}`).sort());
});
