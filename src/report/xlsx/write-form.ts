// The checklist as a workbook customers fill in a spreadsheet: a Site sheet,
// a Nodes sheet (one node a row, header keys as in the site file) and a sheet
// per checklist category with its fields and items. Input cells carry
// validation lists (roles, yes/no) and number ranges; secrets are asked for
// only as references (a variable or file name).
import ExcelJS from 'exceljs';
import type { Lang } from '../../schema/common.ts';
import { ROLES } from '../../schema/common.ts';
import type { Profile } from '../../schema/profile.ts';
import { CATEGORY_SHEETS, NODE_FIELDS, SITE_SHEET, type Field, type FormSheet, type T } from '../checklist-fields.ts';
import { labels } from '../i18n.ts';
import { FIELDS_FIRST_ROW, FIELDS_HEADER_ROW, LISTS_SHEET, NODES_FIRST_ROW, NODES_HELP_ROW, NODES_INPUT_ROWS, NODES_SHEET } from './layout.ts';

const TEXT = {
  intro: { en: 'Fill in the yellow cells of each sheet and return the workbook; it becomes the site file (astrago-check checklist import).', ko: '각 시트의 노란색 칸을 채워 회신해 주십시오. 이 파일이 사이트 파일이 됩니다 (astrago-check checklist import).' },
  secrets: { en: 'Secrets never go in this workbook: name the environment variable or the file that holds them.', ko: '비밀번호 등 비밀 값은 이 파일에 쓰지 않습니다: 값을 담은 환경 변수나 파일의 이름을 적으십시오.' },
  nodes: { en: 'One node a row, from row 3; row 1 holds the site-file keys, row 2 this help.', ko: '3행부터 한 행에 노드 하나; 1행은 사이트 파일 키, 2행은 이 설명입니다.' },
  key: { en: 'key', ko: '키' },
  value: { en: 'value', ko: '값' },
  help: { en: 'help', ko: '설명' },
  example: { en: 'example', ko: '예시' },
  items: { en: 'Checklist items', ko: '체크리스트 항목' },
  secretPrompt: { en: 'A name only (environment variable or file), never the secret itself.', ko: '이름만 적으십시오 (환경 변수 또는 파일). 비밀 값 자체는 넣지 않습니다.' },
  pickRoles: { en: 'Pick the roles from the list.', ko: '목록에서 역할을 고르십시오.' },
  yesNo: { en: 'yes or no', ko: 'yes 또는 no' },
  port: { en: 'a port from 1 to 65535', ko: '1에서 65535 사이의 포트' },
  count: { en: 'a whole number, 0 or more', ko: '0 이상의 정수' },
} satisfies Record<string, T>;

const INPUT_FILL: ExcelJS.Fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFFFF4C2' } };
const HEAD_FILL: ExcelJS.Fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE3E3E3' } };
const HELP_FONT: Partial<ExcelJS.Font> = { italic: true, color: { argb: 'FF555555' } };

/** Every non-empty combination of roles, in role order: a cell picks one. */
export function roleChoices(): string[] {
  const out: string[] = [];
  for (let mask = 1; mask < 1 << ROLES.length; mask++) out.push(ROLES.filter((_, i) => mask & (1 << i)).join(', '));
  return out.sort((a, b) => a.split(',').length - b.split(',').length);
}

export async function checklistWorkbook(profile: Profile, lang: Lang): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'astrago-check';
  const roles = roleChoices();
  fieldSheet(wb, SITE_SHEET, profile, lang, [TEXT.intro[lang], TEXT.secrets[lang]]);
  nodesSheet(wb, lang, roles.length);
  for (const sheet of CATEGORY_SHEETS) fieldSheet(wb, sheet, profile, lang, [sheet.note?.[lang] ?? TEXT.secrets[lang]]);
  const lists = wb.addWorksheet(LISTS_SHEET, { state: 'hidden' });
  roles.forEach((r, i) => (lists.getCell(i + 1, 1).value = r));
  lists.getCell(1, 2).value = 'yes';
  lists.getCell(2, 2).value = 'no';
  return Buffer.from(await wb.xlsx.writeBuffer());
}

function nodesSheet(wb: ExcelJS.Workbook, lang: Lang, roleCount: number): void {
  const ws = wb.addWorksheet(NODES_SHEET, { views: [{ state: 'frozen', xSplit: 1, ySplit: NODES_HELP_ROW }] });
  ws.columns = NODE_FIELDS.map((f) => ({ key: f.key, width: Math.max(14, f.key.length + 4, f.example.length + 4) }));
  NODE_FIELDS.forEach((f, i) => {
    const key = ws.getCell(1, i + 1);
    key.value = f.key;
    key.font = { bold: true };
    key.fill = HEAD_FILL;
    key.note = `${f.help[lang]}\n${lang === 'ko' ? '예' : 'e.g.'} ${f.example}`;
    const help = ws.getCell(NODES_HELP_ROW, i + 1);
    help.value = f.help[lang];
    help.font = HELP_FONT;
    help.alignment = { wrapText: true, vertical: 'top' };
  });
  ws.getRow(NODES_HELP_ROW).height = 45;
  const last = NODES_FIRST_ROW + NODES_INPUT_ROWS - 1;
  NODE_FIELDS.forEach((f, i) => {
    for (let r = NODES_FIRST_ROW; r <= last; r++) ws.getCell(r, i + 1).fill = INPUT_FILL;
    const v = validation(f, lang, roleCount);
    const col = ws.getColumn(i + 1).letter;
    if (v) rangeValidations(ws).add(`${col}${NODES_FIRST_ROW}:${col}${last}`, v);
  });
}

