// Property-based tests of every parser of user input: random YAML-ish text and
// random documents a few mutations away from a valid one. Whatever comes in,
// the parser either accepts it or throws the project's InputError/InputErrors
// naming the file, and (where the document has a node for it) the line and the
// field. Nothing else may escape: a TypeError here would be a crash at a site.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse as parseYamlText, stringify } from 'yaml';
import type { z } from 'zod';
import { InputError, InputErrors, UsageError } from '../../src/errors.ts';
import { loadBundleManifest } from '../../src/bundle/inspect/manifest.ts';
import { parseIndexJson, parseManifestBlob } from '../../src/bundle/inspect/layout.ts';
import { parseSha256Sums } from '../../src/bundle/verify/sums.ts';
import { parseRegistryTarget } from '../../src/bundle/install/plan.ts';
import { bundleSpecSchema } from '../../src/schema/bundle-spec.ts';
import { loadBundleSpec, parseImageList } from '../../src/bundle/spec/spec.ts';
import { parseReference, formatReference, ReferenceError as RefError } from '../../src/oci/reference.ts';
import { parseYaml, fieldPath } from '../../src/schema/load.ts';
import { siteSchema } from '../../src/schema/site.ts';
import { profileSchema } from '../../src/schema/profile.ts';
import { runBinary, ROOT } from '../support/run-binary.ts';
import { rawTar } from '../support/bundle-fixture.ts';
import { checkEntryPath, TarFormatError } from '../../src/archive/tar-reader.ts';
import { walkTar } from '../../src/archive/tar-walk.ts';

// Bounded and reproducible: a failure prints its seed and shrunk counterexample.
const RUNS = { numRuns: 200, seed: 20261123 };
const FILE = 'input/site file.yaml';

/** Every InputError inside what a parser threw; fails the test on anything else. */
function inputErrorsOf(err: unknown): InputError[] {
  if (err instanceof InputErrors) {
    assert.ok(err.errors.length > 0, 'InputErrors carries at least one error');
    for (const e of err.errors) assert.ok(e instanceof InputError);
    return err.errors;
  }
  if (err instanceof InputError) return [err];
  throw new Error(`parser threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} instead of an InputError`, { cause: err });
}

/** Runs a parser; returns undefined when it accepted the input, else its input errors (checked for file and line). */
function rejection(text: string, schema: z.ZodType): InputError[] | undefined {
  try {
    parseYaml(text, FILE, schema);
    return undefined;
  } catch (err) {
    const errors = inputErrorsOf(err);
    const lineCount = text.split(/\r\n|\r|\n/).length;
    for (const e of errors) {
      assert.equal(e.file, FILE);
      assert.ok(e.message.startsWith(FILE), `message names the file: ${e.message}`);
      assert.ok(e.expected.length > 0, 'says what was expected');
      if (e.line !== undefined) assert.ok(Number.isInteger(e.line) && e.line >= 1 && e.line <= lineCount + 1, `line ${e.line} lies inside the ${lineCount}-line text`);
    }
    return errors;
  }
}

// ---- random YAML-ish text --------------------------------------------------

const yamlToken = fc.oneof(
  fc.constantFrom(
    'apiVersion: astrago.io/v1\n', 'kind: Site\n', 'kind: CheckProfile\n', 'metadata:', ' name: x', 'nodes:', 'roles: [worker]', 'address: 192.0.2.1',
    'ssh:', 'port: 22', 'registry:', 'url: https://r', 'checklist:', 'cpu: {min: 1}', '\n', '\n  ', '  ', '- ', ': ', ':', '{', '}', '[', ']', ', ',
    '&a ', '*a', '&b ', '*b', '!!binary ', '!!set ', '!!omap ', '!!map ', '!!str ', '!!int ', '!!float ', '!!bool ', '!foo ', '!<tag:x> ', '? ',
    '"', "'", '|\n', '>-\n', '# c\n', '---\n', '...\n', '%YAML 1.1\n', '%TAG ! tag:x:\n', '\t', '<<: ', '~', 'null', 'true', 'yes', '1e999', '-0',
    '0x1F', '0o17', '.nan', '-.inf', '9007199254740993', '\u0000', '\uFEFF', '\u2028', '\r\n', '\\u12', '%', '@', '`',
  ),
  fc.string({ maxLength: 6 }),
  fc.nat({ max: 70000 }).map(String),
);
const yamlishText = fc.array(yamlToken, { maxLength: 40 }).map((parts) => parts.join(''));

