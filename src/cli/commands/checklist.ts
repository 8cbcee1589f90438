import { resolve } from 'node:path';
import { loadProfile } from '../../preflight/profile.ts';
import { checklistMarkdown, checklistYaml } from '../../report/checklist-form.ts';
import { UsageError } from '../../errors.ts';
import { oneOf, type Command } from '../args.ts';
import { writeOutputFile } from '../output.ts';

export const checklistCommand: Command = {
  name: 'checklist',
  summary: 'print a blank customer checklist (a site.yaml skeleton, a form, a workbook)',
  usage: `Usage: astrago-check checklist [--lang en|ko] [--format yaml|markdown|xlsx] [--output FILE] [--profile FILE]
       astrago-check checklist import FORM.xlsx [--output site.yaml]

Prints the customer information checklist: as a commented site.yaml skeleton
to fill in (yaml, the default), as a Markdown form, or writes it as a workbook
to fill in a spreadsheet (xlsx: a Site sheet, a Nodes sheet with one node a row,
a sheet per checklist category). 'checklist import' turns a filled workbook
into a site file.

Options:
  --lang LANG       en | ko: language of the comments, titles and help (default en)
  --format FMT      yaml | markdown | xlsx (default yaml)
  --output FILE     write to FILE instead of stdout (required for xlsx)
  --profile FILE    take the checklist items from this check profile
  -h, --help        this help

Examples:
  astrago-check checklist --lang ko > site.yaml
  astrago-check checklist --format xlsx --lang ko --output acme-checklist.xlsx
  astrago-check checklist import acme-checklist.xlsx --output site.yaml`,
  options: { lang: { type: 'string' }, format: { type: 'string' }, profile: { type: 'string' }, output: { type: 'string' } },
  async run(values, _positionals, io) {
    const lang = oneOf('checklist', 'lang', values.lang, ['en', 'ko'] as const) ?? 'en';
    const format = oneOf('checklist', 'format', values.format, ['yaml', 'markdown', 'xlsx'] as const) ?? 'yaml';
    const output = typeof values.output === 'string' ? resolve(io.cwd, values.output) : undefined;
    const profile = loadProfile(values.profile as string | undefined);
    if (format === 'xlsx') {
      if (!output) throw new UsageError('checklist: --format xlsx writes a workbook: give --output FILE.xlsx');
      // Loaded on use: exceljs is only needed here.
      const { checklistWorkbook } = await import('../../report/xlsx/write-form.ts');
      writeOutputFile('checklist', output, await checklistWorkbook(profile, lang), 'the workbook');
      io.stderr.write(`checklist written to ${output}\n`);
      return 0;
    }
    const text = format === 'yaml' ? checklistYaml(profile, lang) : checklistMarkdown(profile, lang);
    if (output) writeOutputFile('checklist', output, text, 'the checklist');
    else io.stdout.write(text);
    return 0;
  },
};
