// bundle install on the built binary against real distribution registries:
// a bundle made by `bundle create` from a source registry (and a Helm
// repository) is installed into a second registry (TLS + htpasswd, a path
// prefix): digests kept (skopeo reads them back, pulls by digest), charts as
// OCI Helm artifacts, a second run uploads nothing (the tool's count and the
// registry's storage agree); a dry run and every refused bundle push nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { parse } from 'yaml';
import { createPki, type Pki } from '../support/pki.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLayout, multiPlatformImage, pushImage, singlePlatformImage, type Layout } from '../support/images.ts';
import { makeChartDir, startStaticServer, writeHelmIndex, type StaticServer } from '../support/helm-repo.ts';
import { packageChart } from '../../src/bundle/charts/package.ts';
import { buildBundle, makeChart, maliciousTars, rawTar, type BuiltBundle } from '../support/bundle-fixture.ts';
import { writeInstallOutputs } from '../../src/bundle/install/output.ts';
import { walkTar } from '../../src/archive/tar-walk.ts';
import { runBinary } from '../support/run-binary.ts';
import { freePort } from '../support/process.ts';

let dir: string;
let pki: Pki;
let lay: Layout;
let bundle: BuiltBundle;
let appDigest: string;
let multiDigest: string;
let pinnedDigest: string;
const servers: TestRegistry[] = [];
/** made by `bundle create` from `source` (images) and a Helm repository (chart) */
let created: string;
let source: TestRegistry;
let helmRepo: StaticServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-install-'));
  pki = createPki(mkdtempSync(join(tmpdir(), 'ac-install-pki-')));
  lay = createLayout(join(dir, 'layout'));
  const shared = await lay.addLayer(300_000);
  appDigest = (await singlePlatformImage(lay, 'app', { sharedLayers: [shared], layerSizes: [150_000, 20_000] })).digest;
  multiDigest = (await multiPlatformImage(lay, 'multi', { sharedLayers: [shared], layerSizes: [80_000] })).index.digest;
  pinnedDigest = (await singlePlatformImage(lay, 'pinned', { sharedLayers: [shared], layerSizes: [10_000] })).digest;
  bundle = await buildBundle({
    out: join(dir, 'bundle.tar'),
    layout: lay.dir,
    platforms: ['linux/amd64', 'linux/arm64'],
    images: [
      { ref: 'docker.io/library/app:1.0', name: 'app' },
      { ref: 'docker.io/library/app:latest', name: 'app' }, // a second tag of the same image
      { ref: 'quay.io/team/multi:2.0', name: 'multi' },
      { ref: `registry.k8s.io/pause@${pinnedDigest}`, name: 'pinned' },
    ],
    charts: [await makeChart('demo', '0.1.0', { image: 'docker.io/library/app:1.0' }), await makeChart('other', '1.2.3+meta')],
    files: [{ name: 'helm', data: Buffer.from('#!/bin/sh\necho helm\n') }],
  });

  // The real path: images in a registry, a chart in a Helm repository, `bundle create`.
  source = await startRegistry();
  servers.push(source);
  await pushImage(lay, 'app', source, 'library/app:1.0');
  await pushImage(lay, 'multi', source, 'team/multi:2.0');
  await pushImage(lay, 'pinned', source, 'pause:3.9');
  const repoDir = join(dir, 'helm-repo');
  mkdirSync(repoDir);
  const chart = await packageChart(makeChartDir(join(dir, 'chart-src'), { name: 'demo', version: '0.1.0', values: { image: { repository: `${source.host}/library/app`, tag: '1.0' } } }));
  writeFileSync(join(repoDir, chart.fileName), chart.data);
  writeHelmIndex(repoDir, [{ name: 'demo', version: '0.1.0', fileName: chart.fileName }]);
  helmRepo = await startStaticServer(repoDir);
  const spec = join(dir, 'spec.yaml');
  writeFileSync(
    spec,
    [
      'apiVersion: astrago.io/v1',
      'kind: BundleSpec',
      'metadata: {name: site-test, version: 1.0.0}',
      'platforms: [all]',
      'charts:',
      `  - {name: demo, repo: "${helmRepo.url}", version: 0.1.0}`,
      'images:',
      `  - ${source.host}/library/app:1.0`,
      `  - ${source.host}/team/multi:2.0`,
      `  - ${source.host}/pause@${pinnedDigest}`,
      '',
    ].join('\n'),
  );
  created = join(dir, 'created.tar');
  const c = await runBinary(['bundle', 'create', '--spec', spec, '--output', created, '--cache-dir', join(dir, 'cache')], { env: { PATH: process.env.PATH, HOME: dir }, timeoutMs: 120_000 });
  assert.equal(c.code, 0, `bundle create failed:\n${c.stdout}\n${c.stderr}`);
});

