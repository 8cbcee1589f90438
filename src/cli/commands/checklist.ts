import { loadProfile } from '../../preflight/profile.ts';
import { checklistMarkdown, checklistYaml } from '../../report/checklist-form.ts';
import { oneOf, type Command } from '../args.ts';

export const checklistCommand: Command = {
  name: 'checklist',
  summary: 'print a blank customer checklist (a site.yaml skeleton)',
  usage: `Usage: astrago-check checklist [--lang en|ko] [--format yaml|markdown] [--profile FILE]

Prints the customer information checklist: as a commented site.yaml skeleton
to fill in (yaml, the default), or as a Markdown form.

Options:
  --lang LANG       en | ko: language of the comments and titles (default en)
  --format FMT      yaml | markdown (default yaml)
  --profile FILE    take the checklist items from this check profile
  -h, --help        this help

Example:
  astrago-check checklist --lang ko > site.yaml`,
  options: { lang: { type: 'string' }, format: { type: 'string' }, profile: { type: 'string' } },
  async run(values, _positionals, io) {
    const lang = oneOf('checklist', 'lang', values.lang, ['en', 'ko'] as const) ?? 'en';
    const format = oneOf('checklist', 'format', values.format, ['yaml', 'markdown'] as const) ?? 'yaml';
    const profile = loadProfile(values.profile as string | undefined);
    io.stdout.write(format === 'yaml' ? checklistYaml(profile, lang) : checklistMarkdown(profile, lang));
    return 0;
  },
};
