import { notImplemented, type Command } from '../args.ts';

export const checklistCommand: Command = {
  name: 'checklist',
  summary: 'print a blank customer checklist (a site.yaml skeleton)',
  usage: `Usage: astrago-check checklist [--lang en|ko] [--format yaml|markdown] [--profile FILE]

Prints the customer information checklist: as a commented site.yaml skeleton
to fill in (yaml, the default), or as a Markdown form.`,
  options: { lang: { type: 'string' }, format: { type: 'string' }, profile: { type: 'string' } },
  async run() {
    notImplemented('checklist', 2);
  },
};
