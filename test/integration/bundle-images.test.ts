// bundle images against the real renderer: helm v4 (from the npm devDependency) renders a chart
// written here with the shapes real charts use; helm's own output is the oracle. The values walk
// (no helm) runs on the same chart, its guesses marked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageChart } from '../../src/bundle/charts/package.ts';
import { helmBinary } from '../support/helm.ts';
import { makeChartDir, startStaticServer, writeHelmIndex } from '../support/helm-repo.ts';
import { PLATFORM_RENDERED, PROXY_DIGEST, writePlatformChart } from '../support/image-charts.ts';
import { startRegistry } from '../support/registry.ts';
import { runBinary } from '../support/run-binary.ts';
import { tempDir } from '../support/temp.ts';

const helm = helmBinary();
const root = tempDir('ac-images-');
const chartDir = await writePlatformChart(root);
const cache = join(root, 'cache');

function spec(name: string, extra: string, chart = `{name: platform, path: ${chartDir}}`): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(file, `apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: ${name}, version: "1"}\n${extra}\ncharts:\n  - ${chart}\n`);
  return file;
}

// No helm on PATH: only --helm / ASTRAGO_HELM name one.
const env = (more: NodeJS.ProcessEnv = {}) => ({ PATH: '/usr/bin:/bin', HOME: root, ...more });
const images = (args: string[], more: NodeJS.ProcessEnv = {}) => runBinary(['bundle', 'images', '--cache-dir', cache, ...args], { env: env(more) });

interface Doc {
  kind: string;
  images: Array<{ ref: string; optional: boolean; guessed: boolean; sources: Array<Record<string, unknown>>; values?: Array<Record<string, string>> }>;
  warnings: string[];
}

/** Every `image:` value and image-like argument helm rendered (the oracle, independent of our parser). */
function helmRendered(setArgs: string[] = []): string {
  return execFileSync(helm, ['template', 'platform', chartDir, ...setArgs], { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: join(root, 'h'), HELM_CONFIG_HOME: join(root, 'h'), HELM_DATA_HOME: join(root, 'h') } });
}

