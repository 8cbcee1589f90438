import { test } from 'node:test';
import assert from 'node:assert/strict';
import ExcelJS from 'exceljs';
import { InputErrors } from '../../../../src/errors.ts';
import { loadProfile } from '../../../../src/preflight/profile.ts';
import { ALL_SHEETS, NODE_FIELDS } from '../../../../src/report/checklist-fields.ts';
import { jsonSchemaOf } from '../../../../src/schema/index.ts';
import { importChecklistWorkbook } from '../../../../src/report/xlsx/read-form.ts';
import { checklistWorkbook, roleChoices } from '../../../../src/report/xlsx/write-form.ts';
import { siteSchema } from '../../../../src/schema/site.ts';
import { EXPECTED_SITE, filledForm, fillWorkbook, keyRows, xlsxParts } from '../../../support/xlsx-form.ts';

const profile = loadProfile();
const load = async (data: Buffer) => {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(data as unknown as ExcelJS.Buffer);
  return wb;
};

test('xlsx form: Site, Nodes (header keys), a sheet per category, hidden lists; validations in the file itself', async () => {
  const data = await checklistWorkbook(profile, 'en');
  const parts = xlsxParts(data);
  assert.deepEqual(parts.sheets.map((s) => [s.name, s.state]), [
    ['Site', 'visible'], ['Nodes', 'visible'], ['Network', 'visible'], ['Accounts', 'visible'], ['Security', 'visible'],
    ['Registry', 'visible'], ['Resources', 'visible'], ['Storage', 'visible'], ['OS', 'visible'], ['Lists', 'hidden'],
  ]);
  const nodes = parts.sheets.find((s) => s.name === 'Nodes')!.validations;
  assert.deepEqual(nodes.find((v) => v.sqref === 'C3:C502'), { type: 'list', sqref: 'C3:C502', formula: 'Lists!$A$1:$A$7' });
  assert.deepEqual(nodes.find((v) => v.sqref === 'K3:K502'), { type: 'list', sqref: 'K3:K502', formula: 'Lists!$B$1:$B$2' });
  assert.equal(nodes.find((v) => v.sqref === 'E3:E502')?.type, 'whole');
  // No two rules cover one cell (Excel calls such a file damaged).
  const cols = nodes.map((v) => v.sqref.replace(/\d+/g, ''));
  assert.equal(new Set(cols).size, cols.length);
  const registry = parts.sheets.find((s) => s.name === 'Registry')!.validations;
  assert.ok(registry.some((v) => v.type === 'list' && v.formula === 'Lists!$B$1:$B$2'));

  const wb = await load(data);
  const ws = wb.getWorksheet('Nodes')!;
  const header = NODE_FIELDS.map((_, i) => ws.getCell(1, i + 1).value);
  assert.deepEqual(header.slice(0, 6), ['name', 'address', 'roles', 'ssh.user', 'ssh.port', 'ssh.keyFile']);
  assert.deepEqual(header, NODE_FIELDS.map((f) => f.key));
  // Secrets only as references: every secret column names a variable or a file.
  assert.deepEqual(header.filter((h) => /pass|secret|key/i.test(String(h))), ['ssh.keyFile', 'ssh.passphraseEnv', 'ssh.passwordEnv', 'ssh.passwordFile']);
  const lists = wb.getWorksheet('Lists')!;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((r) => lists.getCell(r, 1).value), roleChoices());
  assert.ok(roleChoices().includes('worker, gpu-worker'));
  // Each category sheet lists its checklist items.
  const network = wb.getWorksheet('Network')!;
  const ids: string[] = [];
  network.eachRow((row) => {
    const v = String(row.getCell(1).value ?? '');
    if (/^NET-\d+$/.test(v)) ids.push(v);
  });
  assert.deepEqual(ids, profile.checklist.filter((c) => c.category === 'network').map((c) => c.id));
});

test('xlsx form in Korean: titles and help translated, header keys unchanged', async () => {
  const wb = await load(await checklistWorkbook(profile, 'ko'));
  const ws = wb.getWorksheet('Nodes')!;
  assert.deepEqual(NODE_FIELDS.map((_, i) => ws.getCell(1, i + 1).value), NODE_FIELDS.map((f) => f.key));
  assert.equal(ws.getCell(2, 1).value, NODE_FIELDS[0]!.help.ko);
  assert.match(String(wb.getWorksheet('Network')!.getCell(1, 1).value), /^네트워크/);
  assert.match(String(wb.getWorksheet('Site')!.getCell(1, 1).value), /고객 정보 체크리스트/);
  const os = wb.getWorksheet('OS')!;
  let found = false;
  os.eachRow((row) => (found ||= row.getCell(2).value === '커널 버전'));
  assert.ok(found, 'OS-02 title in Korean');
});

