// Delta bundles against real registries: five images, one changed in the next
// release; bundle create --base carries only that image's new layer (and the
// manifests), bundle.yaml still describes the whole release and names its
// base; verify says what it needs; inspect what it saves; install onto a
// registry that holds the base works, onto an empty one it names what is
// missing and pushes nothing, and with --base OLD.tar it takes that from there.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { makeChartDir, startStaticServer, type StaticServer } from '../support/helm-repo.ts';
import { createLayout, pushImage, registryDigest, singlePlatformImage, type Layout } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { runBinary } from '../support/run-binary.ts';
import { walkTar } from '../../src/archive/tar-walk.ts';
import { JsonStrictValidator } from '@cyclonedx/cyclonedx-library/Validation';
import { Version } from '@cyclonedx/cyclonedx-library/Spec';

let work: string;
let source: TestRegistry;
let web: StaticServer;
let toolSha = '';
let lay: Layout;
let baseTar: string;
let deltaTar: string;
const NAMES = ['one', 'two', 'three', 'four', 'five'];
let changedLayer = '';
let changedDigest = '';
const env = () => ({ PATH: process.env.PATH, HOME: work });

function spec(version: string, images: string[]): string {
  const f = join(work, `spec-${version}.yaml`);
  writeFileSync(f, [`apiVersion: astrago.io/v1`, 'kind: BundleSpec', `metadata: {name: platform, version: ${version}}`, 'platforms: [linux/amd64]', 'charts:', '  - {name: demo, path: ./charts/demo}', 'images:', ...images.map((i) => `  - ${i}`), 'files:', `  - {name: tool, url: ${web.url}/files/tool, sha256: ${toolSha}, mode: 493}`, ''].join('\n'));
  return f;
}

