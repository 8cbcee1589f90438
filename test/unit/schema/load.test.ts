import { ROOT } from '../../support/run-binary.ts';
// Every file kind a user writes reports an unknown key at the key's own line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputErrors } from '../../../src/errors.ts';
import { parseYaml } from '../../../src/schema/load.ts';
import { bundleSpecSchema } from '../../../src/schema/bundle-spec.ts';
import { siteSchema } from '../../../src/schema/site.ts';
import { profileSchema } from '../../../src/schema/profile.ts';
import type { z } from 'zod';

function messages(text: string, file: string, schema: z.ZodType): string[] {
  try {
    parseYaml(text, file, schema);
  } catch (err) {
    assert.ok(err instanceof InputErrors, String(err));
    return err.errors.map((e) => e.message);
  }
  assert.fail('expected an error');
}

test('bundle spec: an unknown top-level key on line 4 is reported at line 4', () => {
  const text = 'apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: t, version: 1.0.0}\nimagez:\n  - nginx:1\n';
  assert.deepEqual(messages(text, 'spec.yaml', bundleSpecSchema), ["spec.yaml:4: field 'imagez': unknown field 'imagez'"]);
});

test('site: unknown keys in nested and flow mappings, each at its own line', () => {
  const text = [
    'apiVersion: astrago.io/v1',
    'kind: Site',
    'metadata: {name: lab}',
    'nodes:',
    '  - name: n1',
    '    address: 10.0.0.1',
    '    roles: [worker]',
    '    adress: 10.0.0.2',
    'registry:',
    '  url: https://harbor.lab',
    '  pasword: x',
    '  caFiel: ca.pem',
    '',
  ].join('\n');
  assert.deepEqual(messages(text, 'site.yaml', siteSchema).sort(), [
    "site.yaml:11: field 'registry.pasword': unknown field 'pasword'",
    "site.yaml:12: field 'registry.caFiel': unknown field 'caFiel'",
    "site.yaml:8: field 'nodes[0].adress': unknown field 'adress'",
  ]);
});

test('profile: an unknown key deep in the default profile is reported at its line', () => {
  const lines = readFileSync(join(ROOT, 'checks', 'default.yaml'), 'utf8').split('\n');
  const at = lines.findIndex((l) => /^roles:/.test(l)) + 1;
  lines.splice(at, 0, '  rolez: {}');
  const errs = messages(lines.join('\n'), 'profile.yaml', profileSchema);
  assert.deepEqual(errs, [`profile.yaml:${at + 1}: field 'roles.rolez': unknown field 'rolez'`]);
});
