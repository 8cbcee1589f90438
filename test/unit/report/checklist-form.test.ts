import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocument } from 'yaml';
import { checklistMarkdown, checklistYaml } from '../../../src/report/checklist-form.ts';
import { CATEGORY_SHEETS, NODE_FIELDS, SITE_SHEET } from '../../../src/report/checklist-fields.ts';
import { parseYaml } from '../../../src/schema/load.ts';
import { siteSchema } from '../../../src/schema/site.ts';
import { jsonSchemaOf } from '../../../src/schema/index.ts';
import { loadProfile } from '../../../src/preflight/profile.ts';

const profile = loadProfile();

/** Every property path the JSON schema of Site declares, e.g. nodes[].ssh.keyFile. */
function schemaPaths(schema: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out.push(p, ...schemaPaths(v, p));
    }
  }
  if (schema.type === 'array' && schema.items && typeof schema.items === 'object') out.push(...schemaPaths(schema.items as Record<string, unknown>, `${prefix}[]`));
  return out;
}

/** Every path present in a parsed document, in the same notation. */
function dataPaths(data: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(data)) {
    for (const x of data) if (x && typeof x === 'object') for (const p of dataPaths(x, `${prefix}[]`)) out.add(p);
  } else if (data && typeof data === 'object') {
    for (const [k, v] of Object.entries(data)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out.add(p);
      for (const q of dataPaths(v, p)) out.add(q);
    }
  }
  return out;
}

for (const lang of ['en', 'ko'] as const) {
  test(`checklist yaml (${lang}) validates against the Site schema as printed`, () => {
    const text = checklistYaml(profile, lang);
    const site = parseYaml(text, `checklist-${lang}.yaml`, siteSchema);
    assert.equal(site.kind, 'Site');
    assert.ok(site.nodes.length >= 2);
  });

  test(`checklist yaml (${lang}) has an example for every field of the Site schema`, () => {
    const doc = parseDocument(checklistYaml(profile, lang));
    assert.deepEqual(doc.errors, []);
    const present = dataPaths(doc.toJS());
    const missing = schemaPaths(jsonSchemaOf('site')).filter((p) => !present.has(p));
    assert.deepEqual(missing, []);
  });

  test(`checklist yaml (${lang}) names every checklist item with its title as a comment`, () => {
    const text = checklistYaml(profile, lang);
    for (const item of profile.checklist) {
      assert.match(text, new RegExp(`^#\\s+${item.id}\\s+${item.title[lang].replace(/[()/]/g, '\\$&')}`, 'm'), item.id);
    }
  });
}

test('checklist yaml comments follow the language; secrets only by reference', () => {
  const en = checklistYaml(profile, 'en');
  const ko = checklistYaml(profile, 'ko');
  assert.match(en, /# short site name/);
  assert.match(ko, /# 사이트 이름/);
  assert.doesNotMatch(ko, /# short site name/);
  const site = parseYaml(en, 'x.yaml', siteSchema);
  assert.equal(site.registry?.passwordEnv, 'HARBOR_PASSWORD');
  assert.doesNotMatch(en, /^\s*password:/m);
});

test('checklist markdown: per category the values to give (as the YAML skeleton asks), then the items the preflight verifies', () => {
  const md = checklistMarkdown(profile, 'en');
  assert.deepEqual([...md.matchAll(/^## (.+)$/gm)].map((m) => m[1]), ['Nodes', 'Network', 'Accounts', 'Security', 'Registry', 'Resources', 'Storage', 'Operating system']);
  for (const item of profile.checklist) assert.ok(md.includes(`| ${item.id} | ${item.title.en} | ${item.checks.map((c) => `\`${c}\``).join(', ')} |`), item.id);
  // The concrete values, each with the site-file field, the question, an example and an empty answer.
  for (const [field, question] of [
    ['registry.url', 'registry URL'],
    ['registry.caFile', 'CA certificate \\(PEM file\\)'],
    ['network.proxy.http', 'HTTP proxy URL'],
    ['network.proxy.noProxy', 'hosts and domains reached without the proxy'],
    ['network.podCidr', 'pod network'],
    ['network.serviceCidr', 'service network'],
    ['network.dns', 'DNS servers'],
    ['storage.nfs.server', 'NFS server'],
    ['storage.nfs.path', 'its export path'],
    ['resources.gpusPerNode', 'GPUs in each GPU node'],
  ]) {
    assert.match(md, new RegExp(`^\\| \`${field.replace(/\./g, '\\.')}\` \\| ${question}[^|]* \\| \`[^\`]+\` \\| \\|$`, 'm'), field);
  }
  assert.match(md, /^- `nodes\[\]\.ssh\.keyFile`: private key file \(a path, never the key itself\) \(e\.g\. `~\/\.ssh\/id_ed25519`\)$/m);
  // Every field of the form catalogue (the workbook's too) is asked for.
  for (const f of [...SITE_SHEET.fields, ...CATEGORY_SHEETS.flatMap((s) => s.fields)]) assert.ok(md.includes(`| \`${f.key}\` |`), f.key);
  for (const f of NODE_FIELDS) assert.ok(md.includes(`\`nodes[].${f.key}\``), f.key);
  assert.doesNotMatch(md, /password: /, 'secrets only by reference');
  const ko = checklistMarkdown(profile, 'ko');
  assert.match(ko, /^## 네트워크$/m);
  assert.match(ko, /\| OS-05 \| 스왑 비활성화 \| `kernel\.swap` \|/);
  assert.match(ko, /\| 사이트 파일 항목 \| 질문 \| 예시 \| 답변 \|/);
  assert.match(ko, /\| `registry\.url` \| 레지스트리 URL \|/);
});

test('a custom profile changes the listed items', () => {
  const custom = { ...profile, checklist: [{ id: 'CUS-01', category: 'network' as const, title: { en: 'Custom item', ko: '사용자 항목' }, checks: [] }] };
  assert.match(checklistYaml(custom, 'en'), /#\s+CUS-01\s+Custom item/);
  assert.doesNotMatch(checklistYaml(custom, 'en'), /NET-01/);
  assert.match(checklistMarkdown(custom, 'ko'), /\| CUS-01 \| 사용자 항목 \|  \|/);
});
