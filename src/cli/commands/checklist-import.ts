// checklist import: a filled workbook form -> a site file that validates.
import { readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { stringify } from 'yaml';
import { InputError } from '../../errors.ts';
import type { Command } from '../args.ts';
import { writeOutputFile } from '../output.ts';

export const MAX_FORM_BYTES = 32 << 20;

export const checklistImportCommand: Command = {
  name: 'checklist import',
  summary: 'turn a filled checklist workbook into a site file',
  usage: `Usage: astrago-check checklist import FORM.xlsx [--output site.yaml]

Reads a workbook written by 'checklist --format xlsx' and filled in, and prints
(or writes to --output) the site file it describes. The site file is validated
before anything is written; a bad cell is named by its sheet and cell (exit 2).

Options:
  --output FILE     write the site file to FILE instead of stdout
  -h, --help        this help

Example:
  astrago-check checklist import acme-checklist.xlsx --output site.yaml`,
  options: { output: { type: 'string' } },
  positionals: [1, 1],
  async run(values, positionals, io) {
    const form = resolve(io.cwd, positionals[0]!);
    let data: Buffer;
    try {
      // A filled form is tens of kilobytes; the whole workbook is read into memory.
      const size = statSync(form).size;
      if (size > MAX_FORM_BYTES) throw new InputError({ file: positionals[0]!, expected: `${size} bytes is too large for a checklist workbook (at most ${MAX_FORM_BYTES})` });
      data = readFileSync(form);
    } catch (err) {
      if (err instanceof InputError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError({ file: positionals[0]!, expected: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})` });
    }
    const { importChecklistWorkbook } = await import('../../report/xlsx/read-form.ts');
    const site = await importChecklistWorkbook(data, positionals[0]!);
    const text = `# Site file (kind Site) from the checklist workbook ${basename(form)}.\n# Check it with: astrago-check --site site.yaml\n${stringify(site, { lineWidth: 0 })}`;
    if (typeof values.output === 'string') {
      const out = resolve(io.cwd, values.output);
      writeOutputFile('checklist import', out, text, 'the site file');
      io.stderr.write(`site file written to ${out}: ${site.nodes.length} node(s)\n`);
    } else io.stdout.write(text);
    return 0;
  },
};
