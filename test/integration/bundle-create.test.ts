// bundle create against real servers on loopback: two distribution registries
// (plain; TLS + htpasswd), images generated here (single- and multi-platform,
// shared layers, Docker and OCI media types), a Helm repository and a file
// host served by this process, an oci:// chart, a local chart. skopeo reads
// the result. Resume is proven by counting blob GETs through a proxy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import { bundleManifestSchema } from '../../src/schema/bundle-manifest.ts';
import { packageChart } from '../../src/bundle/charts/package.ts';
import { createPki, type Pki } from '../support/pki.ts';
import { startCountingProxy, startRegistry, type CountingProxy, type TestRegistry } from '../support/registry.ts';
import { createLayout, multiPlatformImage, pushImage, registryDigest, singlePlatformImage, skopeo, type Layout } from '../support/images.ts';
import { makeChartDir, startStaticServer, writeHelmIndex, type StaticServer } from '../support/helm-repo.ts';
import { ensureBinary, runBinary, type RunResult } from '../support/run-binary.ts';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let work: string;
let pki: Pki;
let plain: TestRegistry;
let secure: TestRegistry;
let token: TestRegistry;
let lay: Layout;
let web: StaticServer;
const digests: Record<string, string> = {};
let fileSha = '';

function specText(extra: { images?: string[]; charts?: string; files?: string; platforms?: string } = {}): string {
  return [
    'apiVersion: astrago.io/v1',
    'kind: BundleSpec',
    'metadata: {name: demo, version: 0.0.1}',
    `platforms: ${extra.platforms ?? '[linux/amd64]'}`,
    'charts:',
    extra.charts ??
      [
        `  - {name: web, repo: ${web.url}/repo, version: 0.1.0}`,
        `  - {name: ocichart, oci: oci://${plain.host}/charts/ocichart, version: 1.0.0}`,
        '  - {name: localc, path: ../charts/localc}',
      ].join('\n'),
    'images:',
    ...(extra.images ?? [`${plain.host}/team/app:1.0`]).map((i) => `  - ${i}`),
    ...(extra.images ? [] : ['imageLists: [../imagelists/main.txt]']),
    'files:',
    extra.files ?? `  - {name: tool, url: ${web.url}/files/tool.bin, sha256: ${fileSha}, mode: 493}`,
    'registries:',
    `  - {host: "${secure.host}", caFile: ${pki.caCert}, username: ${secure.username}, passwordEnv: SECURE_PW}`,
    '',
  ].join('\n');
}

function writeSpec(name: string, text: string): string {
  const file = join(work, 'bundle-spec', name);
  writeFileSync(file, text);
  return file;
}

function env(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: work, SECURE_PW: secure.password };
}

async function create(spec: string, out: string, cache: string, more: string[] = []): Promise<RunResult> {
  return await runBinary(['bundle', 'create', '--spec', spec, '--output', out, '--cache-dir', cache, ...more], { env: env(), timeoutMs: 120_000 });
}

function tarList(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
}

function extract(file: string): string {
  const dir = mkdtempSync(join(work, 'x-'));
  execFileSync('tar', ['-xf', file, '-C', dir]);
  return dir;
}