// ---- documents near a valid one -----------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

function pathsOf(value: Json, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

/** Values that trip parsers: wrong types, extremes, odd strings. */
const oddValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 65536, 1e308, -1e308, '', ' ', '~', '-', 'x'.repeat(5000), '${HARBOR_PASSWORD}', '198.18.0.0/99', 'ü☃', [], {}, [null], { '': 1 }),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
);

type Mutation = { op: 'delete' | 'replace' | 'addKey' | 'wrap'; path: Path; value?: Json; key?: string };

function mutationOf(base: Json): fc.Arbitrary<Mutation> {
  const paths = pathsOf(base);
  return fc.record({
    op: fc.constantFrom<Mutation['op']>('delete', 'replace', 'replace', 'addKey', 'wrap'),
    path: fc.constantFrom(...paths),
    value: oddValue,
    key: fc.oneof(fc.constantFrom('extra', 'passwrd', 'Name', 'nodes', '__proto__', 'constructor'), fc.string({ minLength: 1, maxLength: 8 })),
  });
}

function apply(base: Json, m: Mutation): Json {
  const doc = structuredClone(base);
  if (m.path.length === 0) return m.op === 'wrap' ? [doc] : m.op === 'replace' ? (m.value ?? null) : doc;
  let parent: Json = doc;
  for (const p of m.path.slice(0, -1)) {
    // An earlier mutation may have removed the way there: then this one does nothing.
    if (!parent || typeof parent !== 'object') return doc;
    parent = (parent as Record<string | number, Json>)[p]!;
  }
  const last = m.path.at(-1)!;
  if (!parent || typeof parent !== 'object' || !(last in parent)) return doc;
  const holder = parent as Record<string | number, Json>;
  const target = holder[last]!;
  switch (m.op) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete holder[last];
      break;
    case 'replace':
      holder[last] = m.value ?? null;
      break;
    case 'wrap':
      holder[last] = [target];
      break;
    case 'addKey':
      if (target && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, Json>)[m.key!] = m.value ?? null;
      else holder[last] = { [m.key!]: target };
      break;
  }
  return doc;
}

function related(a: string, b: string): boolean {
  const starts = (x: string, y: string): boolean => x === y || x.startsWith(y + '.') || x.startsWith(y + '[') || y === '';
  return starts(a, b) || starts(b, a);
}

/**
 * The property for one parser: a mutated valid document is accepted, or
 * rejected with errors that point at the mutated spot (its field or an
 * enclosing/enclosed one, or the unknown key by name), on the right line.
 */
function checkMutations(base: Json, schema: z.ZodType): void {
  // The base itself must pass, or the property proves nothing.
  assert.equal(rejection(stringify(base), schema), undefined, 'the unmutated document is valid');
  fc.assert(
    fc.property(fc.array(mutationOf(base), { minLength: 1, maxLength: 3 }), (mutations) => {
      let doc = base;
      for (const m of mutations) doc = apply(doc, m);
      const text = stringify(doc);
      const errors = rejection(text, schema);
      if (!errors || mutations.length !== 1) return;
      const m = mutations[0]!;
      const field = fieldPath(m.path);
      const lines = text.split('\n');
      const pointsAtIt = errors.some(
        (e) => (e.field !== undefined && related(e.field, field)) || (m.op === 'addKey' && e.expected.includes(`'${m.key}'`)) || (field === '' && e.field === undefined),
      );
      assert.ok(pointsAtIt, `some error points at '${field}' (${m.op}): ${errors.map((e) => e.message).join(' | ')}`);
      // A scalar put where a field was: the error on that field sits on the key's own line.
      if (m.op === 'replace' && typeof m.path.at(-1) === 'string' && (m.value === null || typeof m.value !== 'object')) {
        const exact = errors.find((e) => e.field === field);
        if (exact?.line !== undefined) {
          const key = String(m.path.at(-1));
          assert.ok(lines[exact.line - 1]!.includes(`${key}:`), `line ${exact.line} ('${lines[exact.line - 1]}') holds the field '${key}'`);
        }
      }
    }),
    RUNS,
  );
}

