// Reads a filled workbook form back into a site file. Every cell is parsed by
// the kind its field declares, the whole site is validated by the Site schema,
// and each problem names the sheet and the cell (never the content of a cell
// that holds a secret reference: a customer may have typed the secret there).
import ExcelJS from 'exceljs';
import { InputError, InputErrors } from '../../errors.ts';
import { API_VERSION, ROLES } from '../../schema/common.ts';
import { describeIssue, fieldPath } from '../../schema/load.ts';
import { siteSchema, type Site } from '../../schema/site.ts';
import { ALL_SHEETS, NO, NODE_FIELDS, YES, type Field, type FormSheet } from '../checklist-fields.ts';
import { FIELDS_FIRST_ROW, KEY_COL, NODES_FIRST_ROW, NODES_HELP_ROW, NODES_SHEET, VALUE_COL } from './layout.ts';

type Obj = Record<string, unknown>;
/** Where a value came from: "sheet!cell" per site path (nodes.0.ssh.port). */
type Origins = Map<string, { sheet: string; cell: string; field: Field }>;

class Problems {
  readonly list: InputError[] = [];
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }
  at(sheet: string, cell: string, field: string | undefined, expected: string): void {
    this.list.push(new InputError({ file: `${this.file}: sheet '${sheet}' cell ${cell}`, field, expected }));
  }
}

export async function importChecklistWorkbook(data: Buffer, file: string): Promise<Site> {
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(data as unknown as ExcelJS.Buffer);
  } catch {
    throw new InputError({ file, expected: 'not an .xlsx workbook (expected the form `astrago-check checklist --format xlsx` writes)' });
  }
  const problems = new Problems(file);
  const origins: Origins = new Map();
  const site: Obj = { apiVersion: API_VERSION, kind: 'Site', metadata: {} };
  for (const sheet of ALL_SHEETS) if (sheet.fields.length) readFieldSheet(wb, sheet, site, origins, problems);
  site.nodes = readNodes(wb, origins, problems);
  if (problems.list.length) throw new InputErrors(problems.list);

  const parsed = siteSchema.safeParse(site);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const path = issue.path.map(String);
    const origin = nearestOrigin(origins, path);
    const expected = describeIssue(issue);
    if (origin) problems.at(origin.sheet, origin.cell, origin.field.key, expected);
    else problems.list.push(new InputError({ file, field: fieldPath(issue.path), expected }));
  }
  throw new InputErrors(problems.list);
}

/** The cell of a path, or of its nearest ancestor that came from a cell. */
function nearestOrigin(origins: Origins, path: string[]) {
  for (let n = path.length; n > 0; n--) {
    const o = origins.get(path.slice(0, n).join('.'));
    if (o) return o;
  }
  // An object built from several cells (e.g. registry without url): its first cell.
  const prefix = `${path.join('.')}.`;
  for (const [k, o] of origins) if (k.startsWith(prefix)) return o;
  return undefined;
}

function readFieldSheet(wb: ExcelJS.Workbook, sheet: FormSheet, site: Obj, origins: Origins, problems: Problems): void {
  const ws = wb.getWorksheet(sheet.name);
  if (!ws) return problems.at(sheet.name, 'A1', undefined, `the sheet is missing (expected the sheets ${ALL_SHEETS.map((s) => s.name).join(', ')}, ${NODES_SHEET})`);
  const byKey = new Map(sheet.fields.map((f) => [f.key, f]));
  const seen = new Set<string>();
  for (let r = FIELDS_FIRST_ROW; r <= ws.rowCount; r++) {
    const keyCell = ws.getCell(r, KEY_COL);
    const key = cellText(keyCell);
    const field = byKey.get(key);
    if (!field) {
      if (/^[a-z]\w*(\.\w+)+$/.test(key)) problems.at(sheet.name, keyCell.address, key, `unknown key (expected one of ${[...byKey.keys()].join(', ')})`);
      continue;
    }
    if (seen.has(key)) {
      problems.at(sheet.name, keyCell.address, key, 'the key appears twice');
      continue;
    }
    seen.add(key);
    const cell = ws.getCell(r, VALUE_COL);
    origins.set(key, { sheet: sheet.name, cell: cell.address, field });
    const value = parseCell(cell, field, sheet.name, problems);
    if (value !== undefined) setPath(site, key.split('.'), value);
  }
  for (const f of sheet.fields) if (f.required && !seen.has(f.key)) problems.at(sheet.name, `A${FIELDS_FIRST_ROW}`, f.key, 'the row of this key is missing');
}