before(async () => {
  ensureBinary();
  work = mkdtempSync(join(tmpdir(), 'ac-bc-'));
  for (const d of ['bundle-spec', 'imagelists', 'charts', 'repo', 'files']) mkdirSync(join(work, d));
  pki = createPki();
  [plain, secure, token] = await Promise.all([startRegistry(), startRegistry({ tls: pki, auth: 'htpasswd' }), startRegistry({ auth: 'token' })]);
  // Bearer-token registry: credentials only in ~/.docker/config.json (HOME is the work dir).
  mkdirSync(join(work, '.docker'));
  writeFileSync(join(work, '.docker', 'config.json'), JSON.stringify({ auths: { [token.host]: { auth: Buffer.from(`${token.username}:${token.password}`).toString('base64') } } }));
  lay = createLayout();
  const shared = await lay.addLayer(512 * 1024);
  await singlePlatformImage(lay, 'app', { sharedLayers: [shared], layerSizes: [200 * 1024] });
  const multi = await multiPlatformImage(lay, 'multi', { sharedLayers: [shared], layerSizes: [100 * 1024] });
  digests.multiAmd64 = multi.manifests[0]!.digest;
  await singlePlatformImage(lay, 'armonly', { platform: 'linux/arm64' });
  const tri = await multiPlatformImage(lay, 'tri', { platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'], layerSizes: [32 * 1024] });
  digests.triAmd64 = tri.manifests[0]!.digest;
  digests.triArm64 = tri.manifests[1]!.digest;
  await singlePlatformImage(lay, 'secure', { sharedLayers: [shared] });
  digests.app = await pushImage(lay, 'app', plain, 'team/app:1.0');
  digests.multi = await pushImage(lay, 'multi', plain, 'team/multi:2.0');
  digests.armonly = await pushImage(lay, 'armonly', plain, 'team/armonly:1');
  await pushImage(lay, 'armonly', plain, 'team/armguess:0.1.0'); // found at the guessed tag, but linux/arm64 only
  digests.vtag = await pushImage(lay, 'app', plain, 'team/vtag:v0.1.0'); // the chart's appVersion is 0.1.0
  digests.tri = await pushImage(lay, 'tri', plain, 'team/tri:1');
  digests.token = await pushImage(lay, 'app', token, 'tok/app:1.0');
  // Docker schema 2 media types on the TLS registry.
  digests.secure = await pushImage(lay, 'secure', secure, 'secure/app:1.0', { format: 'v2s2' });

  // An oci:// Helm chart (config + chart layer with Helm's media types).
  const oc = await packageChart(makeChartDir(join(work, 'src'), { name: 'ocichart', version: '1.0.0' }));
  const cfg = lay.addBlob(Buffer.from(JSON.stringify({ apiVersion: 'v2', name: 'ocichart', version: '1.0.0' })), 'application/vnd.cncf.helm.config.v1+json');
  const layer = lay.addBlob(oc.data, 'application/vnd.cncf.helm.chart.content.v1.tar+gzip');
  lay.tag('ocichart', lay.addBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [layer] })), 'application/vnd.oci.image.manifest.v1+json'));
  await pushImage(lay, 'ocichart', plain, 'charts/ocichart:1.0.0');
  digests.ocichart = `sha256:${sha(oc.data)}`;

  // A Helm repository: web (index digest right), bad (index digest wrong).
  const values = { image: { repository: `${plain.host}/team/app`, tag: '1.0' }, sidecar: { image: `${plain.host}/team/tri:1` }, guess: { image: { repository: `${plain.host}/team/nope`, tag: '' } }, vguess: { image: { repository: `${plain.host}/team/vtag`, tag: '' } }, armguess: { image: { repository: `${plain.host}/team/armguess`, tag: '' } } };
  const webPkg = await packageChart(makeChartDir(join(work, 'src'), { name: 'web', version: '0.1.0', values }));
  writeFileSync(join(work, 'repo', webPkg.fileName), webPkg.data);
  const badPkg = await packageChart(makeChartDir(join(work, 'src'), { name: 'bad', version: '1.0.0' }));
  writeFileSync(join(work, 'repo', badPkg.fileName), badPkg.data);
  writeHelmIndex(join(work, 'repo'), [
    { name: 'web', version: '0.1.0', fileName: webPkg.fileName },
    { name: 'bad', version: '1.0.0', fileName: badPkg.fileName, digest: 'f'.repeat(64) },
  ]);
  const tool = Buffer.from('#!/bin/sh\necho tool\n');
  writeFileSync(join(work, 'files', 'tool.bin'), tool);
  fileSha = sha(tool);
  web = await startStaticServer(work);

  makeChartDir(join(work, 'charts'), { name: 'localc', version: '3.0.0', values: { image: { repository: `${secure.host}/secure/app`, tag: '1.0' } } });
  writeFileSync(join(work, 'imagelists', 'main.txt'), `# images of the demo platform\n${plain.host}/team/multi:2.0\n\n${secure.host}/secure/app:1.0   # TLS + htpasswd\n${token.host}/tok/app:1.0   # bearer token\n`);
});