const VALID_SITE: Json = {
  apiVersion: 'astrago.io/v1',
  kind: 'Site',
  metadata: { name: 'acme-lab' },
  nodes: [
    { name: 'master-1', address: '192.0.2.11', roles: ['control-plane'], ssh: { user: 'astrago', port: 22, keyFile: '~/.ssh/id_ed25519', knownHostsFile: './known_hosts' } },
    { name: 'gpu-1', address: 'gpu-1.acme.local', roles: ['worker', 'gpu-worker'], ssh: { passwordEnv: 'SSH_PW', sudo: true } },
  ],
  network: {
    proxy: { http: 'http://proxy.acme:3128', https: 'http://proxy.acme:3128', noProxy: ['.acme.local'] },
    podCidr: '198.18.64.0/18',
    serviceCidr: '198.18.0.0/18',
    dns: ['192.0.2.2'],
    ntp: ['ntp.acme.local'],
    targets: ['git.acme.local:443'],
  },
  registry: { url: 'https://harbor.acme.local', caFile: './harbor-ca.pem', username: 'robot$astrago', passwordEnv: 'HARBOR_PASSWORD', insecure: false },
  storage: { nfs: { server: '192.0.2.5', path: '/export/astrago' } },
  resources: { gpusPerNode: 8, gpuModel: 'A100' },
};

const VALID_PROFILE = parseYamlText(readFileSync(join(ROOT, 'checks', 'default.yaml'), 'utf8')) as Json;

/** Every field of a valid document, in turn, given each wrong type: refused in words or accepted, never a crash. */
function checkTypeConfusion(base: Json, check: (text: string) => void, maxPaths = 80): number {
  let cases = 0;
  // Large documents (the default profile) are thinned evenly, to stay fast.
  const all = pathsOf(base);
  const step = Math.max(1, Math.ceil(all.length / maxPaths));
  for (const path of all.filter((_, i) => i % step === 0)) {
    for (const value of [null, 0, 'x', true, [], {}, [null]] as Json[]) {
      check(stringify(apply(base, { op: 'replace', path, value })));
      cases++;
    }
  }
  return cases;
}

test('site parser: random YAML-ish text is accepted or rejected with file and line, never a crash', () => {
  fc.assert(
    fc.property(yamlishText, (text) => {
      rejection(text, siteSchema);
    }),
    RUNS,
  );
});

test('site parser: documents a few mutations from a valid site are rejected at the mutated field and line', () => {
  checkMutations(VALID_SITE, siteSchema);
});

test('site and profile parsers: every field given every wrong type is refused in words', () => {
  assert.ok(checkTypeConfusion(VALID_SITE, (t) => void rejection(t, siteSchema)) > 300);
  assert.ok(checkTypeConfusion(VALID_PROFILE, (t) => void rejection(t, profileSchema), 40) > 200);
});

test('profile parser: random YAML-ish text never crashes it', () => {
  fc.assert(
    fc.property(yamlishText, (text) => {
      rejection(text, profileSchema);
    }),
    RUNS,
  );
});

test('profile parser: mutations of checks/default.yaml are rejected at the mutated field and line', () => {
  checkMutations(VALID_PROFILE, profileSchema);
});

test('yaml resource bombs and broken aliases are input errors with a line, not crashes', () => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
  for (const text of [bomb, 'kind: *nowhere']) {
    const errors = rejection(text, siteSchema);
    assert.ok(errors, 'rejected');
    assert.ok(errors.every((e) => e.line !== undefined), `a line is named: ${errors.map((e) => e.message).join(' | ')}`);
  }
});

