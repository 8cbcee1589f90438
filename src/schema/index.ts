// Every file kind with a schema: the registry behind `astrago-check schema`,
// schemas/*.json (npm run schemas) and the test that keeps them fresh.
import { z } from 'zod';
import { profileSchema } from './profile.ts';
import { reportSchema } from './report.ts';
import { siteSchema } from './site.ts';
import { bundleSpecSchema } from './bundle-spec.ts';
import { bundleManifestSchema } from './bundle-manifest.ts';
import { bundlePartsSchema } from './bundle-parts.ts';

export interface SchemaEntry {
  schema: z.ZodType;
  title: string;
  /** 'input' for files a user writes (defaults make fields optional), 'output' for documents the tool writes. */
  io: 'input' | 'output';
}

export const SCHEMAS = {
  site: { schema: siteSchema, title: 'Astrago site file (kind Site)', io: 'input' },
  profile: { schema: profileSchema, title: 'astrago-check check profile (kind CheckProfile)', io: 'input' },
  report: { schema: reportSchema, title: 'astrago-check preflight report (kind PreflightReport)', io: 'output' },
  'bundle-spec': { schema: bundleSpecSchema, title: 'astrago-check bundle spec (kind BundleSpec)', io: 'input' },
  'bundle-manifest': { schema: bundleManifestSchema, title: 'astrago-check bundle manifest (bundle.yaml, kind BundleManifest)', io: 'output' },
  'bundle-parts': { schema: bundlePartsSchema, title: 'astrago-check split bundle sidecar (NAME.tar.parts.json, kind BundleParts)', io: 'output' },
} satisfies Record<string, SchemaEntry>;

export type SchemaKind = keyof typeof SCHEMAS;
export const SCHEMA_KINDS = Object.keys(SCHEMAS) as SchemaKind[];

export const SCHEMA_ID_BASE = 'https://astrago.io/schemas/astrago-check/';

/** The JSON Schema (draft 2020-12) of one kind, with $id and title. */
export function jsonSchemaOf(kind: SchemaKind): Record<string, unknown> {
  const entry: SchemaEntry = SCHEMAS[kind];
  const { $schema, ...rest } = z.toJSONSchema(entry.schema, { target: 'draft-2020-12', io: entry.io, unrepresentable: 'any' }) as Record<string, unknown>;
  return { $schema, $id: `${SCHEMA_ID_BASE}${kind}.json`, title: entry.title, ...rest };
}

/** The text of schemas/KIND.json. */
export function schemaText(kind: SchemaKind): string {
  return JSON.stringify(jsonSchemaOf(kind), null, 2) + '\n';
}
