import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMatrix, nodeOrder, worst } from '../../../src/report/matrix.ts';
import { renderReport } from '../../../src/report/render.ts';
import { buildReport } from '../../../src/report/build.ts';
import { fleetReport, profile, results, sampleReport } from '../../support/report-fixture.ts';

test('worst status: fail before error before warn before skip before pass; none for no results', () => {
  assert.equal(worst(['pass', 'skip', 'warn']), 'warn');
  assert.equal(worst(['error', 'fail']), 'fail');
  assert.equal(worst(['pass', 'error']), 'error');
  assert.equal(worst([]), undefined);
});

test('matrix: a row per node in site order, a column per checklist item in profile order, worst status per cell', () => {
  const report = sampleReport();
  const m = buildMatrix(report, profile, 'en');
  assert.deepEqual(m.rows.map((r) => r.node), ['master-1', 'worker-1']);
  assert.deepEqual(m.columns.map((c) => c.id), ['ACC-03', 'REG-02', 'RES-01', 'STO-01', 'OS-01', 'OS-03', '-']);
  assert.deepEqual(m.categories.map((c) => [c.category, c.span]), [['accounts', 1], ['registry', 1], ['resources', 1], ['storage', 1], ['os', 2], ['network', 1]]);
  const status = (node: string, item: string) => m.rows.find((r) => r.node === node)!.cells[m.columns.findIndex((c) => c.id === item)]!.status;
  assert.equal(status('worker-1', 'OS-03'), 'fail');
  assert.equal(status('master-1', 'REG-02'), 'error');
  assert.equal(status('master-1', 'OS-03'), undefined);
  // Every result sits in exactly one cell.
  assert.equal(m.rows.flatMap((r) => r.cells.flatMap((c) => c.results)).length, report.results.length);
  assert.deepEqual(m.rows.map((r) => r.summary.pass + r.summary.warn + r.summary.fail + r.summary.skip + r.summary.error), [4, 3]);
});

test('matrix cell with several results shows the worst of them', () => {
  const r = fleetReport(3);
  const m = buildMatrix(r, profile, 'en');
  for (const row of m.rows) {
    for (const cell of row.cells) assert.equal(cell.status, worst(cell.results.map((x) => x.status)));
  }
  const net03 = m.columns.findIndex((c) => c.id === 'NET-03');
  assert.ok(m.rows.some((row) => row.cells[net03]!.results.length === 2), 'NET-03 has two checks');
});

test('node order: site nodes first, then nodes only results name; nodes without results left out', () => {
  const report = buildReport({
    results: structuredClone(results).concat([{ ...results[0]!, node: 'local' }]),
    host: 'h', profileName: 'p', lang: 'en', startedAt: new Date(0), durationMs: 0, profile,
    nodes: [{ name: 'idle', roles: ['worker'] }, { name: 'worker-1', roles: ['worker'] }, { name: 'master-1', roles: ['control-plane'] }],
  });
  assert.deepEqual(nodeOrder(report), ['worker-1', 'master-1', 'local']);
});

test('markdown starts with the matrix when there are several nodes, and not for one node', () => {
  const md = renderReport(sampleReport(), 'markdown', { lang: 'en', color: false, profile });
  const sections = [...md.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(sections.slice(0, 4), ['Summary', 'Nodes × checklist items', 'Findings', 'Network']);
  assert.match(md, /^\| Node \| ACC-03 \| REG-02 \| RES-01 \| STO-01 \| OS-01 \| OS-03 \| Other checks \|$/m);
  assert.match(md, /^\| master-1 \| · \| ❗ \| · \| ⚠️ \| ✅ \| · \| ✅ \|$/m);
  assert.match(md, /^\| worker-1 \| ⏭️ \| · \| ✅ \| · \| · \| ❌ \| · \|$/m);
  const one = sampleReport();
  one.results = one.results.filter((r) => r.node === 'master-1');
  assert.doesNotMatch(renderReport(one, 'markdown', { lang: 'en', color: false, profile }), /Nodes × checklist items/);
  const ko = renderReport(sampleReport(), 'markdown', { lang: 'ko', color: false, profile });
  assert.match(ko, /^## 노드 × 체크리스트 항목$/m);
});

test('markdown matrix escapes node names (pipes and markup from nodes)', () => {
  const md = renderReport(fleetReport(2), 'markdown', { lang: 'en', color: false, profile });
  const row = md.split('\n').find((l) => l.startsWith('| gpu-'))!;
  assert.ok(row.startsWith('| gpu-"&gt;&lt;img src=http://leak.invalid/node&gt; |'), row);
});