test('CLI: generated bad site files, profiles and bundle specs exit 2 with a message naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-prop-'));
  try {
    const bad = fc.sample(
      fc.oneof(
        yamlishText,
        mutationOf(VALID_SITE).map((m) => stringify(apply(VALID_SITE, m))),
      ).filter((t) => rejection(t, siteSchema) !== undefined),
      { numRuns: 4, seed: 11 },
    );
    for (const [i, text] of bad.entries()) {
      const file = join(dir, `site-${i}.yaml`);
      writeFileSync(file, text);
      const r = await runBinary(['preflight', '--site', file, '--format', 'json']);
      assert.equal(r.code, 2, `exit 2 for ${JSON.stringify(text)}: ${r.stderr}`);
      assert.ok(r.stderr.includes(file), `stderr names ${file}: ${r.stderr}`);
      assert.equal(r.stdout, '', 'no report for an invalid site');
    }
    const badProfiles = fc.sample(
      mutationOf(VALID_PROFILE).map((m) => stringify(apply(VALID_PROFILE, m))).filter((t) => rejection(t, profileSchema) !== undefined),
      { numRuns: 2, seed: 12 },
    );
    for (const [i, text] of badProfiles.entries()) {
      const file = join(dir, `profile-${i}.yaml`);
      writeFileSync(file, text);
      const r = await runBinary(['checklist', '--profile', file]);
      assert.equal(r.code, 2, `exit 2: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`), 'stderr names file:line');
    }
    const badSpecs = fc.sample(
      fc.oneof(yamlishText, mutationOf(VALID_SPEC).map((m) => stringify(apply(VALID_SPEC, m)))).filter((t) => rejection(t, bundleSpecSchema) !== undefined),
      { numRuns: 3, seed: 13 },
    );
    for (const [i, text] of badSpecs.entries()) {
      const file = join(dir, `spec-${i}.yaml`);
      const out = join(dir, `out-${i}.tar`);
      writeFileSync(file, text);
      const r = await runBinary(['bundle', 'create', '--spec', file, '--output', out]);
      assert.equal(r.code, 2, `exit 2: ${r.stderr}`);
      assert.ok(r.stderr.includes(file), `stderr names ${file}: ${r.stderr}`);
      assert.equal(existsSync(out), false, 'no bundle written');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- what a bundle brings in: its manifest, layout JSON, SHA256SUMS; and --registry ----
// A bundle comes from elsewhere and may be hostile: these parsers must refuse
// it in words (InputError / problems lists), never with a TypeError.

const VALID_MANIFEST: Json = {
  apiVersion: 'astrago.io/v1',
  kind: 'BundleManifest',
  metadata: { name: 'astrago', version: '1.2.0', createdBy: 'astrago-check 0.1.0' },
  platforms: ['linux/amd64'],
  charts: [{ name: 'harbor', version: '1.13.1', file: 'charts/harbor-1.13.1.tgz', digest: `sha256:${'a'.repeat(64)}`, size: 10 }],
  images: [{ ref: 'docker.io/goharbor/harbor-core:v2.9.1', digest: `sha256:${'b'.repeat(64)}`, platforms: ['linux/amd64'] }],
  files: [{ name: 'helm', file: 'files/helm', digest: `sha256:${'c'.repeat(64)}`, size: 3 }],
};

test('bundle manifest reader: hostile bundle.yaml text and near-valid manifests are refused as input errors naming bundle.yaml', () => {
  const check = (text: string): void => {
    try {
      loadBundleManifest(text);
    } catch (err) {
      for (const e of inputErrorsOf(err)) assert.equal(e.file, 'bundle.yaml');
    }
  };
  loadBundleManifest(stringify(VALID_MANIFEST));
  checkTypeConfusion(VALID_MANIFEST, check);
  fc.assert(fc.property(yamlishText, check), RUNS);
  fc.assert(
    fc.property(fc.array(mutationOf(VALID_MANIFEST), { minLength: 1, maxLength: 3 }), (ms) => {
      let doc: Json = VALID_MANIFEST;
      for (const m of ms) doc = apply(doc, m);
      check(stringify(doc));
    }),
    RUNS,
  );
});

test('OCI layout readers: any JSON (or not JSON) gives a result with problems, never an exception', () => {
  const descriptor = fc.record({ mediaType: fc.oneof(fc.string(), fc.constant('application/vnd.oci.image.manifest.v1+json')), digest: fc.oneof(fc.string(), fc.constant(`sha256:${'d'.repeat(64)}`)), size: fc.oneof(fc.integer(), fc.double(), fc.string()) }, { requiredKeys: [] });
  const doc = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.record({ mediaType: fc.constantFrom('application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json', ''), manifests: fc.oneof(fc.array(fc.oneof(descriptor, fc.jsonValue())), fc.jsonValue()), config: fc.oneof(descriptor, fc.jsonValue()), layers: fc.oneof(fc.array(fc.oneof(descriptor, fc.jsonValue())), fc.jsonValue()) }, { requiredKeys: [] }),
  );
  fc.assert(
    fc.property(fc.oneof(doc.map((d) => JSON.stringify(d)), fc.string()), (text) => {
      const idx = parseIndexJson(text, 'images/index.json');
      assert.ok(Array.isArray(idx.manifests) && Array.isArray(idx.problems));
      const blob = parseManifestBlob(Buffer.from(text), 'blob');
      assert.ok(['index', 'manifest', 'other'].includes(blob.kind));
    }),
    RUNS,
  );
});