after(async () => {
  await helmRepo?.stop();
  for (const s of servers) await s.stop();
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function secureRegistry(): Promise<TestRegistry> {
  const r = await startRegistry({ tls: pki, auth: 'htpasswd' });
  servers.push(r);
  return r;
}

/** A docker config holding the registry's credentials (what `docker login` writes). */
function dockerConfig(reg: TestRegistry): string {
  const d = mkdtempSync(join(dir, 'docker-'));
  writeFileSync(join(d, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
  return d;
}

function env(reg: TestRegistry): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dockerConfig(reg) };
}

async function catalog(reg: TestRegistry): Promise<string[]> {
  const res = await request(`${reg.url}/v2/_catalog?n=1000`, {
    dispatcher: new Agent({ connect: { ca: readFileSync(reg.caFile!) } }),
    headers: { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}` },
  });
  return ((await res.body.json()) as { repositories: string[] }).repositories;
}

function skopeoCreds(reg: TestRegistry): string[] {
  return ['--creds', `${reg.username}:${reg.password}`, '--tls-verify=false'];
}

function rawDigest(reg: TestRegistry, ref: string): string {
  const raw = execFileSync('skopeo', ['inspect', '--raw', ...skopeoCreds(reg), `docker://${reg.host}/${ref}`]);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** Every file of the registry's storage with its mtime: any write shows up. */
function storageSnapshot(reg: TestRegistry): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, statSync(p).mtimeMs);
    }
  };
  walk(join(reg.dir, 'data'));
  return out;
}

test('a bundle made by bundle create installs with its digests and tags; a second run uploads nothing', async () => {
  // What was made: inspect reads it without extracting (and verify passes, or install would refuse it).
  const inspected = await runBinary(['bundle', 'inspect', created, '--format', 'json']);
  assert.equal(inspected.code, 0, inspected.stderr);
  const info = JSON.parse(inspected.stdout);
  assert.equal(info.bundle.tool.name, 'astrago-check');
  assert.deepEqual(info.images.find((i: { ref: string }) => i.ref === `${source.host}/team/multi:2.0`).platforms, ['linux/amd64', 'linux/arm64']);
  assert.deepEqual(info.charts.map((c: { name: string; version: string }) => `${c.name} ${c.version}`), ['demo 0.1.0']);

  const reg = await secureRegistry();
  const chartsDir = join(dir, 'charts-1');
  const e = env(reg);
  const args = ['bundle', 'install', created, '--registry', `${reg.host}/site/astrago`, '--ca-file', reg.caFile!, '--charts-dir', chartsDir];
  const r1 = await runBinary(args, { env: e });
  assert.equal(r1.code, 0, r1.stdout + r1.stderr);
  assert.doesNotMatch(r1.stdout + r1.stderr, new RegExp(reg.password!), 'the password is never printed');
  assert.match(r1.stdout, /blobs\s+\d+ pushed .*, [1-9]\d* mounted, 0 skipped/);

  // Same digests, tags kept, the source host (':PORT' as '_PORT') and the path kept under the prefix.
  const src = `site/astrago/${source.host.replace(':', '_')}`;
  assert.equal(rawDigest(reg, `${src}/library/app:1.0`), appDigest);
  assert.equal(rawDigest(reg, `${src}/team/multi:2.0`), multiDigest);
  assert.equal(rawDigest(reg, `${src}/pause@${pinnedDigest}`), pinnedDigest, 'a by-digest reference resolves after the push');
  // Pull by digest works (an index, with all its platforms).
  const pulled = join(dir, 'pulled');
  execFileSync('skopeo', ['copy', '--all', '--quiet', '--src-creds', `${reg.username}:${reg.password}`, '--src-tls-verify=false', `docker://${reg.host}/${src}/team/multi@${multiDigest}`, `oci:${pulled}:m`]);
  const pulledIndex = JSON.parse(readFileSync(join(pulled, 'index.json'), 'utf8'));
  assert.equal(pulledIndex.manifests[0].digest, multiDigest);

  // Charts: OCI Helm artifacts at PREFIX/charts/NAME:VERSION, the layer being the bundle's .tgz.
  const chartManifest = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', ...skopeoCreds(reg), `docker://${reg.host}/site/astrago/charts/demo:0.1.0`], { encoding: 'utf8' }));
  assert.equal(chartManifest.config.mediaType, 'application/vnd.cncf.helm.config.v1+json');
  assert.equal(chartManifest.layers[0].mediaType, 'application/vnd.cncf.helm.chart.content.v1.tar+gzip');
  assert.equal(`sha256:${createHash('sha256').update(readFileSync(join(chartsDir, 'demo-0.1.0.tgz'))).digest('hex')}`, chartManifest.layers[0].digest);
  assert.deepEqual((await catalog(reg)).sort(), [`${src}/library/app`, `${src}/pause`, `${src}/team/multi`, 'site/astrago/charts/demo']);
  assert.match(r1.stdout, new RegExp(`${source.host}/team/multi:2\\.0 -> ${reg.host}/${src}/team/multi:2\\.0`), 'the summary shows each target');

  // The charts directory: charts, the Helm repo index, the values override, the runtime mirrors.
  assert.deepEqual(readdirSync(chartsDir).sort(), ['containerd', 'demo-0.1.0.tgz', 'index.yaml', 'registries.yaml', 'registry-values.yaml', 'values']);
  assert.deepEqual(readdirSync(join(chartsDir, 'containerd', 'certs.d', source.host)).sort(), ['ca.crt', 'hosts.toml']);
  assert.equal(readFileSync(join(chartsDir, 'containerd', 'certs.d', source.host, 'ca.crt'), 'utf8'), readFileSync(reg.caFile!, 'utf8'));
  const values = parse(readFileSync(join(chartsDir, 'registry-values.yaml'), 'utf8'));
  assert.equal(values.global.imageRegistry, `${reg.host}/${src}`, 'one source registry: global.imageRegistry is its site path');
  const app = values.astrago.images[`${source.host}/library/app:1.0`];
  assert.equal(app.ref, `${reg.host}/${src}/library/app:1.0`);
  // values/demo.yaml: the chart's image.repository at its site copy (the tag left to the chart).
  assert.deepEqual(parse(readFileSync(join(chartsDir, 'values', 'demo.yaml'), 'utf8')).image, { repository: `${reg.host}/${src}/library/app` });
  assert.equal(app.digest, appDigest);

  // Second run: everything is already there; neither the tool nor the registry's storage sees a write.
  const before = storageSnapshot(reg);
  const r2 = await runBinary(args, { env: e });
  assert.equal(r2.code, 0, r2.stdout + r2.stderr);
  assert.match(r2.stdout, /blobs\s+0 pushed \(0 B\), 0 mounted, [1-9]\d* skipped/);
  assert.match(r2.stdout, /manifests\s+0 pushed, [1-9]\d* skipped/);
  assert.deepEqual(storageSnapshot(reg), before);
});

test('the test fixture bundle (docker.io, quay.io, a + in a chart version) installs the same way', async () => {
  const reg = await secureRegistry();
  const chartsDir = join(dir, 'charts-fixture');
  const r = await runBinary(['bundle', 'install', bundle.file, '--registry', `${reg.host}/fx`, '--ca-file', reg.caFile!, '--charts-dir', chartsDir], { env: env(reg) });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(rawDigest(reg, 'fx/docker.io/library/app:1.0'), appDigest);
  assert.equal(rawDigest(reg, 'fx/docker.io/library/app:latest'), appDigest);
  assert.equal(rawDigest(reg, 'fx/quay.io/team/multi:2.0'), multiDigest);
  assert.equal(rawDigest(reg, `fx/registry.k8s.io/pause@${pinnedDigest}`), pinnedDigest);
  assert.ok(rawDigest(reg, 'fx/charts/other:1.2.3_meta').startsWith('sha256:'), "'+' in a chart version becomes '_' in its tag, as helm does");
  assert.deepEqual(readdirSync(chartsDir).sort(), ['containerd', 'demo-0.1.0.tgz', 'index.yaml', 'other-1.2.3+meta.tgz', 'registries.yaml', 'registry-values.yaml', 'values']);
  assert.deepEqual(readdirSync(join(chartsDir, 'containerd', 'certs.d')).sort(), ['docker.io', 'quay.io', 'registry.k8s.io']);
  const values = parse(readFileSync(join(chartsDir, 'registry-values.yaml'), 'utf8'));
  assert.equal(values.astrago.images['docker.io/library/app:1.0'].ref, `${reg.host}/fx/docker.io/library/app:1.0`);
  assert.equal(values.global, undefined, 'three source registries: no single global.imageRegistry');

  // --flat: the old mapping (this bundle has no two images on one target).
  const flat = await runBinary(['bundle', 'install', bundle.file, '--registry', `${reg.host}/flat`, '--flat', '--ca-file', reg.caFile!, '--charts-dir', join(dir, 'charts-flat')], { env: env(reg) });
  assert.equal(flat.code, 0, flat.stdout + flat.stderr);
  assert.equal(rawDigest(reg, 'flat/library/app:1.0'), appDigest);
  assert.equal(rawDigest(reg, 'flat/team/multi:2.0'), multiDigest);
  assert.equal(parse(readFileSync(join(dir, 'charts-flat', 'registry-values.yaml'), 'utf8')).global.imageRegistry, `${reg.host}/flat`);
});

test('a dry run prints the plan and pushes and writes nothing', async () => {
  const reg = await secureRegistry();
  const chartsDir = join(dir, 'charts-dry');
  const r = await runBinary(['bundle', 'install', bundle.file, '--registry', `${reg.host}/p`, '--ca-file', reg.caFile!, '--charts-dir', chartsDir, '--dry-run'], { env: env(reg) });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`image docker\\.io/library/app:1\\.0 -> ${reg.host}/p/docker\\.io/library/app:1\\.0@${appDigest}`));
  assert.match(r.stdout, new RegExp(`chart demo 0\\.1\\.0 -> oci://${reg.host}/p/charts/demo:0\\.1\\.0`));
  assert.match(r.stdout, /Disk needed: .* in /);
  assert.match(r.stdout, /runtime mirrors containerd\/certs\.d\/docker\.io\/hosts\.toml, containerd\/certs\.d\/quay\.io\/hosts\.toml, .*registries\.yaml/);
  assert.match(r.stdout, /Dry run: nothing was pushed or written/);
  assert.deepEqual(await catalog(reg), []);
  assert.equal(existsSync(chartsDir), false);
});