after(async () => {
  await Promise.allSettled([plain?.stop(), secure?.stop(), token?.stop(), web?.stop()]);
  lay?.cleanup();
  pki?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('bundle create', () => {
  let first: { file: string; sha: string };

  test('writes the bundle: layout, manifest, sums, skopeo-readable images with upstream digests', async () => {
    const spec = writeSpec('demo.yaml', specText());
    const out = join(work, 'out1', 'demo.tar');
    const tokensBefore = token.tokenRequests();
    const r = await create(spec, out, join(work, 'cache1'));
    assert.equal(r.code, 0, r.stderr);
    // No helm on PATH: the charts' values are walked (one warning), and what they name is carried.
    assert.match(r.stderr, /warning: no helm: the images of the charts were found by walking their values/);
    // a tag guessed from appVersion that the registry lacks: a warning, not a failure
    assert.match(r.stderr, /warning: 127\.0\.0\.1:\d+\/team\/nope:0\.1\.0: tag guessed from the chart's appVersion \(no helm\), not found: /);

    // Order: bundle.yaml, SHA256SUMS, charts/, images/, files/.
    const names = tarList(out);
    assert.equal(names[0], 'bundle.yaml');
    assert.equal(names[1], 'SHA256SUMS');
    const section = (n: string) => (n.startsWith('charts/') ? 1 : n.startsWith('images/') ? 2 : n.startsWith('files/') ? 3 : 0);
    assert.deepEqual(names.slice(2).map(section), [...names.slice(2).map(section)].sort());
    assert.ok(names.includes('charts/index.yaml') && names.includes('charts/web-0.1.0.tgz') && names.includes('charts/ocichart-1.0.0.tgz') && names.includes('charts/localc-3.0.0.tgz'));
    assert.ok(names.includes('images/oci-layout') && names.includes('images/index.json') && names.includes('files/tool'));

    // Sidecar and SHA256SUMS check out with the standard tools.
    const sidecar = readFileSync(`${out}.sha256`, 'utf8');
    assert.equal(sidecar, `${sha(readFileSync(out))}  demo.tar\n`);
    execFileSync('sha256sum', ['-c', 'demo.tar.sha256'], { cwd: join(work, 'out1') });
    const x = extract(out);
    execFileSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: x });
    const sums = readFileSync(join(x, 'SHA256SUMS'), 'utf8').trim().split('\n');
    assert.equal(sums.length, names.length - 1, 'every entry but SHA256SUMS itself, bundle.yaml included');
    assert.equal(statSync(join(x, 'files', 'tool')).mode & 0o777, 0o755);

    // bundle.yaml: valid against the manifest schema, with the digests the registries serve.
    const m = bundleManifestSchema.parse(parse(readFileSync(join(x, 'bundle.yaml'), 'utf8')));
    const img = (ref: string) => m.images.find((i) => i.ref === ref)!;
    assert.equal(img(`${plain.host}/team/app:1.0`).digest, digests.app);
    assert.equal(img(`${plain.host}/team/multi:2.0`).digest, digests.multiAmd64, 'linux/amd64 picked out of the index');
    assert.equal(img(`${plain.host}/team/multi:2.0`).sourceDigest, digests.multi);
    assert.deepEqual(img(`${plain.host}/team/multi:2.0`).platforms, ['linux/amd64']);
    assert.equal(img(`${secure.host}/secure/app:1.0`).digest, digests.secure);
    assert.equal(img(`${secure.host}/secure/app:1.0`).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(img(`${token.host}/tok/app:1.0`).digest, digests.token);
    assert.ok(token.tokenRequests() > tokensBefore, 'bundle create got a token from the token service');
    assert.equal(m.charts.find((c) => c.name === 'ocichart')!.digest, digests.ocichart);
    assert.equal(m.files[0]!.digest, `sha256:${fileSha}`);
    assert.equal(m.metadata.createdBy, 'astrago-check 0.1.0');
    assert.equal(m.spec.metadata.name, 'demo');
    assert.match(r.stderr, /warning: 127\.0\.0\.1:\d+\/team\/vtag:0\.1\.0: tag guessed .* not found; carried 127\.0\.0\.1:\d+\/team\/vtag:v0\.1\.0 instead/);
    // a guessed tag the registry has, but single-platform of another platform: a warning, not carried
    assert.match(r.stderr, new RegExp(`warning: 127\\.0\\.0\\.1:\\d+/team/armguess:0\\.1\\.0: tag guessed from the chart's appVersion \\(no helm\\): image \\S+ it is a single-platform linux/arm64 image, the bundle wants linux/amd64; not carried`));
    assert.ok(!m.images.some((i) => i.ref.includes('team/armguess')));
    assert.ok(!m.charts.find((c) => c.name === 'web')!.images.some((i) => i.includes('team/armguess')));
    assert.equal(m.warnings.length, 4);
    assert.equal(img(`${plain.host}/team/vtag:v0.1.0`).sources![0]!.valuesPath, 'vguess.image');
    assert.ok(m.charts.find((c) => c.name === 'web')!.images.includes(`${plain.host}/team/vtag:v0.1.0`));
    assert.ok(!m.images.some((i) => i.ref.includes('team/nope')));
    assert.deepEqual(img(`${plain.host}/team/tri:1`).sources, [{ type: 'chart', chart: 'web', version: '0.1.0', valuesPath: 'sidecar.image' }], 'a chart image the lists lack is carried');
    assert.deepEqual(
      img(`${plain.host}/team/app:1.0`).sources!.map((s) => s.type),
      ['chart', 'spec'],
      'the chart and the spec both name it',
    );
    assert.deepEqual(m.charts.find((c) => c.name === 'web')!.images, [`${plain.host}/team/app:1.0`, `${plain.host}/team/tri:1`, `${plain.host}/team/vtag:v0.1.0`]);

    // Shared blobs once: every blob entry is unique and the count matches bundle.yaml.
    const blobs = names.filter((n) => n.startsWith('images/blobs/sha256/'));
    assert.equal(new Set(blobs).size, blobs.length);
    assert.equal(blobs.length, m.blobs.count);

    // charts/ is a Helm repository.
    const index = parse(readFileSync(join(x, 'charts', 'index.yaml'), 'utf8'));
    assert.equal(index.entries.web[0].urls[0], 'web-0.1.0.tgz');
    assert.equal(index.entries.web[0].digest, sha(readFileSync(join(x, 'charts', 'web-0.1.0.tgz'))));

    // skopeo reads images/ by the full original reference and sees the same digests. (skopeo's
    // OCI-layout reader skips index.json entries with Docker media types, so the Docker-typed
    // image is checked by digest above and by bundle verify, not by skopeo.)
    for (const i of m.images.filter((i) => i.mediaType.startsWith('application/vnd.oci.'))) {
      const info = JSON.parse((await skopeo(['inspect', `oci:${join(x, 'images')}:${i.ref}`])).toString());
      assert.equal(info.Digest, i.digest, i.ref);
    }
    // skopeo copy from the layout into a registry keeps the digest.
    await skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${join(x, 'images')}:${plain.host}/team/app:1.0`, `docker://${plain.host}/copied/app:1.0`]);
    assert.equal(await registryDigest(plain, 'copied/app:1.0'), digests.app);
    const verify = await runBinary(['bundle', 'verify', out], { env: env() });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    first = { file: out, sha: sha(readFileSync(out)) };
  });

  test('reproducible: a fresh cache and a warm cache give the byte-identical tar', async () => {
    assert.ok(first, 'needs the first test');
    const spec = join(work, 'bundle-spec', 'demo.yaml');
    const fresh = await create(spec, join(work, 'out2', 'demo.tar'), join(work, 'cache2'));
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(sha(readFileSync(join(work, 'out2', 'demo.tar'))), first.sha);
    const before = web.requests.length;
    const warm = await create(spec, join(work, 'out3', 'demo.tar'), join(work, 'cache1'));
    assert.equal(warm.code, 0, warm.stderr);
    assert.equal(sha(readFileSync(join(work, 'out3', 'demo.tar'))), first.sha);
    assert.equal(web.requests.slice(before).filter((q) => q.path.endsWith('.tgz') || q.path.endsWith('tool.bin')).length, 0, 'a warm cache downloads no chart or file again');
  });

  test('--platform: all keeps the whole index, two of three make an index of their own; a single-platform image of another platform is an error naming it', async () => {
    const spec = writeSpec('multi.yaml', specText({ images: [`${plain.host}/team/multi:2.0`, `${plain.host}/team/armonly:1`], charts: '  []', files: '  []' }));
    const all = await create(spec, join(work, 'all', 'b.tar'), join(work, 'cache1'), ['--platform', 'all']);
    assert.equal(all.code, 0, all.stderr);
    const m = parse(execFileSync('tar', ['-xOf', join(work, 'all', 'b.tar'), 'bundle.yaml'], { encoding: 'utf8' }));
    const multi = m.images.find((i: { ref: string }) => i.ref.endsWith('team/multi:2.0'));
    assert.equal(multi.digest, digests.multi);
    assert.deepEqual(multi.platforms, ['linux/amd64', 'linux/arm64']);

    // Two platforms out of three: an index of our own with just those two.
    const triSpec = writeSpec('tri.yaml', specText({ images: [`${plain.host}/team/tri:1`], charts: '  []', files: '  []' }));
    const two = await create(triSpec, join(work, 'tri', 'b.tar'), join(work, 'cache1'), ['--platform', 'linux/amd64', '--platform', 'linux/arm64']);
    assert.equal(two.code, 0, two.stderr);
    const tx = extract(join(work, 'tri', 'b.tar'));
    const tm = parse(readFileSync(join(tx, 'bundle.yaml'), 'utf8'));
    assert.deepEqual(tm.platforms, ['linux/amd64', 'linux/arm64']);
    const triImg = tm.images[0];
    assert.equal(triImg.sourceDigest, digests.tri);
    assert.notEqual(triImg.digest, digests.tri);
    assert.deepEqual(triImg.platforms, ['linux/amd64', 'linux/arm64']);
    const raw = JSON.parse((await skopeo(['inspect', '--raw', `oci:${join(tx, 'images')}:${plain.host}/team/tri:1`])).toString());
    assert.deepEqual(raw.manifests.map((d: { digest: string }) => d.digest), [digests.triAmd64, digests.triArm64]);
    const verified = await runBinary(['bundle', 'verify', join(work, 'tri', 'b.tar')], { env: env() });
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);

    const bad = await create(spec, join(work, 'arm', 'b.tar'), join(work, 'cache1'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`image ${plain.host}/team/armonly:1: it is a single-platform linux/arm64 image, the bundle wants linux/amd64`));
    assert.ok(!existsSync(join(work, 'arm', 'b.tar')));
  });

  test('digest mismatches are refused: a file with a wrong sha256, a Helm index digest that does not match; no tar', async () => {
    const spec = writeSpec('bad-digest.yaml', specText({
      images: [`${plain.host}/team/app:1.0`],
      charts: `  - {name: bad, repo: ${web.url}/repo, version: 1.0.0}`,
      files: `  - {name: tool, url: ${web.url}/files/tool.bin, sha256: "${'0'.repeat(64)}"}`,
    }));
    const out = join(work, 'bad', 'b.tar');
    const r = await create(spec, out, join(work, 'cache-bad'));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /bundle not written/);
    assert.match(r.stderr, new RegExp(`file tool \\(${web.url}/files/tool\\.bin\\): content has sha256:${fileSha} .*expected sha256:0{64}; refused`));
    assert.match(r.stderr, /chart bad 1\.0\.0 \(.*digest from index\.yaml\): content has sha256:[0-9a-f]{64} .*expected sha256:f{64}; refused/);
    assert.ok(!existsSync(out) && !existsSync(`${out}.sha256`));
    assert.deepEqual(existsSync(join(work, 'bad')) ? readdirSync(join(work, 'bad')) : [], []);
    // Nothing unverified is left in the cache under a final name.
    const cached = readdirSync(join(work, 'cache-bad', 'blobs', 'sha256'));
    assert.ok(!cached.includes('0'.repeat(64)) && !cached.includes('f'.repeat(64)));
  });

  test('an image that cannot be fetched names itself and the reason', async () => {
    const spec = writeSpec('missing.yaml', specText({ images: [`${plain.host}/team/app:1.0`, `${plain.host}/team/nope:9`], charts: '  []', files: '  []' }));
    const r = await create(spec, join(work, 'miss', 'b.tar'), join(work, 'cache1'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`manifest ${plain.host}/team/nope:9: HTTP 404 (NAME_UNKNOWN|MANIFEST_UNKNOWN)`));
    assert.ok(!existsSync(join(work, 'miss', 'b.tar')));
  });

  test('wrong registry password: exit 1 naming the registry, the password never printed', async () => {
    const spec = writeSpec('pw.yaml', specText({ images: [`${secure.host}/secure/app:1.0`], charts: '  []', files: '  []' }));
    const r = await runBinary(['bundle', 'create', '--spec', spec, '--output', join(work, 'pw', 'b.tar'), '--cache-dir', join(work, 'cache-pw')], { env: { ...env(), SECURE_PW: 'wrong-pass-123' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${secure.host}.*(refused the credentials|HTTP 401)`));
    assert.ok(!r.stderr.includes('wrong-pass-123') && !r.stderr.includes(secure.password!));
  });

  test('bad specs: exit 2 with file, line and field', async () => {
    const spec = writeSpec('broken.yaml', 'apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: x, version: "1"}\nplatforms: [linux/amd64]\nimages:\n  - nginx:1\n  - "bad ref"\ncharts:\n  - {name: c, repo: "https://x"}\n');
    const r = await create(spec, join(work, 'broken', 'b.tar'), join(work, 'cache1'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /broken\.yaml:7: field 'images\[1\]': invalid image reference 'bad ref'/);
    assert.match(r.stderr, /broken\.yaml:9: field 'charts\[0\]\.version': required field is missing/);
    writeFileSync(join(work, 'imagelists', 'typo.txt'), 'alpine:3\nalpine:\n');
    const listSpec = writeSpec('list.yaml', 'apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: x, version: "1"}\nimageLists: [../imagelists/typo.txt, ../imagelists/none.txt]\n');
    const r2 = await create(listSpec, join(work, 'broken', 'b.tar'), join(work, 'cache1'));
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /typo\.txt:2: field 'image': invalid image reference 'alpine:'/);
    assert.match(r2.stderr, /list\.yaml:4: field 'imageLists\[1\]': image list .*none\.txt: file not found/);
  });
});

// One stream per layer (--piece-size 0): a partial is a prefix, resumed with one Range request
// from its end (resuming a ranged download from its extents record: bundle-create-ranges.test.ts).
describe('bundle create resume', () => {
  let proxy: CountingProxy;
  let big: TestRegistry;
  before(async () => {
    big = await startRegistry();
    const l = createLayout(join(work, 'big-layout'));
    await singlePlatformImage(l, 'big', { layerSizes: [6 << 20, 6 << 20, 6 << 20] });
    await pushImage(l, 'big', big, 'team/big:1');
    l.cleanup();
    proxy = await startCountingProxy(big.url, { bytesPerSecond: 3 << 20 });
  });
  after(async () => {
    await proxy?.stop();
    await big?.stop();
  });

  test('killed mid-download, run again: verified blobs are not fetched again, the partial resumes with Range, same tar as a clean run', async () => {
    const spec = writeSpec('big.yaml', specText({ images: [`${proxy.host}/team/big:1`], charts: '  []', files: '  []' }));
    const cache = join(work, 'cache-resume');
    const out = join(work, 'resume', 'big.tar');
    const child = spawn(ensureBinary(), ['bundle', 'create', '--spec', spec, '--output', out, '--cache-dir', cache, '--concurrency', '1', '--piece-size', '0'], { env: env(), stdio: 'ignore' });
    const blobsDir = join(cache, 'blobs', 'sha256');
    // Wait until one layer is verified and the next is part-way, then kill -9.
    const layersDone = () => (existsSync(blobsDir) ? readdirSync(blobsDir).filter((f) => /^[0-9a-f]{64}$/.test(f) && statSync(join(blobsDir, f)).size > 1 << 20) : []);
    const partials = () => (existsSync(blobsDir) ? readdirSync(blobsDir).filter((f) => f.endsWith('.partial') && statSync(join(blobsDir, f)).size > 256 << 10) : []);
    for (let i = 0; i < 400 && !(layersDone().length >= 1 && partials().length >= 1); i++) await sleep(50);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const verified = layersDone();
    const [partial] = partials();
    assert.ok(verified.length >= 1 && partial, `expected a verified layer and a partial one (have ${readdirSync(blobsDir).join(', ')})`);
    const partialSize = statSync(join(blobsDir, partial!)).size;
    assert.ok(!existsSync(out), 'no tar after a kill');
    const leftovers = readdirSync(join(work, 'resume')).filter((f) => f.endsWith('.partial'));

    proxy.requests.length = 0;
    proxy.setBytesPerSecond(undefined);
    const r = await create(spec, out, cache, ['--piece-size', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(join(work, 'resume')).filter((f) => leftovers.includes(f)), [], 'the killed run\'s temp tar is cleaned up');
    for (const hex of verified) assert.equal(proxy.blobGets(`sha256:${hex}`).length, 0, `verified blob ${hex} fetched again`);
    const resumed = proxy.blobGets(`sha256:${partial!.replace('.partial', '')}`);
    assert.equal(resumed.length, 1);
    assert.match(resumed[0]!.range ?? '', new RegExp(`^bytes=${partialSize}-(\\d+)?$`), 'asks for the rest, from where the partial ends');
    assert.equal(resumed[0]!.status, 206);
    assert.match(r.stderr, new RegExp(`1 of them resumed where an interrupted run stopped: [\\d.]+ [KM]iB not downloaded again\\), ${verified.length} from the cache`));

    // A third run with the same cache fetches no blob at all.
    proxy.requests.length = 0;
    const again = await create(spec, join(work, 'resume', 'again.tar'), cache);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(proxy.blobGets().length, 0);

    // And the resumed bundle equals a clean one.
    const clean = await create(spec, join(work, 'resume', 'clean.tar'), join(work, 'cache-clean'));
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(sha(readFileSync(out)), sha(readFileSync(join(work, 'resume', 'clean.tar'))));
    assert.equal(sha(readFileSync(out)), sha(readFileSync(join(work, 'resume', 'again.tar'))));
  });

  test('SIGINT mid-download: exit 130, no tar or temp file left, what arrived stays in the cache; the next run resumes it with Range', async () => {
    proxy.setBytesPerSecond(3 << 20);
    const spec = writeSpec('big-int.yaml', specText({ images: [`${proxy.host}/team/big:1`], charts: '  []', files: '  []' }));
    const cache = join(work, 'cache-int');
    const dir = join(work, 'int');
    mkdirSync(dir, { recursive: true });
    const out = join(dir, 'big.tar');
    const child = spawn(ensureBinary(), ['bundle', 'create', '--spec', spec, '--output', out, '--cache-dir', cache, '--concurrency', '2', '--piece-size', '0'], { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const blobsDir = join(cache, 'blobs', 'sha256');
    const partials = () => (existsSync(blobsDir) ? readdirSync(blobsDir).filter((f) => f.endsWith('.partial') && statSync(join(blobsDir, f)).size > 1 << 20) : []);
    for (let i = 0; i < 400 && partials().length === 0; i++) await sleep(50);
    assert.ok(partials().length > 0, 'a download was under way');
    child.kill('SIGINT');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (c, s) => r([c, s])));
    assert.deepEqual([code, signal], [130, null], stderr);
    assert.match(stderr, /SIGINT: stopping/);
    assert.match(stderr, /bundle not written: stopped by SIGINT; what was downloaded is kept in the cache/);
    assert.deepEqual(readdirSync(dir), [], 'no tar, no temp tar, no sidecar');
    const kept = new Map(readdirSync(blobsDir).filter((f) => f.endsWith('.partial')).map((f) => [f.replace('.partial', ''), statSync(join(blobsDir, f)).size]));
    assert.ok([...kept.values()].some((n) => n > 1 << 20), `partials kept: ${[...kept]}`);

    proxy.requests.length = 0;
    proxy.setBytesPerSecond(undefined);
    const r = await create(spec, out, cache, ['--piece-size', '0']);
    assert.equal(r.code, 0, r.stderr);
    for (const [hex, size] of kept) {
      const gets = proxy.blobGets(`sha256:${hex}`);
      // (a partial that got no byte yet is fetched whole: a plain GET)
      const expected = size > 0 ? [`bytes=${size}-`, 206] : [undefined, 200];
      assert.deepEqual(gets.map((g) => [g.range?.replace(/-\d+$/, '-'), g.status]), [expected], `blob ${hex} resumed after its ${size} bytes`);
    }
    // The resumed bundle is the one a clean run makes.
    const clean = await create(spec, join(dir, 'clean.tar'), join(work, 'cache-int-clean'));
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(sha(readFileSync(out)), sha(readFileSync(join(dir, 'clean.tar'))));
  });

  test('SIGINT while a spec file downloads (before any image blob): the download is aborted, not finished, and resumes next time', async () => {
    const big = randomBytes(6 << 20);
    writeFileSync(join(work, 'files', 'big.bin'), big);
    const slow = await startCountingProxy(web.url, { bytesPerSecond: 1 << 20 });
    try {
      const spec = writeSpec('file-int.yaml', specText({ images: [`${plain.host}/team/app:1.0`], charts: '  []', files: `  - {name: big, url: ${slow.url}/files/big.bin, sha256: ${sha(big)}}` }));
      const cache = join(work, 'cache-file-int');
      const dir = join(work, 'file-int');
      mkdirSync(dir, { recursive: true });
      const child = spawn(ensureBinary(), ['bundle', 'create', '--spec', spec, '--output', join(dir, 'b.tar'), '--cache-dir', cache], { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const partial = join(cache, 'blobs', 'sha256', `${sha(big)}.partial`);
      for (let i = 0; i < 400 && !(existsSync(partial) && statSync(partial).size > 256 << 10); i++) await sleep(25);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      assert.equal(code, 130, stderr);
      assert.match(stderr, /bundle not written: stopped by SIGINT/);
      assert.doesNotMatch(stderr, /could not be fetched/, 'the aborted download is not reported as a failure');
      // Stopped part-way: at 1 MiB/s the 6 MiB file was far from done.
      const kept = statSync(partial).size;
      assert.ok(kept > 0 && kept < big.length, `partial of ${kept} bytes`);
      assert.ok(!existsSync(join(cache, 'blobs', 'sha256', sha(big))));
      assert.deepEqual(readdirSync(dir), []);

      slow.setBytesPerSecond(undefined);
      const r = await create(spec, join(dir, 'b.tar'), cache);
      assert.equal(r.code, 0, r.stderr);
      const gets = slow.requests.filter((q) => q.path === '/files/big.bin');
      assert.equal(gets.at(-1)!.range, `bytes=${kept}-`, 'the next run asks for the rest only');
      assert.ok(readFileSync(join(cache, 'blobs', 'sha256', sha(big))).equals(big));
    } finally {
      await slow.stop();
    }
  });
});