test('SHA256SUMS reader: arbitrary text yields sums and numbered problems, never an exception', () => {
  const line = fc.oneof(fc.string(), fc.tuple(fc.stringMatching(/^[0-9a-f]{64}$/), fc.constantFrom('  ', ' *', ' ', '\t'), fc.string()).map(([h, s, p]) => h + s + p));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 20 }).map((ls) => ls.join('\n')), (text) => {
      const { sums, problems } = parseSha256Sums(text);
      for (const [path, hex] of sums) {
        assert.match(hex, /^[0-9a-f]{64}$/);
        assert.ok(path.length > 0);
      }
      for (const p of problems) assert.match(p, /^SHA256SUMS:\d+: /);
    }),
    RUNS,
  );
});

test('--registry parser: any string is a target or a UsageError (exit 2) quoting it, never a crash', () => {
  const component = fc.stringMatching(/^[a-z0-9]{1,4}([._-][a-z0-9]{1,3})?$/);
  const value = fc.oneof(
    fc.string(),
    fc.tuple(fc.constantFrom('harbor.site.local', '127.0.0.1', '[::1]', 'Bad_Host', '-x', 'h'), fc.constantFrom('', ':5000', ':0', ':70000', ':x'), fc.array(component, { maxLength: 3 }), fc.constantFrom('', '/', 'https://')).map(
      ([h, p, comps, extra]) => (extra === 'https://' ? extra : '') + h + p + comps.map((c) => '/' + c).join('') + (extra === '/' ? '/' : ''),
    ),
  );
  fc.assert(
    fc.property(value, (v) => {
      try {
        const t = parseRegistryTarget(v);
        assert.ok(t.host.length > 0 && !t.host.includes('/'));
        assert.ok(!t.prefix.startsWith('/') && !t.prefix.endsWith('/'));
      } catch (err) {
        assert.ok(err instanceof UsageError, `UsageError, got ${String(err)}`);
        assert.equal((err as UsageError).exitCode, 2);
        assert.ok(err.message.includes('--registry'));
      }
    }),
    RUNS,
  );
});

// ---- the bundle spec and image references (bundle create's inputs) -----------

