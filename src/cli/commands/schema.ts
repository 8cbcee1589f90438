import { UsageError } from '../../errors.ts';
import { SCHEMA_KINDS, schemaText, type SchemaKind } from '../../schema/index.ts';
import type { Command } from '../args.ts';

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'print the JSON Schema of a file kind',
  usage: `Usage: astrago-check schema [KIND]

Prints the JSON Schema (draft 2020-12) of the named file kind (default: site),
the same text as schemas/KIND.json, for editors and CI validators.

Kinds: ${SCHEMA_KINDS.join(', ')}`,
  options: {},
  positionals: [0, 1],
  async run(_values, positionals, io) {
    const kind = positionals[0] ?? 'site';
    if (!(SCHEMA_KINDS as string[]).includes(kind)) {
      throw new UsageError(`schema: unknown kind '${kind}' (expected one of ${SCHEMA_KINDS.join(', ')})`);
    }
    io.stdout.write(schemaText(kind as SchemaKind));
    return 0;
  },
};