test('corrupted and malicious bundles are refused by install: nothing pushed, nothing written', async () => {
  const reg = await secureRegistry();
  const chartsDir = join(dir, 'charts-refused');
  const flipped = join(dir, 'flipped.tar');
  const buf = Buffer.from(readFileSync(bundle.file));
  const layer = [...bundle.entries].find(([p, e]) => p.startsWith('images/blobs/') && e.size > 100_000)![1];
  buf[layer.offset + 5000] ^= 0x10;
  writeFileSync(flipped, buf);
  const truncated = join(dir, 'truncated.tar');
  writeFileSync(truncated, readFileSync(bundle.file).subarray(0, layer.offset + 777));
  const cases: Array<[string, string, RegExp]> = [['flipped byte', flipped, /sha256 mismatch/], ['truncated', truncated, /truncated archive/], ...maliciousTars(bundle, dir)];
  for (const [name, file, re] of cases) {
    const r = await runBinary(['bundle', 'install', file, '--registry', `${reg.host}/x`, '--ca-file', reg.caFile!, '--charts-dir', chartsDir], { env: env(reg) });
    assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /verification failed .*nothing was pushed or written/, name);
    assert.match(r.stderr, re, name);
  }
  assert.deepEqual(await catalog(reg), []);
  assert.equal(existsSync(chartsDir), false);
});

