// The checklist workbook through the built binary: the form written, filled as
// a customer would, imported back into a site file that validates; a bad cell
// exits 2 naming sheet and cell and writes nothing; LibreOffice Calc reads and re-saves it.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYaml } from '../../src/schema/load.ts';
import { siteSchema } from '../../src/schema/site.ts';
import { ensureBinary, runBinary } from '../support/run-binary.ts';
import { tempDir } from '../support/temp.ts';
import { EXPECTED_SITE, filledForm, fillWorkbook, xlsxParts } from '../support/xlsx-form.ts';

const dir = tempDir('ac-xlsx-');
before(() => ensureBinary());

test('binary: checklist --format xlsx -> filled -> checklist import --output site.yaml (the expected site file)', async () => {
  const w = await runBinary(['checklist', '--format', 'xlsx', '--lang', 'ko', '--output', 'form.xlsx'], { cwd: dir });
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, '');
  const form = readFileSync(join(dir, 'form.xlsx'));
  assert.equal(form.subarray(0, 2).toString(), 'PK');
  writeFileSync(join(dir, 'filled.xlsx'), await filledForm(form, 'ko'));
  const r = await runBinary(['checklist', 'import', 'filled.xlsx', '--output', 'site.yaml'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /site file written to .*site\.yaml: 2 node\(s\)/);
  const text = readFileSync(join(dir, 'site.yaml'), 'utf8');
  assert.deepEqual(parseYaml(text, 'site.yaml', siteSchema), EXPECTED_SITE);
  // Without --output, the site file goes to stdout.
  const out = await runBinary(['checklist', 'import', 'filled.xlsx'], { cwd: dir });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, text);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('binary: a bad cell exits 2 naming sheet and cell, and writes no site file', async () => {
  const w = await runBinary(['checklist', '--format', 'xlsx', '--output', 'form-en.xlsx'], { cwd: dir });
  assert.equal(w.code, 0, w.stderr);
  const filled = await filledForm(readFileSync(join(dir, 'form-en.xlsx')), 'en');
  writeFileSync(join(dir, 'bad.xlsx'), await fillWorkbook(filled, { Nodes: { E4: 'ssh', H4: 'p@ss word' } }));
  const r = await runBinary(['checklist', 'import', 'bad.xlsx', '--output', 'bad-site.yaml'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.xlsx: sheet 'Nodes' cell E4: field 'ssh\.port': expected a port from 1 to 65535 \(got 'ssh'\)/);
  assert.doesNotMatch(r.stderr, /p@ss word/);
  assert.equal(existsSync(join(dir, 'bad-site.yaml')), false);
});

test('binary: --format xlsx needs --output; import needs a readable workbook', async () => {
  const a = await runBinary(['checklist', '--format', 'xlsx'], { cwd: dir });
  assert.equal(a.code, 2);
  assert.match(a.stderr, /--format xlsx writes a workbook: give --output FILE\.xlsx/);
  writeFileSync(join(dir, 'text.xlsx'), 'name,address\n');
  const b = await runBinary(['checklist', 'import', 'text.xlsx'], { cwd: dir });
  assert.equal(b.code, 2);
  assert.match(b.stderr, /text\.xlsx: not an \.xlsx workbook/);
  truncateSync(join(dir, 'text.xlsx'), 64 << 20); // sparse: nothing is written
  const big = await runBinary(['checklist', 'import', 'text.xlsx'], { cwd: dir });
  assert.equal(big.code, 2);
  assert.match(big.stderr, /text\.xlsx: 67108864 bytes is too large for a checklist workbook/);
  const c = await runBinary(['checklist', 'import'], { cwd: dir });
  assert.equal(c.code, 2);
  assert.match(c.stderr, /checklist import: missing argument/);
});

test('LibreOffice Calc opens the form, keeps its validation lists, and the workbook it saves imports to the same site file', async () => {
  const soffice = '/usr/bin/soffice';
  if (!existsSync(soffice)) throw new Error(`${soffice} is missing: apt-get install libreoffice-calc-nogui`);
  const w = await runBinary(['checklist', '--format', 'xlsx', '--lang', 'ko', '--output', 'lo-form.xlsx'], { cwd: dir });
  assert.equal(w.code, 0, w.stderr);
  const lo = join(dir, 'lo');
  writeFileSync(join(dir, 'lo-filled.xlsx'), await filledForm(readFileSync(join(dir, 'lo-form.xlsx')), 'ko'));
  // A spreadsheet program's own save: Calc reads the workbook and writes it anew.
  const conv = spawnSync(soffice, ['--headless', '--norestore', `-env:UserInstallation=file://${lo}/profile`, '--convert-to', 'xlsx:Calc MS Excel 2007 XML', '--outdir', join(lo, 'out'), join(dir, 'lo-filled.xlsx')], {
    encoding: 'utf8', timeout: 180_000, env: { ...process.env, HOME: lo },
  });
  const saved = join(lo, 'out', 'lo-filled.xlsx');
  assert.ok(existsSync(saved), `soffice wrote nothing (exit ${conv.status}): ${conv.stdout}${conv.stderr}`);
  const nodes = xlsxParts(readFileSync(saved)).sheets.find((s) => s.name === 'Nodes')!.validations;
  assert.deepEqual(nodes.find((v) => v.sqref === 'C3:C502'), { type: 'list', sqref: 'C3:C502', formula: 'Lists!$A$1:$A$7' });
  assert.deepEqual(nodes.find((v) => v.sqref === 'K3:K502'), { type: 'list', sqref: 'K3:K502', formula: 'Lists!$B$1:$B$2' });
  const r = await runBinary(['checklist', 'import', saved], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(parseYaml(r.stdout, 'site.yaml', siteSchema), EXPECTED_SITE);
});
