// The values walk (no helm): images with the values paths that set them, across subcharts
// (nested .tgz and directories), conditions, tags, aliases and global.imageRegistry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { loadChartTree } from '../../../../src/bundle/charts/chart-tree.ts';
import { packageChart } from '../../../../src/bundle/charts/package.ts';
import { imagesInChartValues } from '../../../../src/bundle/charts/values-walk.ts';
import { coalesce, parseValuesPath, setPath } from '../../../../src/bundle/charts/values-merge.ts';
import { writePlatformChart } from '../../../support/image-charts.ts';
import { tempDir } from '../../../support/temp.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const tree = await loadChartTree((await packageChart(await writePlatformChart(tempDir('ac-walk-')))).data, 'platform');

test('chart tree: subcharts from a nested archive and from directories, with their dependency rules', () => {
  assert.deepEqual(tree.subcharts.map((s) => s.metadata.name).sort(), ['cache', 'extras', 'metrics']);
  assert.deepEqual(tree.dependencies.map((d) => [d.name, d.alias, d.condition, d.tags]), [
    ['metrics', undefined, 'metrics.enabled', undefined],
    ['cache', 'redis', 'redis.enabled', undefined],
    ['extras', undefined, undefined, ['extras']],
  ]);
  assert.equal(tree.annotatedImages.length, 2);
});

test('walk: each image with the values paths of its parts, from the top chart', () => {
  const by = Object.fromEntries(imagesInChartValues(tree).map((i) => [i.ref, i]));
  assert.deepEqual(by['quay.io/acme/metrics:v0.8.0']!.paths, { repository: 'metrics.image.repository', registry: 'metrics.image.registry', tag: 'metrics.image.tag', globalRegistry: 'global.imageRegistry' });
  assert.equal(by['quay.io/acme/metrics:v0.8.0']!.tagFrom, 'appVersion');
  assert.deepEqual(by['quay.io/acme/operator:1.4.0']!.paths, { ref: 'operator.image' });
  assert.deepEqual(by['nvcr.io/nvidia/driver:570.148.08']!.paths, { repository: 'driver.repository', image: 'driver.image', tag: 'driver.version' });
  assert.equal(by['docker.io/acme/core:2.0.0']!.tagFrom, 'annotation');
  const redis = by['docker.io/bitnami/redis:7.2.5']!;
  assert.equal(redis.chart, 'platform/redis', 'alias names the subchart; the parent sets its tag');
  assert.equal(redis.enabled, false, 'condition redis.enabled is false');
  assert.deepEqual(redis.paths, { repository: 'redis.image.repository', registry: 'redis.image.registry', tag: 'redis.image.tag', globalRegistry: 'global.imageRegistry' });
  assert.equal(by['quay.io/acme/extras:0.1.0']!.enabled, false, 'tags.extras is false');
  assert.equal(by['quay.io/acme/toolkit:1.0']!.enabled, false, 'enabled: false beside it');
  assert.equal(by['docker.io/library/busybox:1.36']!.test, true);
});

test('walk: user values coalesce over the chart and subcharts; global.imageRegistry replaces registries', () => {
  const found = imagesInChartValues(tree, { values: { global: { imageRegistry: 'mirror.local:5000' }, redis: { enabled: true }, tags: { extras: true } } });
  const by = Object.fromEntries(found.map((i) => [i.ref, i]));
  assert.ok(by['mirror.local:5000/acme/core:2.0.0']);
  assert.ok(by['mirror.local:5000/acme/metrics:v0.8.0'], 'global passes down to subcharts');
  assert.equal(by['mirror.local:5000/bitnami/redis:7.2.5']!.enabled, true);
  assert.equal(by['quay.io/acme/extras:0.1.0']!.enabled, true);
  assert.ok(by['quay.io/acme/worker:2.0.0'], 'no registry key: global.imageRegistry does not apply');
});

test('values paths: parse, set, coalesce (null deletes), errors', () => {
  assert.deepEqual(parseValuesPath('a.b[0].c'), ['a', 'b', 0, 'c']);
  assert.deepEqual(parseValuesPath('ann.kubernetes\\.io/x'), ['ann', 'kubernetes.io/x']);
  for (const bad of ['a..b', '.a', 'a.', '[0]', 'a[x]', 'a[0]b', '']) assert.throws(() => parseValuesPath(bad), Error, bad);
  const v: Record<string, unknown> = {};
  setPath(v, ['a', 'b', 0, 'c'], 1);
  assert.deepEqual(v, { a: { b: [{ c: 1 }] } });
  assert.throws(() => setPath({ a: 'x' }, ['a', 'b'], 1), /'a' is a string/);
  assert.deepEqual(coalesce({ a: { b: 1, c: 2 }, d: 3 }, { a: { c: null, e: 4 }, d: null }), { a: { b: 1, e: 4 } });
});