for (const lang of ['en', 'ko'] as const) {
  test(`round trip (${lang}): form -> cells filled -> import -> the expected site file`, async () => {
    const site = await importChecklistWorkbook(await filledForm(await checklistWorkbook(profile, lang), lang), 'form.xlsx');
    assert.deepEqual(site, EXPECTED_SITE);
    assert.deepEqual(siteSchema.parse(site), site);
  });
}

test('a blank form imports to an error naming the site-name cell', async () => {
  const err = await importChecklistWorkbook(await checklistWorkbook(profile, 'en'), 'blank.xlsx').then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof InputErrors);
  assert.equal(err.exitCode, 2);
  assert.match(err.message, /^blank\.xlsx: sheet 'Site' cell B5: field 'metadata\.name': expected string/m);
});

test('bad cells are named by sheet and cell; a secret-reference cell is never quoted', async () => {
  const form = await filledForm(await checklistWorkbook(profile, 'en'), 'en');
  const reg = await keyRows(form, 'Registry');
  const bad = await fillWorkbook(form, {
    Nodes: { E3: 'twenty-two', B4: null, H4: 'hunter2 is my password', C4: 'worker, gpu' },
    Registry: { [`B${reg['registry.url']}`]: null },
  });
  const err = await importChecklistWorkbook(bad, 'form.xlsx').then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof InputErrors, String(err));
  const lines = err.message.split('\n');
  assert.ok(lines.includes("form.xlsx: sheet 'Nodes' cell E3: field 'ssh.port': expected a port from 1 to 65535 (got 'twenty-two')"), err.message);
  assert.ok(lines.includes("form.xlsx: sheet 'Nodes' cell C4: field 'roles': expected roles from control-plane, worker, gpu-worker, comma-separated (got 'worker, gpu')"), err.message);
  // Cell problems come first; schema problems (missing address, bad variable name) once cells parse.
  const fixed = await fillWorkbook(bad, { Nodes: { E3: 22, C4: 'worker' } });
  const err2 = await importChecklistWorkbook(fixed, 'form.xlsx').then(() => undefined, (e: unknown) => e);
  assert.ok(err2 instanceof InputErrors, String(err2));
  assert.match(err2.message, /^form\.xlsx: sheet 'Nodes' cell B4: field 'address': expected string/m);
  assert.match(err2.message, /^form\.xlsx: sheet 'Nodes' cell H4: field 'ssh\.passwordEnv': expected an environment variable name$/m);
  assert.match(err2.message, new RegExp(`^form\\.xlsx: sheet 'Registry' cell B${reg['registry.url']}: field 'registry\\.url': expected string`, 'm'));
  assert.doesNotMatch(err.message + err2.message, /hunter2/);
});

test('an unknown column key and a wrong sheet are named; a deleted help row keeps the node in row 2', async () => {
  const form = await filledForm(await checklistWorkbook(profile, 'en'), 'en');
  const err = await importChecklistWorkbook(await fillWorkbook(form, { Nodes: { L1: 'ssh.password' } }), 'f.xlsx').then(() => undefined, (e: unknown) => e);
  assert.match(String(err), /f\.xlsx: sheet 'Nodes' cell L1: field 'ssh\.password': unknown column key/);
  const noRegistry = await fillWorkbook(form, {}, (wb) => wb.removeWorksheet(wb.getWorksheet('Registry')!.id));
  assert.match(String(await importChecklistWorkbook(noRegistry, 'f.xlsx').catch((e: unknown) => e)), /f\.xlsx: sheet 'Registry' cell A1: the sheet is missing/);
  const noHelp = await fillWorkbook(form, {}, (wb) => wb.getWorksheet('Nodes')!.spliceRows(2, 1));
  const site = await importChecklistWorkbook(noHelp, 'f.xlsx');
  assert.deepEqual(site.nodes.map((n) => n.name), ['master-1', 'gpu-1']);
  await assert.rejects(importChecklistWorkbook(Buffer.from('not a zip'), 'x.xlsx'), /x\.xlsx: not an \.xlsx workbook/);
});

/** Leaf property paths of a JSON schema, e.g. nodes[].ssh.port. */
function leafPaths(schema: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
    const p = prefix ? `${prefix}.${k}` : k;
    const sub = leafPaths(v, p);
    out.push(...(sub.length ? sub : [p]));
  }
  const items = schema.items as Record<string, unknown> | undefined;
  if (schema.type === 'array' && items?.properties) out.push(...leafPaths(items, `${prefix}[]`));
  for (const alt of ((schema.anyOf ?? schema.oneOf ?? []) as Record<string, unknown>[])) out.push(...leafPaths(alt, prefix));
  return out;
}

test('the workbook asks for every field of the Site schema (a new field needs a row or a column)', () => {
  const asked = new Set([...NODE_FIELDS.map((f) => `nodes[].${f.key}`), ...ALL_SHEETS.flatMap((s) => s.fields.map((f) => f.key))]);
  assert.deepEqual(leafPaths(jsonSchemaOf('site')).filter((p) => !asked.has(p) && p !== 'apiVersion' && p !== 'kind'), []);
});