function readNodes(wb: ExcelJS.Workbook, origins: Origins, problems: Problems): Obj[] {
  const ws = wb.getWorksheet(NODES_SHEET);
  if (!ws) {
    problems.at(NODES_SHEET, 'A1', undefined, 'the sheet is missing');
    return [];
  }
  const columns = new Map<number, Field>();
  const known = new Map(NODE_FIELDS.map((f) => [f.key, f]));
  ws.getRow(1).eachCell((cell, col) => {
    const key = cellText(cell);
    if (!key) return;
    const field = known.get(key);
    if (field) columns.set(col, field);
    else problems.at(NODES_SHEET, cell.address, key, `unknown column key (expected ${NODE_FIELDS.map((f) => f.key).join(', ')})`);
  });
  const present = new Set([...columns.values()].map((f) => f.key));
  for (const f of NODE_FIELDS) if (f.required && !present.has(f.key)) problems.at(NODES_SHEET, '1:1', f.key, 'the header row lacks this column');

  const nodes: Obj[] = [];
  // Row 2 is the help row as written; a form whose help row was deleted has a node there.
  const first = isHelpRow(ws, columns) ? NODES_FIRST_ROW : NODES_HELP_ROW;
  for (let r = first; r <= ws.rowCount; r++) {
    const cells = [...columns].map(([col, field]) => ({ cell: ws.getCell(r, col), field }));
    if (cells.every(({ cell }) => cellText(cell) === '')) continue;
    const node: Obj = {};
    const index = nodes.length;
    for (const { cell, field } of cells) {
      origins.set(`nodes.${index}.${field.key}`, { sheet: NODES_SHEET, cell: cell.address, field });
      const value = parseCell(cell, field, NODES_SHEET, problems);
      if (value !== undefined) setPath(node, field.key.split('.'), value);
    }
    origins.set(`nodes.${index}`, { sheet: NODES_SHEET, cell: cells[0]!.cell.address, field: cells[0]!.field });
    nodes.push(node);
  }
  return nodes;
}

function isHelpRow(ws: ExcelJS.Worksheet, columns: Map<number, Field>): boolean {
  for (const [col, field] of columns) {
    const text = cellText(ws.getCell(NODES_HELP_ROW, col));
    if (text && (text === field.help.en || text === field.help.ko)) return true;
  }
  return false;
}

/** A cell's value as the kind its field declares; undefined for an empty cell or a problem (recorded). */
function parseCell(cell: ExcelJS.Cell, field: Field, sheet: string, problems: Problems): unknown {
  const v = cell.value;
  if (v && typeof v === 'object' && 'error' in v) {
    problems.at(sheet, cell.address, field.key, `the cell holds a formula error (${String(v.error)})`);
    return undefined;
  }
  const text = cellText(cell);
  if (text === '') return undefined;
  // A cell meant for a secret reference may hold the secret itself: never quote it.
  const got = field.secretRef ? '' : ` (got '${text.length > 60 ? `${text.slice(0, 60)}…` : text}')`;
  const bad = (expected: string) => {
    problems.at(sheet, cell.address, field.key, `expected ${expected}${got}`);
    return undefined;
  };
  switch (field.kind) {
    case 'text':
      return text;
    case 'list':
      return text.split(/[\s,;]+/).filter(Boolean);
    case 'int':
      return /^\d+$/.test(text) ? Number(text) : bad('a whole number, 0 or more');
    case 'port':
      return /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 65535 ? Number(text) : bad('a port from 1 to 65535');
    case 'bool': {
      const t = text.toLowerCase();
      return YES.includes(t) ? true : NO.includes(t) ? false : bad('yes or no');
    }
    case 'roles': {
      const words = text.toLowerCase().split(/[\s,;+/]+/).filter(Boolean);
      const wrong = words.filter((w) => !(ROLES as readonly string[]).includes(w));
      if (wrong.length || !words.length) return bad(`roles from ${ROLES.join(', ')}, comma-separated`);
      return ROLES.filter((r) => words.includes(r));
    }
  }
}

/** The text a cell shows: rich text joined, a hyperlink's text, a formula's result. */
export function cellText(cell: ExcelJS.Cell): string {
  const v = cell.value;
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (v instanceof Date) return v.toISOString();
  if ('richText' in v) return v.richText.map((t) => t.text).join('').trim();
  if ('hyperlink' in v) return String(v.text ?? v.hyperlink).trim();
  if ('formula' in v || 'sharedFormula' in v) {
    const result = (v as { result?: unknown }).result;
    return result === undefined || result === null || typeof result === 'object' ? '' : String(result).trim();
  }
  return '';
}

function setPath(target: Obj, path: string[], value: unknown): void {
  let o = target;
  for (const k of path.slice(0, -1)) o = (o[k] ??= {}) as Obj;
  o[path.at(-1)!] = value;
}
