// The image list bundle create pulls (carriedImages): the charts' images joined with the lists,
// stale list entries warned about, and discoverImages: false keeping to the lists with a warning
// for each chart image they lack. Charts rendered by the real helm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageChart } from '../../../../src/bundle/charts/package.ts';
import { carriedImages } from '../../../../src/bundle/charts/spec-images.ts';
import { loadBundleSpec } from '../../../../src/bundle/spec/spec.ts';
import { helmBinary } from '../../../support/helm.ts';
import { writePlatformChart } from '../../../support/image-charts.ts';
import { tempDir } from '../../../support/temp.ts';

const root = tempDir('ac-carried-');
const chartDir = await writePlatformChart(root);
const pkg = await packageChart(chartDir);
const tgz = join(root, pkg.fileName);
writeFileSync(tgz, pkg.data);
writeFileSync(join(root, 'list.txt'), '# extra\ndocker.io/library/redis:7\nquay.io/acme/worker:v1.9.0\n');

async function carried(extra: string) {
  const file = join(root, `spec-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: c, version: "1"}\nnodeOS: [ubuntu22.04]\n${extra}\nimageLists: [list.txt]\ncharts:\n  - {name: platform, path: ${chartDir}}\n`);
  const loaded = loadBundleSpec(file);
  const fetched = [{ metadata: pkg.metadata, fileName: pkg.fileName, digest: 'sha256:x', size: pkg.data.length, source: chartDir, values: '' }];
  return { r: await carriedImages(loaded, fetched, () => tgz, helmBinary()), fetched };
}

test('carried images: the charts and the lists, one entry each, with sources; a stale list tag warned about', async () => {
  const { r, fetched } = await carried('');
  const refs = r.images.map((i) => i.ref);
  assert.ok(refs.includes('quay.io/acme/worker:v2.0.0') && refs.includes('docker.io/library/redis:7') && refs.includes('nvcr.io/nvidia/driver:570.148.08-ubuntu22.04'));
  assert.ok(refs.includes('quay.io/acme/worker:v1.9.0'), 'list entries are carried as listed');
  assert.deepEqual(r.sources.get('docker.io/library/redis:7'), [{ type: 'list', file: join(root, 'list.txt'), line: 2 }]);
  assert.deepEqual(r.warnings, [`${join(root, 'list.txt')}:3: quay.io/acme/worker:v1.9.0: no chart uses this tag; the charts deploy quay.io/acme/worker:v2.0.0`]);
  assert.ok(r.chartImages.get(fetched[0]!)!.includes('quay.io/acme/metrics:v0.8.0'));
  assert.ok(!r.chartImages.get(fetched[0]!)!.includes('docker.io/library/redis:7'));
});

test('carried images with discoverImages: false: the lists only; each chart image they lack is a warning', async () => {
  const { r } = await carried('discoverImages: false');
  assert.deepEqual(r.images.map((i) => i.ref), ['docker.io/library/redis:7', 'quay.io/acme/worker:v1.9.0']);
  assert.ok(r.warnings.some((w) => /chart platform 1\.2\.0 > metrics: templates\/deploy\.yaml: .*deploys quay\.io\/acme\/metrics:v0\.8\.0, which the bundle does not carry \(discoverImages: false\)/.test(w)), r.warnings.join('\n'));
});
