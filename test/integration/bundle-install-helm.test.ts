// bundle install with the real helm (v4, npm devDependency): the pushed OCI chart pulls back
// with the same bytes, the charts directory served over loopback HTTP is a Helm repository,
// and `helm template -f values/<chart>.yaml` of a chart that names its images in every common
// shape renders its images from the site registry; the install's own render check (helm via
// $ASTRAGO_HELM) names the images the templates hard-code.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageChart } from '../../src/bundle/charts/package.ts';
import { imagesInManifests } from '../../src/bundle/charts/image-refs.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLayout, singlePlatformImage } from '../support/images.ts';
import { buildBundle, type BuiltBundle } from '../support/bundle-fixture.ts';
import { startStaticServer, type StaticServer } from '../support/helm-repo.ts';
import { helmBinary } from '../support/helm.ts';
import { writePlatformChart } from '../support/image-charts.ts';
import { runBinary } from '../support/run-binary.ts';

const execFileP = promisify(execFile);
let dir: string;
let helm: string;
let site: TestRegistry;
let bundle: BuiltBundle;
let tgz: Buffer;
let chartsDir: string;
let installOut: string;
let served: StaticServer | undefined;

/** What the bundle carries: the images the platform chart's values name (not toolkit, redis, extras, busybox). */
const IMAGES = ['docker.io/acme/core:2.0.0', 'quay.io/acme/worker:v2.0.0', 'quay.io/acme/operator:1.4.0', 'quay.io/acme/reloader:0.9.1', 'docker.io/library/nginx:1.25.3', 'docker.io/acme/janitor:5', 'nvcr.io/nvidia/driver:570.148.08', 'quay.io/acme/metrics:v0.8.0'];

async function helmRun(args: string[]): Promise<string> {
  const home = join(dir, 'helm-home');
  const env = { PATH: process.env.PATH, HOME: dir, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
  return (await execFileP(helm, args, { env, encoding: 'utf8', timeout: 60_000 })).stdout;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-install-helm-'));
  helm = helmBinary();
  const lay = createLayout(join(dir, 'layout'));
  await singlePlatformImage(lay, 'img', { layerSizes: [10_000] });
  tgz = (await packageChart(await writePlatformChart(join(dir, 'src')))).data;
  bundle = await buildBundle({ out: join(dir, 'b.tar'), layout: lay.dir, images: IMAGES.map((ref) => ({ ref, name: 'img' })), charts: [{ name: 'platform', version: '1.2.0', tgz, chartYaml: '' }] });
  site = await startRegistry();
  chartsDir = join(dir, 'charts');
  const r = await runBinary(['bundle', 'install', bundle.file, '--registry', `${site.host}/astrago`, '--charts-dir', chartsDir], { env: { PATH: process.env.PATH, HOME: dir, ASTRAGO_HELM: helm } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  installOut = r.stdout;
});

after(async () => {
  await served?.stop();
  await site?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('helm pulls the pushed OCI chart with the same bytes', async () => {
  const out = mkdtempSync(join(dir, 'pull-oci-'));
  await helmRun(['pull', `oci://${site.host}/astrago/charts/platform`, '--version', '1.2.0', '--plain-http', '-d', out]);
  assert.ok(readFileSync(join(out, 'platform-1.2.0.tgz')).equals(tgz));
});

test('the charts directory served over HTTP is a Helm repository (helm repo add, pull: same bytes)', async () => {
  served = await startStaticServer(chartsDir);
  await helmRun(['repo', 'add', 'site', served.url]);
  assert.match(await helmRun(['search', 'repo', 'site/platform', '--version', '1.2.0']), /site\/platform\s+1\.2\.0/);
  const out = mkdtempSync(join(dir, 'pull-repo-'));
  await helmRun(['pull', 'site/platform', '--version', '1.2.0', '-d', out]);
  assert.ok(readFileSync(join(out, 'platform-1.2.0.tgz')).equals(tgz));
});

test('helm template -f values/platform.yaml renders every image its values name from the site registry', async () => {
  const chart = join(chartsDir, 'platform-1.2.0.tgz');
  const offSite = (text: string) => [...new Set(imagesInManifests(text, 'platform').filter((i) => !i.test && !i.ref.startsWith(`${site.host}/astrago/`)).map((i) => i.ref))].sort();
  // Control: without the file every image comes from its source registry.
  const control = offSite(await helmRun(['template', 'platform', chart]));
  assert.ok(control.includes('docker.io/acme/core:2.0.0') && control.includes('nvcr.io/nvidia/driver:570.148.08') && control.length >= 9, control.join(', '));
  const rendered = await helmRun(['template', 'platform', chart, '-f', join(chartsDir, 'values', 'platform.yaml')]);
  // What the templates write themselves stays: an env value, a ClusterPolicy component.
  assert.deepEqual(offSite(rendered), ['nvcr.io/nvidia/cloud-native/dcgm:4.2.3-1-ubuntu22.04', 'quay.io/acme/sidecar:2.2']);
  const atSite = new Set(imagesInManifests(rendered, 'platform').map((i) => i.ref));
  for (const ref of [
    `${site.host}/astrago/docker.io/acme/core:2.0.0`,
    `${site.host}/astrago/quay.io/acme/worker:v2.0.0`,
    `${site.host}/astrago/quay.io/acme/operator:1.4.0`,
    `${site.host}/astrago/quay.io/acme/reloader:0.9.1`,
    `${site.host}/astrago/docker.io/acme/janitor:5`,
    `${site.host}/astrago/nvcr.io/nvidia/driver:570.148.08`,
    `${site.host}/astrago/quay.io/acme/metrics:v0.8.0`,
  ]) assert.ok(atSite.has(ref), `${ref} rendered (got ${[...atSite].join(', ')})`);
  assert.ok([...atSite].some((r) => r.startsWith(`${site.host}/astrago/docker.io/library/nginx:1.25.3@sha256:`)), 'the digest pin kept');
  // The install rendered it too, and said what it found.
  assert.ok(installOut.includes(`values/platform.yaml: helm template still renders 2 images from outside ${site.host}`), installOut);
  assert.ok(installOut.includes('quay.io/acme/sidecar:2.2 (Deployment/platform-operator '), installOut);
  assert.match(installOut, /chart values values\/platform\.yaml \(\d+ images set, 4 not in the bundle: /);
  assert.match(installOut, /^ {2}per chart {2}values\/platform\.yaml \(helm -f/m);
});