const VALID_SPEC: Json = {
  apiVersion: 'astrago.io/v1',
  kind: 'BundleSpec',
  metadata: { name: 'astrago', version: '1.2.0' },
  platforms: ['linux/amd64', 'linux/arm64/v8'],
  charts: [
    { name: 'harbor', repo: 'https://helm.goharbor.io', version: '1.13.1' },
    { name: 'gpu-operator', oci: 'oci://registry.example/charts/gpu-operator', version: 'v25.3.2' },
    { name: 'astrago', path: 'charts/astrago' },
  ],
  images: ['docker.io/goharbor/harbor-core:v2.9.1', `registry.k8s.io/pause@sha256:${'e'.repeat(64)}`, 'nginx', 'localhost:5000/team/app:1.0'],
  imageLists: ['imagelists/astrago.txt'],
  files: [{ name: 'helm', url: 'https://get.example/helm-v3.15.4-linux-amd64.tar.gz', sha256: 'f'.repeat(64), mode: 0o755 }],
  registries: [{ host: 'harbor.internal:5443', caFile: './ca.pem', insecure: false, username: 'bot', passwordEnv: 'HARBOR_PW' }],
};

test('bundle spec parser: random text, mutations and type confusion are refused with file, line and field', () => {
  fc.assert(fc.property(yamlishText, (text) => void rejection(text, bundleSpecSchema)), RUNS);
  checkMutations(VALID_SPEC, bundleSpecSchema);
  checkTypeConfusion(VALID_SPEC, (t) => void rejection(t, bundleSpecSchema));
});

test('bundle spec loader: generated spec files with image lists are loaded or refused as input errors naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-prop-spec-'));
  try {
    mkdirSync(join(dir, 'charts', 'astrago'), { recursive: true });
    writeFileSync(join(dir, 'charts', 'astrago', 'Chart.yaml'), 'apiVersion: v2\nname: astrago\nversion: 0.1.0\n');
    writeFileSync(join(dir, 'ca.pem'), 'not checked here\n');
    mkdirSync(join(dir, 'imagelists'));
    const listLine = fc.oneof(fc.constantFrom('nginx:1.25', '# comment', '', '  ghcr.io/a/b:1  # trailing', 'UPPER/case', 'a b', 'x@sha256:zz', `quay.io/x@sha256:${'a'.repeat(64)}`), fc.string({ maxLength: 30 }));
    let n = 0;
    fc.assert(
      fc.property(fc.array(mutationOf(VALID_SPEC), { maxLength: 2 }), fc.array(listLine, { maxLength: 8 }), (ms, lines) => {
        let doc: Json = VALID_SPEC;
        for (const m of ms) doc = apply(doc, m);
        const file = join(dir, `spec-${n++}.yaml`);
        writeFileSync(file, stringify(doc));
        writeFileSync(join(dir, 'imagelists', 'astrago.txt'), lines.join('\n'));
        try {
          const loaded = loadBundleSpec(file);
          for (const img of loaded.images) assert.deepEqual(parseReference(img.name), img.ref, 'canonical names parse back to the same reference');
        } catch (err) {
          for (const e of inputErrorsOf(err)) {
            assert.ok(e.file === file || e.file.endsWith('astrago.txt'), `names the spec or the image list: ${e.message}`);
            if (e.file.endsWith('astrago.txt')) assert.ok(e.line !== undefined && e.line >= 1 && e.line <= lines.length, `image list errors carry their line: ${e.message}`);
          }
        }
      }),
      { ...RUNS, numRuns: 100 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('image reference parser: any string is a reference or a ReferenceError; accepted ones round-trip', () => {
  const component = fc.stringMatching(/^[a-z0-9]{1,6}([._-][a-z0-9]{1,4})?$/);
  const shaped = fc
    .tuple(
      fc.constantFrom('', 'docker.io/', 'ghcr.io/', 'localhost:5000/', '127.0.0.1:5001/', '[::1]:5000/', 'Registry.Example:443/', 'bad_host/', 'h:99999/', 'index.docker.io/'),
      fc.array(component, { minLength: 1, maxLength: 3 }),
      fc.constantFrom('', ':1.0', ':latest', ':v2.9.1-rc_1', ':-bad', `:${'t'.repeat(129)}`, ':'),
      fc.constantFrom('', `@sha256:${'a'.repeat(64)}`, '@sha256:ABC', '@md5:00', '@'),
    )
    .map(([r, comps, tag, digest]) => r + comps.join('/') + tag + digest);
  fc.assert(
    fc.property(fc.oneof(shaped, fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 })), (s) => {
      let ref;
      try {
        ref = parseReference(s);
      } catch (err) {
        assert.ok(err instanceof RefError, `a ReferenceError, got ${String(err)}`);
        assert.ok(err.message.startsWith('invalid image reference'), err.message);
        return;
      }
      assert.ok(ref.repository.length > 0 && ref.registry.length > 0);
      assert.ok(ref.tag !== undefined || ref.digest !== undefined, 'a tag or a digest is always set');
      assert.deepEqual(parseReference(formatReference(ref)), ref, 'formatting and parsing again gives the same reference');
    }),
    { ...RUNS, numRuns: 400 },
  );
  // Known answers: Docker's normalisation.
  assert.deepEqual(parseReference('nginx'), { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined });
  assert.equal(parseReference('localhost:5000/x:1').registry, 'localhost:5000');
});

test('image list parser: any text gives references and errors that carry file and line', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('nginx', '# c', 'Bad/Name', 'a:b:c')), { maxLength: 15 }), (lines) => {
      const { images, errors } = parseImageList(lines.join('\n'), 'list.txt');
      for (const e of errors) {
        assert.ok(e instanceof InputError);
        assert.equal(e.file, 'list.txt');
        assert.ok(e.line! >= 1 && e.line! <= lines.length);
        assert.equal(e.field, 'image');
      }
      for (const i of images) assert.match(i.origin, /^list\.txt:\d+$/);
    }),
    RUNS,
  );
});