test('bundle images renders with helm: every workload kind, digests, args and env, subchart tags, CR maps', async () => {
  const file = spec('plain', 'nodeOS: [ubuntu22.04, rhel9.4]');
  const r = await images(['--spec', file, '--helm', helm]);
  assert.equal(r.code, 0, r.stderr);
  const refs = r.stdout.trim().split('\n');
  const expected = [...PLATFORM_RENDERED, 'nvcr.io/nvidia/driver:570.148.08-rhel9.4', 'nvcr.io/nvidia/driver:570.148.08-ubuntu22.04'].sort();
  assert.deepEqual(refs, expected);
  // The oracle: helm's own output names each of them (tags as helm wrote them, v-prefix included).
  const out = helmRendered();
  for (const ref of PLATFORM_RENDERED) {
    const short = ref.replace(/^docker\.io\//, '').replace(/^library\//, '');
    assert.ok(out.includes(ref) || out.includes(short) || out.includes(ref.replace('docker.io/', '')), `helm rendered ${ref}`);
  }
  assert.ok(out.includes('quay.io/acme/worker:v2.0.0') && out.includes('quay.io/acme/metrics:v0.8.0'));
  assert.ok(!out.includes('quay.io/acme/toolkit'), 'toolkit is disabled in the render');
  assert.doesNotMatch(r.stderr, /warning/, 'with helm and nodeOS set: no warnings');
});

test('bundle images --format json: sources name template, field, subchart and values path; values paths per image', async () => {
  const r = await images(['--spec', spec('json', 'nodeOS: [ubuntu22.04]'), '--helm', helm, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as Doc;
  assert.equal(doc.kind, 'BundleImages');
  const by = Object.fromEntries(doc.images.map((i) => [i.ref, i]));
  const metrics = by['quay.io/acme/metrics:v0.8.0']!;
  assert.deepEqual(metrics.sources[0], { type: 'chart', chart: 'platform', version: '1.2.0', subchart: 'metrics', template: 'templates/deploy.yaml', resource: 'Deployment/platform-metrics', field: 'spec.template.spec.containers[0].image', valuesPath: 'metrics.image' });
  assert.deepEqual(metrics.values, [{ chart: 'platform', repository: 'metrics.image.repository', registry: 'metrics.image.registry', tag: 'metrics.image.tag', globalRegistry: 'global.imageRegistry' }]);
  const core = by['docker.io/acme/core:2.0.0']!;
  assert.equal(core.sources.length, 2, 'init container and container');
  assert.equal(core.sources[0]!.annotation, true, 'the artifacthub.io/images annotation names it');
  assert.equal(by['quay.io/acme/reloader:0.9.1']!.sources[0]!.field, 'spec.template.spec.containers[0].args[1]');
  assert.equal(by['quay.io/acme/sidecar:2.2']!.sources[0]!.field, 'spec.template.spec.containers[0].env[0].value');
  assert.equal(by['docker.io/acme/janitor:5']!.sources[0]!.resource, 'CronJob/platform-janitor');
  assert.equal(by[`docker.io/library/nginx:1.25.3@${PROXY_DIGEST}`]!.sources[0]!.resource, 'DaemonSet/platform-proxy');
  const driver = by['nvcr.io/nvidia/driver:570.148.08-ubuntu22.04']!;
  assert.equal(driver.sources[0]!.resource, 'ClusterPolicy/cluster-policy');
  assert.equal(driver.sources[0]!.nodeOS, 'ubuntu22.04');
  assert.deepEqual(driver.values, [{ chart: 'platform', repository: 'driver.repository', image: 'driver.image', tag: 'driver.version' }]);
  assert.ok(doc.images.every((i) => !i.optional && !i.guessed));
});

test('bundle images: values files and set switch subcharts (condition, alias, tags) and global.imageRegistry, as helm does', async () => {
  const vf = join(root, 'site-values.yaml');
  writeFileSync(vf, 'redis:\n  enabled: true\ntags:\n  extras: true\nmetrics:\n  enabled: false\n');
  const chart = `{name: platform, path: ${chartDir}, values: [${vf}], set: {"global.imageRegistry": "mirror.acme.local:5000", "toolkit.enabled": true}}`;
  const r = await images(['--spec', spec('vals', 'nodeOS: [ubuntu22.04]', chart), '--helm', helm, '--format', 'yaml']);
  assert.equal(r.code, 0, r.stderr);
  const doc = parse(r.stdout) as Doc;
  const refs = doc.images.map((i) => i.ref);
  assert.ok(refs.includes('mirror.acme.local:5000/acme/core:2.0.0'), 'global.imageRegistry wins over image.registry');
  assert.ok(refs.includes('docker.io/bitnami/redis:7.2.5'), 'the aliased subchart, with the tag its parent sets');
  assert.ok(refs.includes('quay.io/acme/extras:0.1.0'), 'enabled by its tag');
  assert.ok(refs.includes('quay.io/acme/toolkit:1.0'));
  assert.ok(!refs.some((x) => x.includes('acme/metrics')), 'metrics disabled by its condition');
  const redis = doc.images.find((i) => i.ref === 'docker.io/bitnami/redis:7.2.5')!;
  assert.equal(redis.sources[0]!.subchart, 'redis', 'helm names the subchart by its alias');
  // the oracle agrees
  const out = helmRendered(['-f', vf, '--set', 'global.imageRegistry=mirror.acme.local:5000', '--set', 'toolkit.enabled=true']);
  for (const ref of ['mirror.acme.local:5000/acme/core:2.0.0', 'docker.io/bitnami/redis:7.2.5', 'quay.io/acme/extras:0.1.0', 'quay.io/acme/toolkit:1.0']) assert.ok(out.includes(ref), `helm rendered ${ref}`);
  assert.ok(!out.includes('acme/metrics'));
});

test('bundle images --all lists what the values disable as optional; --include-tests adds test hooks; --why explains', async () => {
  const file = spec('all', 'nodeOS: [ubuntu22.04]');
  const all = await images(['--spec', file, '--helm', helm, '--all']);
  assert.equal(all.code, 0, all.stderr);
  for (const ref of ['docker.io/bitnami/redis:7.2.5', 'quay.io/acme/extras:0.1.0', 'quay.io/acme/toolkit:1.0', 'docker.io/acme/cli:3.1.0', 'nvcr.io/nvidia/cloud-native/dcgm:4.2.3-1-ubuntu22.04']) assert.match(all.stdout, new RegExp(`^${ref.replace(/[.]/g, '\\.')}  # optional$`, 'm'));
  assert.doesNotMatch(all.stdout, /busybox/, 'test hooks stay out');
  const tests = await images(['--spec', file, '--helm', helm, '--include-tests']);
  assert.match(tests.stdout, /^docker\.io\/library\/busybox:1\.36$/m);
  const why = await images(['--spec', file, '--helm', helm, '--why', 'quay.io/acme/worker:v2.0.0']);
  assert.equal(why.code, 0, why.stderr);
  assert.match(why.stdout, /chart platform 1\.2\.0: templates\/worker\.yaml: StatefulSet\/platform-worker spec\.template\.spec\.containers\[0\]\.image: values worker\.image/);
  const not = await images(['--spec', file, '--helm', helm, '--why', 'quay.io/acme/worker:2.0.0']);
  assert.equal(not.code, 1);
  assert.match(not.stderr, /not in this bundle \(it carries quay\.io\/acme\/worker:v2\.0\.0\)/);
});

test('bundle images without helm walks the values: same images, guesses marked, one warning', async () => {
  const r = await images(['--spec', spec('walk', 'nodeOS: [ubuntu22.04]'), '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as Doc;
  const by = Object.fromEntries(doc.images.map((i) => [i.ref, i]));
  assert.equal(by['quay.io/acme/worker:2.0.0']?.guessed, true, 'appVersion without the v the template adds: a marked guess');
  assert.equal(by['quay.io/acme/metrics:v0.8.0']?.guessed, true);
  assert.equal(by['docker.io/acme/core:2.0.0']?.guessed, false, 'the annotation gives the tag');
  for (const ref of ['docker.io/acme/janitor:5', `docker.io/library/nginx:1.25.3@${PROXY_DIGEST}`, 'quay.io/acme/operator:1.4.0', 'quay.io/acme/reloader:0.9.1']) assert.equal(by[ref]?.guessed, false, ref);
  assert.ok(!doc.images.some((i) => /toolkit|redis|extras|busybox/.test(i.ref)), 'disabled components and tests left out');
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0]!, /no helm.*2 tag\(s\) guessed.*helm gives the exact list/);
  assert.deepEqual(doc.warnings, [warnings[0]!.replace(/^warning: /, '')]);
});

test('bundle images: an unrendered run-time tag without nodeOS is a warning, not a silent image', async () => {
  const r = await images(['--spec', spec('noos', ''), '--helm', helm]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /driver/);
  assert.match(r.stderr, /warning: chart platform 1\.2\.0: nvcr\.io\/nvidia\/driver:570\.148\.08 .*GPU Operator appends the node's OS.*set nodeOS/);
});

test('bundle images: bad input — helm render error (exit 1), missing values file and bad set path (exit 2), kubeVersion', async () => {
  const broken = join(root, 'broken');
  execFileSync('cp', ['-r', chartDir, broken]);
  writeFileSync(join(broken, 'templates', 'bad.yaml'), 'x: {{ .Values.x\n');
  const r1 = await images(['--spec', spec('broken', '', `{name: platform, path: ${broken}}`), '--helm', helm]);
  assert.equal(r1.code, 1);
  assert.match(r1.stderr, /chart platform: helm template failed: parse error at \(platform\/templates\/bad\.yaml:2\): unclosed action/);

  const r2 = await images(['--spec', spec('novals', '', `{name: platform, path: ${chartDir}, values: [nope.yaml]}`), '--helm', helm]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /novals\.yaml:6: field 'charts\[0\]\.values\[0\]': values file .*nope\.yaml: file not found/);

  const r3 = await images(['--spec', spec('badset', '', `{name: platform, path: ${chartDir}, set: {"operator.image.tag": "2"}}`), '--helm', helm]);
  assert.equal(r3.code, 2, r3.stderr);
  assert.match(r3.stderr, /badset\.yaml:6: field 'charts\[0\]\.set\.operator\.image\.tag': .*'operator\.image' is a string/);

  const r4 = await images(['--spec', spec('badpath', '', `{name: platform, path: ${chartDir}, set: {"a..b": 1}}`)]);
  assert.equal(r4.code, 2);
  assert.match(r4.stderr, /badpath\.yaml:6: field 'charts\[0\]\.set\.a\.\.b': a values path/);

  const versioned = join(root, 'versioned');
  execFileSync('cp', ['-r', chartDir, versioned]);
  writeFileSync(join(versioned, 'Chart.yaml'), execFileSync('cat', [join(chartDir, 'Chart.yaml')], { encoding: 'utf8' }) + 'kubeVersion: ">=1.30.0"\n');
  const old = await images(['--spec', spec('k8sold', 'kubeVersion: "1.29.8"', `{name: platform, path: ${versioned}}`), '--helm', helm]);
  assert.equal(old.code, 1);
  assert.match(old.stderr, /helm template failed: .*kubeVersion.*1\.29\.8/i);
  const ok = await images(['--spec', spec('k8snew', 'kubeVersion: "1.31.2"\nnodeOS: [ubuntu22.04]', `{name: platform, path: ${versioned}}`), '--helm', helm]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('bundle images: charts from one Helm repository read its index once, for all of them', async () => {
  const repo = join(root, 'repo');
  execFileSync('mkdir', ['-p', repo]);
  const pkg = await packageChart(chartDir);
  writeFileSync(join(repo, pkg.fileName), pkg.data);
  const other = await packageChart(makeChartDir(join(root, 'other-src'), { name: 'other', version: '0.2.0', extraFiles: { 'templates/d.yaml': 'apiVersion: v1\nkind: Pod\nmetadata: {name: o}\nspec:\n  containers: [{name: o, image: "ghcr.io/acme/other:0.2.0"}]\n' } }));
  writeFileSync(join(repo, other.fileName), other.data);
  writeHelmIndex(repo, [
    { name: 'platform', version: '1.2.0', fileName: pkg.fileName },
    { name: 'other', version: '0.2.0', fileName: other.fileName },
  ]);
  const srv = await startStaticServer(root);
  try {
    const file = join(root, 'repo-spec.yaml');
    writeFileSync(file, `apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: r, version: "1"}\nnodeOS: [ubuntu22.04]\ncharts:\n  - {name: platform, repo: ${srv.url}/repo, version: 1.2.0}\n  - {name: other, repo: "${srv.url}/repo/", version: 0.2.0}\n`);
    const r = await images(['--spec', file, '--helm', helm]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ghcr\.io\/acme\/other:0\.2\.0$/m);
    assert.match(r.stdout, /^quay\.io\/acme\/worker:v2\.0\.0$/m);
    assert.equal(srv.requests.filter((q) => q.path === '/repo/index.yaml').length, 1, 'one index read for both charts');
  } finally {
    await srv.stop();
  }
});

test('bundle images: an oci:// chart that helm push stored in a registry', async () => {
  const reg = await startRegistry();
  try {
    const pkg = await packageChart(chartDir);
    const tgz = join(root, `oci-${pkg.fileName}`);
    writeFileSync(tgz, pkg.data);
    execFileSync(helm, ['push', tgz, `oci://${reg.host}/charts`, '--plain-http'], { env: { ...process.env, HELM_CACHE_HOME: join(root, 'ho'), HELM_CONFIG_HOME: join(root, 'ho'), HELM_DATA_HOME: join(root, 'ho') }, stdio: 'pipe' });
    const r = await images(['--spec', spec('oci', 'nodeOS: [ubuntu22.04]', `{name: platform, oci: "oci://${reg.host}/charts/platform", version: 1.2.0}`), '--helm', helm]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^quay\.io\/acme\/worker:v2\.0\.0$/m);
    assert.match(r.stdout, /^quay\.io\/acme\/metrics:v0\.8\.0$/m, 'the subchart inside the pushed archive');
    assert.doesNotMatch(r.stdout, /bitnami\/redis/);
  } finally {
    await reg.stop();
  }
});