/**
 * The worksheet's validations by range (exceljs's Worksheet.dataValidations, which its
 * typings leave out). One rule per column range: set cell by cell, exceljs 4.4.0 merges
 * the cells in text order of their addresses (C10 before C3) into overlapping ranges,
 * which Excel reports as a damaged file.
 */
function rangeValidations(ws: ExcelJS.Worksheet): { add(range: string, v: ExcelJS.DataValidation): void } {
  const dv = (ws as unknown as { dataValidations?: { add?: unknown } }).dataValidations;
  if (typeof dv?.add !== 'function') throw new Error('exceljs: Worksheet.dataValidations.add is missing');
  return dv as { add(range: string, v: ExcelJS.DataValidation): void };
}

function fieldSheet(wb: ExcelJS.Workbook, sheet: FormSheet, profile: Profile, lang: Lang, intro: string[]): void {
  const ws = wb.addWorksheet(sheet.name, { views: [{ state: 'frozen', ySplit: FIELDS_HEADER_ROW }] });
  ws.columns = [{ width: 28 }, { width: 36 }, { width: 70 }, { width: 40 }];
  const title = ws.getCell(1, 1);
  title.value = sheet.category ? `${sheet.title[lang]} — ${labels(lang).checklistTitle}` : sheet.title[lang];
  title.font = { bold: true, size: 14 };
  intro.forEach((line, i) => (ws.getCell(2 + i, 1).value = line));
  const header = ws.getRow(FIELDS_HEADER_ROW);
  header.values = [TEXT.key[lang], TEXT.value[lang], TEXT.help[lang], TEXT.example[lang]];
  header.font = { bold: true };
  header.eachCell((c) => (c.fill = HEAD_FILL));
  sheet.fields.forEach((f, i) => {
    const row = ws.getRow(FIELDS_FIRST_ROW + i);
    row.values = [f.key, null, f.help[lang], f.example];
    row.getCell(1).font = { name: 'Consolas' };
    row.getCell(3).alignment = { wrapText: true, vertical: 'top' };
    const value = row.getCell(2);
    value.fill = INPUT_FILL;
    const v = validation(f, lang, 0);
    if (v) value.dataValidation = v;
  });
  if (sheet.category) itemTable(ws, FIELDS_FIRST_ROW + sheet.fields.length + 1, sheet, profile, lang);
}

/** The category's checklist items, for reference: id, title, the checks that verify it. */
function itemTable(ws: ExcelJS.Worksheet, start: number, sheet: FormSheet, profile: Profile, lang: Lang): void {
  const L = labels(lang);
  const head = ws.getRow(start);
  head.values = [TEXT.items[lang], L.checklistItem, L.verifiedBy];
  head.font = { bold: true };
  head.eachCell((c) => (c.fill = HEAD_FILL));
  profile.checklist
    .filter((c) => c.category === sheet.category)
    .forEach((item, i) => {
      const row = ws.getRow(start + 1 + i);
      row.values = [item.id, item.title[lang], item.checks.join(', ')];
      row.getCell(2).alignment = { wrapText: true, vertical: 'top' };
    });
}

function validation(f: Field, lang: Lang, roleCount: number): ExcelJS.DataValidation | undefined {
  const base = { allowBlank: !f.required, showErrorMessage: true, errorStyle: 'stop', errorTitle: f.key };
  switch (f.kind) {
    case 'roles':
      return { ...base, type: 'list', formulae: [`${LISTS_SHEET}!$A$1:$A$${roleCount}`], error: TEXT.pickRoles[lang] };
    case 'bool':
      return { ...base, type: 'list', formulae: [`${LISTS_SHEET}!$B$1:$B$2`], error: TEXT.yesNo[lang] };
    case 'port':
      return { ...base, type: 'whole', operator: 'between', formulae: [1, 65535], error: TEXT.port[lang] };
    case 'int':
      return { ...base, type: 'whole', operator: 'greaterThanOrEqual', formulae: [0], error: TEXT.count[lang] };
    default:
      // A reference is a short name: the length rule is what carries the prompt shown on entry.
      return f.secretRef
        ? { ...base, type: 'textLength', operator: 'lessThanOrEqual', formulae: [256], showInputMessage: true, promptTitle: f.key, prompt: TEXT.secretPrompt[lang], error: TEXT.secretPrompt[lang] }
        : undefined;
  }
}