// ---- hostile tar input (a bundle is a file from elsewhere) ----------------------

test('tar reader: mutated, truncated and spliced archives are refused as TarFormatError, never another exception', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-prop-tar-'));
  try {
    const good = rawTar([
      { path: 'bundle.yaml', data: 'kind: BundleManifest\n' },
      { path: 'SHA256SUMS', data: `${'a'.repeat(64)}  images/x\n` },
      { path: 'images/blobs/sha256/' + 'b'.repeat(64), data: Buffer.alloc(1500, 7) },
      { path: 'files/helm', data: 'x'.repeat(600) },
    ]);
    const damage = fc.oneof(
      fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => (b: Buffer) => {
        const c = Buffer.from(b);
        for (const [at, x] of flips) c[at] ^= x;
        return c;
      }),
      fc.nat({ max: good.length - 1 }).map((n) => (b: Buffer) => b.subarray(0, n)),
      fc.tuple(fc.nat({ max: good.length }), fc.uint8Array({ minLength: 1, maxLength: 1024 })).map(([at, junk]) => (b: Buffer) => Buffer.concat([b.subarray(0, at), Buffer.from(junk), b.subarray(at)])),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(damage, async (hurt) => {
        const f = join(dir, `t-${n++}.tar`);
        writeFileSync(f, hurt(good));
        try {
          const { entries } = await walkTar(f, { onEntry: () => ({ write: () => undefined }) });
          for (const e of entries) assert.equal('problem' in checkEntryPath(e.path), false, `a path the reader let through is safe: ${e.path}`);
        } catch (err) {
          assert.ok(err instanceof TarFormatError, `TarFormatError, got ${String(err)}`);
        } finally {
          rmSync(f, { force: true });
        }
      }),
      RUNS,
    );
    // Huge headers: refused from the header alone, nothing of that size is read or allocated.
    const huge: Array<[string, Buffer, RegExp]> = [
      ['2 MiB pax header', rawTar([{ path: 'PaxHeader/x', type: 'ExtendedHeader', size: 2 << 20 }, { path: 'a', data: 'x' }]), /oversized extended header/],
      ['100 MiB GNU long name', rawTar([{ path: '././@LongLink', type: 'NextFileHasLongPath', size: 100 << 20 }, { path: 'a', data: 'x' }]), /oversized extended header/],
      ['file claiming 64 GiB', rawTar([{ path: 'files/big', size: 64 * 2 ** 30 }]), /truncated archive/],
    ];
    for (const [name, buf, re] of huge) {
      const f = join(dir, 'huge.tar');
      writeFileSync(f, buf);
      await assert.rejects(walkTar(f), (err: unknown) => err instanceof TarFormatError && re.test(err.message), name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