test('TLS is verified: without the CA the install stops and says how to fix it; bad input exits 2', async () => {
  const reg = await secureRegistry();
  const r = await runBinary(['bundle', 'install', bundle.file, '--registry', reg.host, '--charts-dir', join(dir, 'charts-noca')], { env: env(reg) });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--ca-file/);
  assert.deepEqual(await catalog(reg), []);
  // Nothing listens: one clear error naming the registry.
  const closed = `127.0.0.1:${await freePort()}`;
  const down = await runBinary(['bundle', 'install', bundle.file, '--registry', closed, '--charts-dir', join(dir, 'charts-down')], { env: env(reg) });
  assert.equal(down.code, 1);
  assert.match(down.stderr, new RegExp(`cannot reach registry ${closed}: .*ECONNREFUSED`));
  const bad = await runBinary(['bundle', 'install', bundle.file, '--registry', 'https://x.example']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--registry takes no scheme/);
  const missing = await runBinary(['bundle', 'install', bundle.file]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--registry HOST\[:PORT\]\[\/PREFIX\] is required/);
});

/** Runs `fn` with a small tmpfs mounted at a fresh directory (skips the test where mounting is not allowed). */
async function withTmpfs(t: { skip(msg: string): void }, size: string, fn: (mnt: string) => Promise<void>): Promise<void> {
  const mnt = mkdtempSync(join(dir, 'tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { stdio: 'ignore' });
  } catch {
    t.skip('cannot mount a small tmpfs here (needs root)');
    return;
  }
  try {
    await fn(mnt);
  } finally {
    execFileSync('umount', [mnt]);
  }
}

test('not enough disk for the charts directory: a clear stop before anything is pushed', async (t) => {
  await withTmpfs(t, '64k', async (mnt) => {
    const reg = await secureRegistry();
    const r = await runBinary(['bundle', 'install', bundle.file, '--registry', reg.host, '--ca-file', reg.caFile!, '--charts-dir', join(mnt, 'charts')], { env: env(reg) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not enough disk space for the charts directory .*needed, .* free\. Nothing was pushed or written/);
    assert.deepEqual(await catalog(reg), []);
    assert.equal(existsSync(join(mnt, 'charts')), false);
  });
});

test('credentials by reference from the site file (passwordEnv), and a bearer-token registry still mounts', async () => {
  const reg = await secureRegistry();
  const site = join(dir, 'site.yaml');
  writeFileSync(site, `apiVersion: astrago.io/v1\nkind: Site\nmetadata: {name: lab}\nregistry:\n  url: https://${reg.host}\n  caFile: ${reg.caFile}\n  username: ${reg.username}\n  passwordEnv: LAB_REGISTRY_PW\n`);
  // No docker config at all: the password comes only from the variable the site file names.
  const r = await runBinary(['bundle', 'install', bundle.file, '--registry', `${reg.host}/viasite`, '--site', site, '--charts-dir', join(dir, 'charts-site')], {
    env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: join(dir, 'no-docker-config'), LAB_REGISTRY_PW: reg.password },
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(!(r.stdout + r.stderr).includes(reg.password!), 'the password is never printed');
  assert.equal(rawDigest(reg, 'viasite/docker.io/library/app:1.0'), appDigest);
  const wrong = await runBinary(['bundle', 'install', bundle.file, '--registry', '127.0.0.2:5000', '--site', site], { env: { PATH: process.env.PATH, HOME: dir } });
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /site\.yaml: field 'registry\.url': names the registry 127\.0\.0\.1:\d+, but --registry names 127\.0\.0\.2:5000: give --registry 127\.0\.0\.1:\d+\[\/PREFIX\], or correct registry\.url/);
  // The variable the site file names is not set: the site file's field, exit 2, before the registry is contacted.
  const unset = await runBinary(['bundle', 'install', bundle.file, '--registry', `${reg.host}/viasite`, '--site', site, '--charts-dir', join(dir, 'charts-unset')], { env: { PATH: process.env.PATH, HOME: dir } });
  assert.equal(unset.code, 2, unset.stdout + unset.stderr);
  assert.match(unset.stderr, /site\.yaml: field 'registry\.passwordEnv': environment variable LAB_REGISTRY_PW is not set/);
  assert.doesNotMatch(unset.stderr, /cannot reach|bundle spec/);
  assert.equal(unset.stdout, '');

  // Bearer tokens: a mount needs pull on the source repository in the same token.
  const tok = await startRegistry({ auth: 'token' });
  servers.push(tok);
  const t = await runBinary(['bundle', 'install', bundle.file, '--registry', `${tok.host}/tok`, '--charts-dir', join(dir, 'charts-tok')], { env: env(tok) });
  assert.equal(t.code, 0, t.stdout + t.stderr);
  assert.match(t.stdout, /blobs\s+\d+ pushed .*, [1-9]\d* mounted/);
  assert.ok(tok.tokenRequests() > 0);
});

test('a disk that fills up while the charts directory is written: clear stop, no partial file', async (t) => {
  await withTmpfs(t, '256k', async (mnt) => {
    // Two charts: the first fits, the second (incompressible, 200 KiB) does not.
    const tar = join(dir, 'charts-only.tar');
    writeFileSync(tar, rawTar([{ path: 'charts/a-1.tgz', data: randomBytes(100_000) }, { path: 'charts/b-1.tgz', data: randomBytes(200_000) }]));
    const { entries } = await walkTar(tar);
    await assert.rejects(writeInstallOutputs(tar, { chartsDir: join(mnt, 'out'), charts: entries, texts: [{ path: 'registry-values.yaml', content: 'global: {}\n' }] }), /disk full while writing the charts directory .*no file there was changed, no partial file is left/);
    assert.deepEqual(readdirSync(join(mnt, 'out')), [], 'all or nothing: no temp file, nothing under a final name');
  });
});
