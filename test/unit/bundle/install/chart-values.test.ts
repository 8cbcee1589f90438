// values/<chart>.yaml (pure): every values path of the platform test chart that names an image
// the bundle carries points at its site copy, in each shape (registry + repository, repository
// with host, one string, NVIDIA repository + image, a subchart's), tags and digests untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { loadChartTree } from '../../../../src/bundle/charts/chart-tree.ts';
import { packageChart } from '../../../../src/bundle/charts/package.ts';
import { chartValuesFile, chartValuesFileNames } from '../../../../src/bundle/install/chart-values.ts';
import { imageRepository } from '../../../../src/bundle/install/targets.ts';
import { parseRegistryTarget, type ImageMapping } from '../../../../src/bundle/install/plan.ts';
import { parseReference } from '../../../../src/oci/reference.ts';
import { writePlatformChart } from '../../../support/image-charts.ts';
import { tempDir } from '../../../support/temp.ts';

const tree = await loadChartTree((await packageChart(await writePlatformChart(tempDir('ac-chart-values-')))).data, 'platform');
const t = parseRegistryTarget('harbor.lab:5000/astrago');
const mapping = (ref: string): ImageMapping => {
  const r = parseReference(ref);
  return { original: ref, originalRegistry: r.registry, originalRepository: r.repository, registry: t.host, repository: imageRepository(t, r.registry, r.repository, 'by-registry'), tag: r.tag, digest: 'sha256:' + '0'.repeat(64) };
};
const bundle = ['docker.io/acme/core:2.0.0', 'quay.io/acme/worker:v2.0.0', 'quay.io/acme/operator:1.4.0', 'quay.io/acme/reloader:0.9.1', 'docker.io/library/nginx:1.25.3', 'docker.io/acme/janitor:5', 'nvcr.io/nvidia/driver:570.148.08', 'quay.io/acme/metrics:v0.8.0'].map(mapping);

test('every image path is set to its site copy; what the bundle lacks is listed, not touched', () => {
  const f = chartValuesFile({ name: 'platform', version: '1.2.0', fileName: 'platform.yaml' }, tree, bundle, 'helm install platform oci://harbor.lab:5000/astrago/charts/platform --version 1.2.0');
  assert.equal(f.path, 'values/platform.yaml');
  const v = parse(f.content);
  assert.deepEqual(v.image, { registry: 'harbor.lab:5000', repository: 'astrago/docker.io/acme/core' }, 'registry + repository: both set, the tag left to the chart');
  assert.equal(v.global.imageRegistry, '', 'cleared: it would replace every registry set here');
  assert.deepEqual(v.worker.image, { repository: 'harbor.lab:5000/astrago/quay.io/acme/worker' });
  assert.equal(v.operator.image, 'harbor.lab:5000/astrago/quay.io/acme/operator:1.4.0', 'one string: host and path replaced, the tag kept');
  assert.equal(v.operator.reloader, 'harbor.lab:5000/astrago/quay.io/acme/reloader:0.9.1');
  assert.deepEqual(v.proxy.image, { repository: 'harbor.lab:5000/astrago/docker.io/library/nginx' }, 'the digest stays in the chart values');
  assert.deepEqual(v.janitor.image, { repository: 'harbor.lab:5000/astrago/docker.io/acme/janitor' }, 'a Docker Hub short name');
  assert.deepEqual(v.driver, { repository: 'harbor.lab:5000/astrago/nvcr.io/nvidia' }, 'NVIDIA style: the image name stays in `image`');
  assert.deepEqual(v.metrics.image, { registry: 'harbor.lab:5000', repository: 'astrago/quay.io/acme/metrics' }, "a subchart's values under its key");
  assert.deepEqual(f.missing.map((m) => m.image).sort(), ['docker.io/bitnami/redis:7.2.5', 'docker.io/library/busybox:1.36', 'quay.io/acme/extras:0.1.0', 'quay.io/acme/toolkit:1.0']);
  assert.equal(v.toolkit, undefined);
  assert.match(f.content, /^# {3}operator\.image: quay\.io\/acme\/operator:1\.4\.0 -> harbor\.lab:5000\/astrago\/quay\.io\/acme\/operator$/m);
  assert.match(f.content, /^# Not in the bundle/m);
});

test('a chart without images gets an empty values file; two versions of one chart get versioned names', () => {
  const f = chartValuesFile({ name: 'platform', version: '1.2.0', fileName: 'platform.yaml' }, tree, [], 'helm install …');
  assert.equal(f.set.length, 0);
  assert.match(f.content, /\n\{\}\n$/);
  assert.deepEqual(chartValuesFileNames([{ name: 'a', version: '1' }, { name: 'b', version: '1' }, { name: 'a', version: '2' }]), ['a-1.yaml', 'b.yaml', 'a-2.yaml']);
});
