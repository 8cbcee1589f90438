import { ROOT } from '../../../support/run-binary.ts';
// bundle-spec/astrago.yaml describes the real platform: it must parse at the agreed chart
// versions, its lists must hold only images no chart names (the charts bring theirs, at the
// tags their values pin), and its local charts must package reproducibly and render with the
// real helm, every image their values name found in the render. No network: the upstream
// charts are not fetched here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundleSpec } from '../../../../src/bundle/spec/spec.ts';
import { packageChart } from '../../../../src/bundle/charts/package.ts';
import { discoverSpecImages } from '../../../../src/bundle/charts/spec-images.ts';
import { helmBinary } from '../../../support/helm.ts';
import { tempDir } from '../../../support/temp.ts';

const SPEC = join(ROOT, 'bundle-spec', 'astrago.yaml');

test('astrago.yaml: the platform charts at the agreed versions; the lists leave the charts their images', () => {
  const s = loadBundleSpec(SPEC);
  const charts = Object.fromEntries(s.charts.map((c) => [c.name, c]));
  assert.equal(charts['gpu-operator']!.version, 'v25.3.2');
  assert.equal(charts['kube-prometheus-stack']!.version, '45.7.1');
  assert.equal(charts['loki-stack']!.version, '2.9.10');
  assert.equal(charts.keycloak!.version, '18.4.0');
  assert.equal(charts.harbor!.version, '1.13.1');
  assert.equal(charts['mpi-operator']!.version, '0.4.0');
  for (const local of ['astrago', 'csi-driver-nfs', 'gpu-process-exporter', 'flux', 'mpi-operator']) assert.ok(charts[local]!.dir, `${local} is a local chart`);
  assert.deepEqual(s.spec.platforms, ['linux/amd64']);
  assert.equal(s.spec.discoverImages, true);
  assert.deepEqual(s.spec.nodeOS, ['ubuntu22.04'], "completes GPU Operator's driver tag (570.148.08-ubuntu22.04)");
  // The images the issue found at the wrong tag come from their charts now: no list names them.
  const fromCharts = ['nvcr.io/nvidia/driver', 'nvcr.io/nvidia/k8s/dcgm-exporter', 'registry.k8s.io/kube-state-metrics/kube-state-metrics', 'docker.io/grafana/promtail', 'docker.io/bitnami/keycloak', 'docker.io/bitnami/postgresql', 'docker.io/goharbor/harbor-core', 'quay.io/prometheus/prometheus'];
  const listed = s.images.map((i) => `${i.ref.registry}/${i.ref.repository}`);
  for (const repo of fromCharts) assert.ok(!listed.includes(repo), `${repo} comes from its chart, not a list`);
});

test('astrago.yaml: local charts package reproducibly and render with helm; every image their values name is deployed', async () => {
  const s = loadBundleSpec(SPEC);
  const dir = tempDir('ac-astrago-');
  const local = s.charts.filter((c) => c.dir);
  const files = [];
  for (const c of local) {
    const a = await packageChart(c.dir!, { expectName: c.name, expectVersion: c.version });
    const b = await packageChart(c.dir!, { expectName: c.name, expectVersion: c.version });
    assert.ok(a.data.equals(b.data), `${c.name} packages reproducibly`);
    const file = join(dir, a.fileName);
    writeFileSync(file, a.data);
    files.push({ chart: c, file });
  }
  const localSpec = { ...s, charts: local };
  const rendered = await discoverSpecImages(localSpec, files, { helm: helmBinary(), force: true });
  const walked = await discoverSpecImages(localSpec, files, { force: true });
  assert.deepEqual(rendered.warnings, []);
  const refs = rendered.images.map((i) => i.ref);
  for (const c of local) assert.ok(rendered.images.some((i) => i.sources.some((x) => x.chart === c.name)), `${c.name} deploys images`);
  for (const w of walked.images) assert.ok(refs.includes(w.ref), `${w.ref} (named by ${w.sources[0]!.chart}'s values) is in the render`);
  assert.ok(refs.includes('docker.io/xiilab/astrago:core-1.0.0') && refs.includes('registry.k8s.io/sig-storage/nfsplugin:v4.6.0') && refs.includes('docker.io/mpioperator/mpi-operator:0.4.0'));
  for (const i of rendered.images) assert.ok(i.sources.every((x) => x.type === 'chart'), `${i.ref}: no list duplicates a chart's image`);
});
