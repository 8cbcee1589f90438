// npm run schemas: regenerates schemas/*.json from the zod schemas.
// Run from the repository root (npm does); an optional argument names another directory.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SCHEMA_KINDS, schemaText } from './index.ts';

const dir = resolve(process.argv[2] ?? 'schemas');
mkdirSync(dir, { recursive: true });
for (const kind of SCHEMA_KINDS) {
  const file = join(dir, `${kind}.json`);
  // Temp name then rename: an interrupted run leaves no half-written schema.
  writeFileSync(`${file}.tmp`, schemaText(kind));
  renameSync(`${file}.tmp`, file);
  console.log(`wrote ${file}`);
}
