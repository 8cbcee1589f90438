import { ROOT } from '../../support/run-binary.ts';
// The check catalogue (`astrago-check checks`) and docs/checks.md, which is its Markdown
// for the built-in profile: every check is listed with its checklist items and the
// profile's thresholds, and the committed file is what the command prints now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkCatalog } from '../../../src/preflight/catalog.ts';
import { ALL_CHECKS, SITE_CHECKS } from '../../../src/preflight/checks/index.ts';
import { loadProfile } from '../../../src/preflight/profile.ts';
import { catalogMarkdown, checksCommand } from '../../../src/cli/commands/checks.ts';
import { profileCommand } from '../../../src/cli/commands/profile.ts';
import { profileSchema } from '../../../src/schema/profile.ts';

const profile = loadProfile();

async function run(cmd: typeof checksCommand, values: Record<string, unknown> = {}): Promise<string> {
  let out = '';
  const io = { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: () => true }, env: {}, cwd: ROOT } as never;
  assert.equal(await cmd.run(values, [], io), 0);
  return out;
}

test('every check is in the catalogue with its checklist items; thresholds come from the profile, per role', () => {
  const cat = checkCatalog(profile);
  assert.deepEqual(cat.map((e) => e.id), [...ALL_CHECKS, ...SITE_CHECKS].map((c) => c.id));
  for (const e of cat) assert.ok(e.checklist.length > 0, `${e.id} verifies a checklist item`);
  const cpu = cat.find((e) => e.id === 'resources.cpu')!;
  assert.deepEqual(cpu.thresholds, { 'control-plane': '>= 2 cores (recommended 4 cores)', worker: '>= 2 cores (recommended 4 cores)', 'gpu-worker': '>= 4 cores (recommended 8 cores)' });
  assert.deepEqual(cat.find((e) => e.id === 'disk.fsync')!.scope, ['control-plane'], 'only where a disk asks for fsync');
  assert.equal(cat.find((e) => e.id === 'site.port-matrix')!.scope, 'site');
  assert.match(cat.find((e) => e.id === 'site.port-matrix')!.thresholds.worker!, /179 from control-plane\/worker\/gpu-worker/);
  assert.equal(cat.find((e) => e.id === 'kernel.version')!.thresholds.all, `>= ${profile.kernel.minVersion}`);
  // Another profile, other thresholds.
  const edited = { ...profile, roles: { ...profile.roles, worker: { ...profile.roles.worker, cpu: { min: 16 } } } };
  assert.equal(checkCatalog(edited).find((e) => e.id === 'resources.cpu')!.thresholds.worker, '>= 16 cores');
});

test('docs/checks.md is the catalogue of the built-in profile (npm run docs rewrites it) and the README links it', async () => {
  const committed = readFileSync(join(ROOT, 'docs', 'checks.md'), 'utf8');
  assert.equal(committed, await run(checksCommand, { format: 'markdown' }), 'docs/checks.md is stale: run npm run docs');
  assert.equal(committed, catalogMarkdown(checkCatalog(profile), 'the built-in profile (`checks/default.yaml`)'));
  for (const c of [...ALL_CHECKS, ...SITE_CHECKS]) assert.ok(committed.includes(`| \`${c.id}\` |`), c.id);
  assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /\]\(docs\/checks\.md\)/);
  const json = JSON.parse(await run(checksCommand, { format: 'json' }));
  assert.equal(json.kind, 'CheckCatalog');
  assert.equal(json.checks.length, ALL_CHECKS.length + SITE_CHECKS.length);
});

test('profile prints the built-in profile with its comments; it loads back as a profile', async () => {
  const text = await run(profileCommand);
  assert.equal(text, readFileSync(join(ROOT, 'checks', 'default.yaml'), 'utf8'));
  assert.match(text, /^# The default check profile/);
  assert.deepEqual(profileSchema.parse(parse(text)), profile);
});
