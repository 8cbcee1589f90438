import { notImplemented, type Command } from '../args.ts';

export const bundleInspectCommand: Command = {
  name: 'bundle inspect',
  summary: 'show what a bundle holds',
  usage: `Usage: astrago-check bundle inspect FILE.tar [--format tty|json|yaml]`,
  options: { format: { type: 'string' } },
  positionals: [1, 1],
  async run() {
    notImplemented('bundle inspect', 6);
  },
};
