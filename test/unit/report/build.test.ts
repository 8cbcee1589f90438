import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, exitCodeFor, sortResults, summarize } from '../../../src/report/build.ts';
import { reportSchema } from '../../../src/schema/report.ts';
import { profile, results, sampleReport } from '../../support/report-fixture.ts';

test('buildReport produces a report the schema accepts, with header fields', () => {
  const report = sampleReport();
  assert.deepEqual(reportSchema.parse(report), report);
  assert.equal(report.site, 'acme-lab');
  assert.equal(report.host, 'jump-1');
  assert.equal(report.createdAt, '2026-11-23T07:00:00.000Z');
  assert.equal(report.tool.name, 'astrago-check');
  assert.equal(report.durationMs, 1234);
});

test('summary counts every status', () => {
  assert.deepEqual(sampleReport().summary, { pass: 3, warn: 1, fail: 1, skip: 1, error: 1 });
  assert.deepEqual(summarize([]), { pass: 0, warn: 0, fail: 0, skip: 0, error: 0 });
});

test('results sort by node (site order), checklist item (profile order), then id', () => {
  const report = sampleReport();
  assert.deepEqual(
    report.results.map((r) => `${r.node} ${r.checklist} ${r.id}`),
    [
      'master-1 REG-02 registry.tls',
      'master-1 STO-01 disk.free[/var/lib/etcd]',
      'master-1 OS-01 os.release',
      'master-1 - custom.thing',
      'worker-1 ACC-03 ssh.sudo',
      'worker-1 RES-01 resources.cpu',
      'worker-1 OS-03 kernel.modules',
    ],
  );
  // The order does not depend on the input order.
  assert.deepEqual(sortResults([...results].reverse(), report.nodes, profile), report.results);
});

test('without a profile or node list, ordering is by name and natural id order', () => {
  const base = { node: 'n', checklist: 'STO-01', category: 'storage' as const, status: 'pass' as const, message: '', facts: {}, durationMs: 0 };
  const sorted = sortResults([
    { ...base, node: 'b', id: 'x' },
    { ...base, id: 'disk.free[/var]' },
    { ...base, checklist: 'STO-10', id: 'a' },
    { ...base, checklist: 'STO-2', id: 'a' },
    { ...base, id: 'disk.free[/]' },
  ]);
  assert.deepEqual(sorted.map((r) => `${r.node} ${r.checklist} ${r.id}`), ['b STO-01 x', 'n STO-01 disk.free[/]', 'n STO-01 disk.free[/var]', 'n STO-2 a', 'n STO-10 a']);
});

test('site defaults to the host name when there is no site file', () => {
  const r = buildReport({ results: [], host: 'node-7', profileName: 'p', lang: 'ko', startedAt: new Date(0), durationMs: 1 });
  assert.equal(r.site, 'node-7');
  assert.equal(r.lang, 'ko');
  assert.equal(r.nodes, undefined);
});

test('exit codes: fail or error -> 1, warn -> 1 only when strict', () => {
  const s = (x: Partial<Record<'pass' | 'warn' | 'fail' | 'skip' | 'error', number>>) => ({ pass: 0, warn: 0, fail: 0, skip: 0, error: 0, ...x });
  assert.equal(exitCodeFor(s({ pass: 5, skip: 2 }), false), 0);
  assert.equal(exitCodeFor(s({ pass: 5, skip: 2 }), true), 0);
  assert.equal(exitCodeFor(s({ warn: 1 }), false), 0);
  assert.equal(exitCodeFor(s({ warn: 1 }), true), 1);
  assert.equal(exitCodeFor(s({ fail: 1 }), false), 1);
  assert.equal(exitCodeFor(s({ error: 1 }), false), 1);
});