async function create(specFile: string, out: string, more: string[] = []): Promise<string> {
  const r = await runBinary(['bundle', 'create', '--spec', specFile, '--output', out, '--cache-dir', join(work, 'cache'), ...more], { env: env(), timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout + r.stderr;
}

function tarEntries(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
}

function repositories(reg: TestRegistry): string[] {
  const dir = join(reg.dir, 'data', 'docker', 'registry', 'v2', 'repositories');
  return existsSync(dir) ? readdirSync(dir) : [];
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ac-delta-'));
  source = await startRegistry();
  lay = createLayout(join(work, 'layout'));
  const shared = await lay.addLayer(100_000);
  for (const n of NAMES) {
    await singlePlatformImage(lay, n, { sharedLayers: [shared], layerSizes: [150_000] });
    await pushImage(lay, n, source, `team/${n}:1.0`);
  }
  // Release 2 changes image three: a new layer on the shared one.
  const img = await singlePlatformImage(lay, 'three-v2', { sharedLayers: [shared], layerSizes: [120_000] });
  changedLayer = JSON.parse(readFileSync(join(lay.dir, 'blobs', 'sha256', img.digest.slice(7)), 'utf8')).layers[1].digest;
  changedDigest = await pushImage(lay, 'three-v2', source, 'team/three:2.0');
  mkdirSync(join(work, 'charts'));
  mkdirSync(join(work, 'files'));
  const tool = Buffer.from('#!/bin/sh\necho tool 1\n');
  writeFileSync(join(work, 'files', 'tool'), tool);
  toolSha = createHash('sha256').update(tool).digest('hex');
  web = await startStaticServer(work);
  makeChartDir(join(work, 'charts'), { name: 'demo', version: '0.1.0' });
  baseTar = join(work, 'base.tar');
  await create(spec('1.0.0', NAMES.map((n) => `${source.host}/team/${n}:1.0`)), baseTar);
  deltaTar = join(work, 'delta.tar');
  await create(spec('2.0.0', NAMES.map((n) => `${source.host}/team/${n}:${n === 'three' ? '2.0' : '1.0'}`)), deltaTar, ['--base', baseTar]);
});

after(async () => {
  await Promise.allSettled([source?.stop(), web?.stop()]);
  lay?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

test('the delta carries only the changed image\'s new layer; bundle.yaml describes the whole release and names its base', () => {
  const base = tarEntries(baseTar);
  const delta = tarEntries(deltaTar);
  const newBlobs = delta.filter((e) => e.startsWith('images/blobs/') && !base.includes(e));
  assert.ok(newBlobs.includes(`images/blobs/sha256/${changedLayer.slice(7)}`));
  // New to the tar: the changed layer, and the new image's manifest and config (always carried).
  assert.equal(newBlobs.length, 3, newBlobs.join('\n'));
  const layerEntries = delta.filter((e) => e.startsWith('images/blobs/')).length;
  assert.equal(layerEntries, 1 + NAMES.length * 2, 'one layer plus every manifest and config');
  assert.ok(!delta.some((e) => e.startsWith('charts/demo')), 'the unchanged chart is left out');
  const m = parse(execFileSync('tar', ['-xOf', deltaTar, 'bundle.yaml'], { encoding: 'utf8' }));
  const baseYaml = execFileSync('tar', ['-xOf', baseTar, 'bundle.yaml']);
  assert.deepEqual({ name: m.base.name, version: m.base.version }, { name: 'platform', version: '1.0.0' });
  assert.equal(m.base.manifestDigest, `sha256:${createHash('sha256').update(baseYaml).digest('hex')}`);
  assert.equal(m.images.length, 5, 'the whole release');
  assert.equal(m.charts.length, 1);
  assert.equal(m.base.omitted.blobs.length, 1 + NAMES.length - 1, 'the shared layer and four unchanged layers');
  assert.deepEqual(m.base.omitted.charts, ['charts/demo-0.1.0.tgz']);
  assert.deepEqual(m.base.omitted.files, ['files/tool']);
  assert.ok(!delta.includes('files/tool'), 'the unchanged file is left out');
  assert.ok(readFileSync(deltaTar).length < readFileSync(baseTar).length / 2);
});

test('--base OLD/bundle.yaml leaves out the same', async () => {
  const yamlOnly = join(work, 'base-bundle.yaml');
  writeFileSync(yamlOnly, execFileSync('tar', ['-xOf', baseTar, 'bundle.yaml']));
  const out = join(work, 'delta-from-yaml.tar');
  const said = await create(spec('2.0.0', NAMES.map((n) => `${source.host}/team/${n}:${n === 'three' ? '2.0' : '1.0'}`)), out, ['--base', yamlOnly]);
  assert.match(said, /delta against platform 1\.0\.0 \(sha256:[0-9a-f]{64}\): leaves out 5 layers, 1 chart, 1 file \(/);
  assert.ok(readFileSync(out).equals(readFileSync(deltaTar)), 'byte for byte the same delta');
});

test('verify checks the delta\'s own bytes and says what it needs; inspect says it is a delta and what it saves', async () => {
  const v = await runBinary(['bundle', 'verify', deltaTar]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /delta of\s+platform 1\.0\.0 \(bundle\.yaml sha256:[0-9a-f]{64}\)/);
  assert.match(v.stdout, /needs from the base\s+5 layers \([\d.]+ KiB\), 1 chart, 1 file/);
  const i = await runBinary(['bundle', 'inspect', deltaTar]);
  assert.equal(i.code, 0, i.stderr);
  assert.match(i.stdout, /Delta of platform 1\.0\.0 .*leaves out 5 layers, 1 chart and 1 file the base holds, [\d.]+ KiB saved/);
  // The file left out keeps the mode the base carries it with (the spec's 0o755), not a default.
  assert.match(i.stdout, /^  tool\s+files\/tool\s+0755\s/m);
  // The inventory of a delta is the whole release's, and names the base.
  const c = await runBinary(['bundle', 'inspect', deltaTar, '--format', 'cyclonedx']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(await new JsonStrictValidator(Version.v1dot6).validate(c.stdout), null);
  const bom = JSON.parse(c.stdout);
  assert.equal(bom.components.filter((x: { type: string }) => x.type === 'container').length, 5);
  assert.ok(bom.metadata.component.properties.some((p: { name: string; value: string }) => p.name === 'astrago:deltaOf' && p.value === 'platform 1.0.0'));
  // A flipped byte in the delta's own layer is still found.
  const { entries } = await walkTar(deltaTar);
  const layer = entries.find((e) => e.path === `images/blobs/sha256/${changedLayer.slice(7)}`)!;
  const copy = readFileSync(deltaTar);
  copy[layer.dataOffset + 100]! ^= 1;
  const bad = join(work, 'bad-delta.tar');
  writeFileSync(bad, copy);
  const vb = await runBinary(['bundle', 'verify', bad]);
  assert.match(vb.stdout, new RegExp(`${changedLayer.slice(7)}: sha256 mismatch`));
  assert.equal(vb.code, 1, vb.stdout);
});

test('install onto an empty registry names what is missing and pushes nothing; with --base it works', async () => {
  const empty = await startRegistry();
  try {
    const charts = join(work, 'charts-empty');
    const r = await runBinary(['bundle', 'install', deltaTar, '--registry', `${empty.host}/site`, '--flat', '--charts-dir', charts], { env: env() });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /a delta of platform 1\.0\.0 \(bundle\.yaml sha256:[0-9a-f]{64}\), and the registry lacks 6 things it needs from that base; nothing was pushed or written/);
    assert.match(r.stderr, /layer sha256:[0-9a-f]{64} \([\d.]+ KiB\) of (\S+\/team\/\w+:[12]\.0(, )?){5}: in no repository of this install/);
    assert.match(r.stderr, /chart demo 0\.1\.0: site\/charts\/demo:0\.1\.0 with chart sha256:[0-9a-f]{64} is not in the registry/);
    assert.match(r.stderr, /Install platform 1\.0\.0 first, or give its tar with --base OLD\.tar/);
    assert.deepEqual(repositories(empty), [], 'nothing pushed');
    assert.ok(!existsSync(charts), 'nothing written');

    const ok = await runBinary(['bundle', 'install', deltaTar, '--registry', `${empty.host}/site`, '--flat', '--charts-dir', charts, '--base', baseTar], { env: env() });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(await registryDigest(empty, 'site/team/three:2.0'), changedDigest);
    assert.equal(await registryDigest(empty, 'site/team/one:1.0'), await registryDigest(source, 'team/one:1.0'));
    assert.ok(existsSync(join(charts, 'demo-0.1.0.tgz')), 'the chart came from the base tar');
    const tool = join(work, 'astrago-files', 'tool');
    assert.equal(readFileSync(tool, 'utf8'), '#!/bin/sh\necho tool 1\n', 'the file came from the base tar');
  } finally {
    await empty.stop();
  }
});

test('install onto a registry that holds the base pushes only the new layer', async () => {
  const site = await startRegistry();
  try {
    const b = await runBinary(['bundle', 'install', baseTar, '--registry', `${site.host}/site`, '--flat', '--charts-dir', join(work, 'c1')], { env: env() });
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const d = await runBinary(['bundle', 'install', deltaTar, '--registry', `${site.host}/site`, '--flat', '--charts-dir', join(work, 'c2')], { env: env() });
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /blobs\s+2 pushed \(11\d\.\d KiB\), 0 mounted/, 'the new layer and the new config');
    assert.match(d.stdout, /chart demo 0\.1\.0: already in the registry/);
    assert.equal(await registryDigest(site, 'site/team/three:2.0'), changedDigest);
    // A new charts directory: its index.yaml names only the charts it holds (the base's are in c1).
    const named = Object.values((parse(readFileSync(join(work, 'c2', 'index.yaml'), 'utf8')) as { entries: Record<string, Array<{ urls: string[] }>> }).entries).flat().map((v) => v.urls[0]!);
    for (const f of named) assert.ok(existsSync(join(work, 'c2', f)), `index.yaml names ${f}, which c2 holds`);
    assert.ok(!named.includes('demo-0.1.0.tgz'), 'the base chart is not named in the new directory');
    // Installed again into the base's directory, where its chart is: the bundle's index as it is.
    const again = await runBinary(['bundle', 'install', deltaTar, '--registry', `${site.host}/site`, '--flat', '--charts-dir', join(work, 'c1')], { env: env() });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.ok(readFileSync(join(work, 'c1', 'index.yaml')).equals(execFileSync('tar', ['-xOf', deltaTar, 'charts/index.yaml'])), 'the bundle\'s index.yaml, byte for byte');
  } finally {
    await site.stop();
  }
});
