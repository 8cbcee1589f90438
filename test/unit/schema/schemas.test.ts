import { ROOT } from '../../support/run-binary.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_KINDS, jsonSchemaOf, schemaText } from '../../../src/schema/index.ts';

const dir = join(ROOT, 'schemas');

test('schemas/*.json are up to date with the zod schemas (run `npm run schemas` when this fails)', () => {
  for (const kind of SCHEMA_KINDS) {
    let onDisk: string;
    try {
      onDisk = readFileSync(join(dir, `${kind}.json`), 'utf8');
    } catch {
      assert.fail(`schemas/${kind}.json is missing: run npm run schemas`);
    }
    assert.equal(onDisk, schemaText(kind), `schemas/${kind}.json is stale: run npm run schemas`);
  }
});

test('every schemas/*.json belongs to a registered kind', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
  assert.deepEqual(files.sort(), [...SCHEMA_KINDS].sort());
});

test('each schema is draft 2020-12 with an $id and a title', () => {
  for (const kind of SCHEMA_KINDS) {
    const s = jsonSchemaOf(kind);
    assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.match(String(s.$id), new RegExp(`/${kind}\\.json$`));
    assert.equal(typeof s.title, 'string');
    assert.equal(s.type, 'object');
  }
});

test('the site schema describes secrets by reference only', () => {
  const site = jsonSchemaOf('site') as { properties: Record<string, { properties?: Record<string, unknown> }> };
  const registry = site.properties.registry!.properties!;
  assert.ok('passwordEnv' in registry && 'passwordFile' in registry);
  assert.ok(!('password' in registry));
});