test('apiVersion v1 chart: dependencies and conditions from requirements.yaml', async () => {
  const root = tempDir('ac-walk-v1-');
  const dir = join(root, 'stack');
  const files: Record<string, string> = {
    'Chart.yaml': 'apiVersion: v1\nname: stack\nversion: 2.9.10\nappVersion: v2.6.1\n',
    'requirements.yaml': 'dependencies:\n- {name: loki, version: "^2.15.2", condition: loki.enabled}\n- {name: grafana, version: "~6.43.0", condition: grafana.enabled}\n',
    'values.yaml': 'loki: {enabled: true}\ngrafana: {enabled: false}\n',
    'charts/loki/Chart.yaml': 'apiVersion: v2\nname: loki\nversion: 2.16.0\nappVersion: v2.6.1\n',
    'charts/loki/values.yaml': 'image: {repository: grafana/loki, tag: 2.6.1}\n',
    'charts/grafana/Chart.yaml': 'apiVersion: v2\nname: grafana\nversion: 6.43.5\nappVersion: 9.3.1\n',
    'charts/grafana/values.yaml': 'image: {repository: grafana/grafana, tag: ""}\n',
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  const t = await loadChartTree((await packageChart(dir)).data, 'stack');
  assert.deepEqual(t.dependencies.map((d) => d.condition), ['loki.enabled', 'grafana.enabled']);
  const by = Object.fromEntries(imagesInChartValues(t).map((i) => [i.ref, i.enabled]));
  assert.deepEqual(by, { 'docker.io/grafana/loki:2.6.1': true, 'docker.io/grafana/grafana:9.3.1': false });
});

test("Bitnami's `images` annotation serves like artifacthub.io/images: an empty tag is taken from it, not guessed", async () => {
  const dir = join(tempDir('ac-walk-bn-'), 'kc');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: kc\nversion: 18.4.0\nappVersion: 23.0.6\nannotations:\n  images: |\n    - name: keycloak\n      image: docker.io/bitnami/keycloak:23.0.6-debian-11-r0\n');
  writeFileSync(join(dir, 'values.yaml'), 'image: {registry: docker.io, repository: bitnami/keycloak, tag: ""}\n');
  const t = await loadChartTree((await packageChart(dir)).data, 'kc');
  const [hit] = imagesInChartValues(t);
  assert.equal(hit!.ref, 'docker.io/bitnami/keycloak:23.0.6-debian-11-r0');
  assert.equal(hit!.tagFrom, 'annotation');
  assert.equal(hit!.guessed, false);
});

test('images named by chart values, in the usual shapes', () => {
  const values = parse(`
image: {registry: docker.io, repository: bitnami/keycloak, tag: 21.1.2}
core: {image: {repository: goharbor/harbor-core, tag: v2.9.1}}
operator: {repository: nvcr.io/nvidia, image: gpu-operator, version: v25.3.2}
prometheus: {prometheusSpec: {image: {registry: quay.io, repository: prometheus/prometheus, tag: ""}}}
sidecar: {image: "quay.io/kiwigrid/k8s-sidecar:1.22.0"}
grafana: {image: {repository: grafana/grafana, tag: "", sha: "${'c'.repeat(64)}"}}
name: just-a-name
other: {image: busybox}
`);
  const tree = { metadata: { name: 'demo', version: '1.0.0', appVersion: 'v9.9.9' }, values, dependencies: [], subcharts: [], annotatedImages: [] };
  const found = imagesInChartValues(tree);
  assert.deepEqual(Object.fromEntries(found.map((f) => [f.ref, f.guessed])), {
    'docker.io/bitnami/keycloak:21.1.2': false,
    'docker.io/goharbor/harbor-core:v2.9.1': false,
    'nvcr.io/nvidia/gpu-operator:v25.3.2': false,
    'quay.io/prometheus/prometheus:v9.9.9': true,
    'quay.io/kiwigrid/k8s-sidecar:1.22.0': false,
    [`docker.io/grafana/grafana@sha256:${'c'.repeat(64)}`]: false,
  });
  assert.deepEqual(found.find((f) => f.ref.startsWith('quay.io/prometheus'))!.paths, {
    repository: 'prometheus.prometheusSpec.image.repository',
    registry: 'prometheus.prometheusSpec.image.registry',
    tag: 'prometheus.prometheusSpec.image.tag',
    globalRegistry: 'global.imageRegistry',
  });
});
