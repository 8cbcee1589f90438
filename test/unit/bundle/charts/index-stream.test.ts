// The targeted index.yaml read gives what a whole-document parse gives, for the charts asked
// for: on an index `helm repo index` wrote (the real writer), and on hand-written variants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseIndexEntries, readIndexEntries } from '../../../../src/bundle/charts/index-stream.ts';
import { packageChart } from '../../../../src/bundle/charts/package.ts';
import { helmBinary } from '../../../support/helm.ts';
import { makeChartDir } from '../../../support/helm-repo.ts';
import { tempDir } from '../../../support/temp.ts';

async function* chunks(text: string, size: number): AsyncIterable<Buffer> {
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const read = async (text: string, names: string[], size = 7) => readIndexEntries(chunks(text, size), new Set(names));

test('index read: an index written by helm repo index, read in small chunks (split lines and UTF-8)', async () => {
  const dir = tempDir('ac-index-');
  for (const [name, versions] of [['alpha', ['1.0.0', '1.1.0']], ['beta', ['0.1.0']], ['gamma-ü', ['2.0.0']]] as const) {
    for (const v of versions) {
      const safe = name.replace('-ü', '');
      const src = makeChartDir(join(dir, 'src', `${safe}-${v}`), { name: safe, version: v, appVersion: v });
      const chartYaml = join(src, 'Chart.yaml');
      writeFileSync(chartYaml, readFileSync(chartYaml, 'utf8') + `home: "https://example.invalid/${name}: with ünïcode and a colon"\nkeywords: [a, b]\nannotations:\n  artifacthub.io/images: |\n    - name: x\n      image: quay.io/x/${safe}:${v}\n`);
      const pkg = await packageChart(src);
      writeFileSync(join(dir, pkg.fileName), pkg.data);
    }
  }
  execFileSync(helmBinary(), ['repo', 'index', dir, '--url', 'https://charts.example/x'], { env: { ...process.env, HELM_CACHE_HOME: join(dir, 'h'), HELM_CONFIG_HOME: join(dir, 'h'), HELM_DATA_HOME: join(dir, 'h') } });
  const text = readFileSync(join(dir, 'index.yaml'), 'utf8');
  for (const names of [['alpha'], ['beta', 'gamma'], ['alpha', 'gamma', 'nope']]) {
    const got = await read(text, names);
    assert.ok(got, 'block style is read');
    assert.deepEqual(got, parseIndexEntries(text, new Set(names)), names.join(','));
  }
  const a = (await read(text, ['alpha']))!.get('alpha') as Array<{ version: string; digest: string; urls: string[] }>;
  assert.deepEqual(a.map((e) => e.version).sort(), ['1.0.0', '1.1.0']);
  assert.match(a[0]!.digest, /^[a-f0-9]{64}$/);
  assert.match(a[0]!.urls[0]!, /^https:\/\/charts\.example\/x\/alpha-1\.1\.0\.tgz$/);
});

test('index read: quoted names, indented lists, block scalars, comments; other styles declined', async () => {
  const text = [
    '# a comment',
    'apiVersion: v1',
    'entries:',
    '    "quoted.name":',
    '        - version: 1.0.0',
    '          description: |',
    '            line one',
    '',
    '            entries:',
    '          urls: [q-1.0.0.tgz]',
    '    plain:',
    '    # inside',
    '        - {version: "2.0", urls: [p-2.0.tgz]}',
    "    'single':",
    '        - version: 3.0.0',
    '          urls: [s.tgz]',
    '    empty: []',
    'generated: "2024-01-01T00:00:00Z"',
    'serverInfo: {}',
  ].join('\n');
  const names = ['quoted.name', 'plain', 'single', 'empty', 'generated'];
  assert.deepEqual(await read(text, names, 5), parseIndexEntries(text, new Set(names)));
  assert.equal(((await read(text, ['quoted.name']))!.get('quoted.name') as Array<{ description: string }>)[0]!.description, 'line one\n\nentries:\n');
  const json = JSON.stringify({ apiVersion: 'v1', entries: { a: [{ version: '1', urls: ['a.tgz'] }] } });
  assert.equal(await read(json, ['a']), undefined, 'JSON: the caller parses it whole');
  assert.equal(await read('apiVersion: v1\nentries: {a: [{version: "1"}]}\n', ['a']), undefined, 'flow style');
  assert.deepEqual(await read(stringify({ apiVersion: 'v1', entries: {} }), ['a']), new Map());
});
