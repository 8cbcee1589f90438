import { notImplemented, type Command } from '../args.ts';

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'print the JSON Schema of a file kind',
  usage: `Usage: astrago-check schema [site|bundle-spec|report|bundle-manifest|profile]

Prints the JSON Schema (draft 2020-12) of the named file kind (default: site).`,
  options: {},
  positionals: [0, 1],
  async run() {
    notImplemented('schema', 2);
  },
};
