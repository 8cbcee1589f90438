// bundle-spec/astrago.yaml describes the real platform: it must parse, resolve
// its image lists, package its local charts, and every image the local charts'
// values name must be in the bundle. No network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadBundleSpec } from '../../src/bundle/spec.ts';
import { packageChart } from '../../src/bundle/charts/package.ts';
import { describeValuesImage, imagesInValues, missingImages } from '../../src/bundle/charts/values-images.ts';
import { readChartArchive } from '../../src/bundle/charts/chart-archive.ts';
import { writeFileSync } from 'node:fs';
import { tempDir } from '../support/temp.ts';

const SPEC = join(import.meta.dirname, '..', '..', 'bundle-spec', 'astrago.yaml');

test('astrago.yaml: the platform charts at the agreed versions, image lists resolved', () => {
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
  const names = s.images.map((i) => i.name);
  assert.ok(names.length >= 40, `${names.length} images`);
  assert.ok(names.includes('nvcr.io/nvidia/gpu-operator:v25.3.2'));
  assert.ok(names.includes('docker.io/goharbor/harbor-core:v2.9.1'));
  assert.ok(names.includes('quay.io/prometheus/prometheus:v2.42.0'));
  assert.equal(new Set(names).size, names.length);
});

test('astrago.yaml: local charts package reproducibly and carry every image their values name', async () => {
  const s = loadBundleSpec(SPEC);
  const dir = tempDir('ac-astrago-');
  for (const c of s.charts.filter((c) => c.dir)) {
    const a = await packageChart(c.dir!, { expectName: c.name, expectVersion: c.version });
    const b = await packageChart(c.dir!, { expectName: c.name, expectVersion: c.version });
    assert.ok(a.data.equals(b.data), `${c.name} packages reproducibly`);
    const file = join(dir, a.fileName);
    writeFileSync(file, a.data);
    const { values } = await readChartArchive(file);
    const found = imagesInValues(values);
    assert.ok(found.length >= 1, `${c.name} values name images`);
    const missing = missingImages(found, s.images.map((i) => i.ref)).map(describeValuesImage);
    assert.deepEqual(missing, [], `${c.name}: images named by values but not in the image lists`);
  }
});
