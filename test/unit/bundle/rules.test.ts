// Pure parts of bundle create: platform selection, Helm index lookup, chart values images, index.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { platformMatches, selectPlatforms } from '../../../src/bundle/create/platforms.ts';
import { pickFromIndex } from '../../../src/bundle/charts/helm-repo.ts';
import { imagesInChartValues } from '../../../src/bundle/charts/values-walk.ts';
import { helmIndexYaml } from '../../../src/bundle/charts/index-yaml.ts';
import { ociChartReference } from '../../../src/bundle/charts/oci-chart.ts';

test('platform matching: variants, attestations, all', () => {
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm64', variant: 'v8' }, 'linux/arm64'));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, 'linux/arm/v7'));
  assert.ok(!platformMatches({ os: 'unknown', architecture: 'unknown' }, 'linux/amd64'));
  const entries = [{ platform: { os: 'linux', architecture: 'amd64' } }, { platform: { os: 'linux', architecture: 'arm64' } }, { platform: { os: 'unknown', architecture: 'unknown' } }];
  assert.equal(selectPlatforms(entries, ['linux/amd64']).length, 1);
  assert.equal(selectPlatforms(entries, ['linux/amd64', 'linux/arm64']).length, 2);
  assert.equal(selectPlatforms(entries, ['all']).length, 3);
  assert.equal(selectPlatforms(entries, ['linux/s390x']).length, 0);
});

test('Helm index: version lookup, relative and absolute URLs, digest', () => {
  const idx = `apiVersion: v1\nentries:\n  harbor:\n    - version: 1.13.1\n      urls: [harbor-1.13.1.tgz]\n      digest: ${'a'.repeat(64)}\n    - version: 1.12.0\n      urls: [https://cdn.example/h-1.12.0.tgz]\n`;
  const e = pickFromIndex(idx, 'https://helm.goharbor.io', 'harbor', '1.13.1');
  assert.equal(e.url, 'https://helm.goharbor.io/harbor-1.13.1.tgz');
  assert.equal(e.digest, `sha256:${'a'.repeat(64)}`);
  const old = pickFromIndex(idx, 'https://helm.goharbor.io/sub', 'harbor', 'v1.12.0');
  assert.equal(old.url, 'https://cdn.example/h-1.12.0.tgz');
  assert.equal(old.digest, undefined);
  assert.equal(pickFromIndex(idx.replace('harbor-1.13.1.tgz', 'charts/harbor-1.13.1.tgz'), 'http://r:8080/repo', 'harbor', '1.13.1').url, 'http://r:8080/repo/charts/harbor-1.13.1.tgz');
  assert.throws(() => pickFromIndex(idx, 'u', 'harbor', '9.9.9'), /version not found.*newest: 1\.13\.1, 1\.12\.0/);
  assert.throws(() => pickFromIndex(idx, 'u', 'nope', '1'), /no chart named 'nope'/);
});

test('oci:// chart references name their registry and turn + into _', () => {
  assert.deepEqual(ociChartReference('oci://ghcr.io/kubeflow/charts/mpi-operator', '0.4.0'), { registry: 'ghcr.io', repository: 'kubeflow/charts/mpi-operator', tag: '0.4.0' });
  assert.deepEqual(ociChartReference('oci://127.0.0.1:5000/charts/x/', '1.0.0+build.1'), { registry: '127.0.0.1:5000', repository: 'charts/x', tag: '1.0.0_build.1' });
  assert.throws(() => ociChartReference('oci://nohost', '1'), /oci:\/\/REGISTRY\/PATH/);
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

test('charts/index.yaml is a Helm index, deterministic', () => {
  const charts = [
    { metadata: { apiVersion: 'v2', name: 'b', version: '1.0.0' }, fileName: 'b-1.0.0.tgz', digest: `sha256:${'b'.repeat(64)}` },
    { metadata: { apiVersion: 'v2', name: 'a', version: '2.0.0', appVersion: '9' }, fileName: 'a-2.0.0.tgz', digest: `sha256:${'a'.repeat(64)}` },
  ];
  const text = helmIndexYaml(charts, '1970-01-01T00:00:00Z');
  assert.equal(text, helmIndexYaml([...charts].reverse(), '1970-01-01T00:00:00Z'));
  const doc = parse(text);
  assert.equal(doc.apiVersion, 'v1');
  assert.deepEqual(Object.keys(doc.entries), ['a', 'b']);
  assert.deepEqual(doc.entries.a[0].urls, ['a-2.0.0.tgz']);
  assert.equal(doc.entries.a[0].digest, 'a'.repeat(64));
  assert.equal(doc.entries.a[0].created, '1970-01-01T00:00:00Z');
});
