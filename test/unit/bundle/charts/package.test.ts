import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isIgnored, packageChart, parseHelmignore } from '../../../../src/bundle/charts/package.ts';
import { readChartArchive } from '../../../../src/bundle/charts/chart-archive.ts';
import { makeChartDir } from '../../../support/helm-repo.ts';
import { tempDir } from '../../../support/temp.ts';

test('packaging is reproducible: same directory, same bytes, whatever the file times', async () => {
  const root = tempDir('ac-chart-');
  const dir = makeChartDir(root, { name: 'demo', version: '1.2.3', values: { image: { repository: 'x/y', tag: '1' } } });
  const a = await packageChart(dir);
  utimesSync(join(dir, 'values.yaml'), new Date(2020, 1, 1), new Date(2020, 1, 1));
  const b = await packageChart(dir);
  assert.equal(a.fileName, 'demo-1.2.3.tgz');
  assert.ok(a.data.equals(b.data));
  writeFileSync(join(dir, 'values.yaml'), 'changed: true\n');
  assert.ok(!a.data.equals((await packageChart(dir)).data), 'content changes change the archive');
});

test('archive layout: NAME/ prefix, sorted, .helmignore honoured; Chart.yaml and values readable', async () => {
  const root = tempDir('ac-chart-');
  const dir = makeChartDir(root, { name: 'web', version: '0.1.0', values: { a: 1 }, extraFiles: { 'notes.tmp': 'x', 'docs/README.md': 'r', 'secret/key': 'k', '.helmignore': '# comment\n*.tmp\nsecret/\n' } });
  const pkg = await packageChart(dir);
  const file = join(root, pkg.fileName);
  writeFileSync(file, pkg.data);
  const names = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(names, ['web/.helmignore', 'web/Chart.yaml', 'web/docs/README.md', 'web/templates/configmap.yaml', 'web/values.yaml']);
  const arch = await readChartArchive(file);
  assert.equal(arch.metadata.name, 'web');
  assert.equal(arch.metadata.version, '0.1.0');
  assert.match(arch.values, /a: 1/);
});

test('.helmignore rules: base names, paths, directories, negation', () => {
  const rules = parseHelmignore('*.bak\n/ci/*.yaml\nbuild/\n!keep.bak\n');
  assert.ok(isIgnored(rules, 'x/y.bak', false));
  assert.ok(!isIgnored(rules, 'keep.bak', false));
  assert.ok(isIgnored(rules, 'ci/test.yaml', false));
  assert.ok(!isIgnored(rules, 'templates/test.yaml', false));
  assert.ok(isIgnored(rules, 'build', true));
  assert.ok(!isIgnored(rules, 'build', false));
});

test('Chart.yaml must agree with the spec', async () => {
  const root = tempDir('ac-chart-');
  const dir = makeChartDir(root, { name: 'real', version: '2.0.0' });
  await assert.rejects(packageChart(dir, { expectName: 'other' }), (e: Error) => /Chart\.yaml: field 'name':.*'other'.*'real'/.test(e.message));
  await assert.rejects(packageChart(dir, { expectVersion: '1.0.0' }), /asks for version 1\.0\.0, Chart\.yaml has 2\.0\.0/);
  mkdirSync(join(root, 'empty'));
  await assert.rejects(packageChart(join(root, 'empty')), /needs a Chart\.yaml/);
});
