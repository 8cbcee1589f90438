// bundle inspect --format cyclonedx: a CycloneDX 1.6 BOM that the CycloneDX
// library's strict JSON validator (the official schema, ajv) accepts, listing
// every image by package URL with its original repository, every chart and
// file, each with the SHA-256 bundle.yaml gives.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonStrictValidator } from '@cyclonedx/cyclonedx-library/Validation';
import { Version } from '@cyclonedx/cyclonedx-library/Spec';
import { createLayout, multiPlatformImage, singlePlatformImage } from '../support/images.ts';
import { buildBundle, makeChart, type BuiltBundle } from '../support/bundle-fixture.ts';
import { runBinary } from '../support/run-binary.ts';

let dir: string;
let good: BuiltBundle;
interface Manifest {
  metadata: { name: string };
  images: Array<{ ref: string; digest: string }>;
  charts: Array<{ digest: string }>;
  files: Array<{ digest: string }>;
}
let m: Manifest;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-cdx-'));
  const lay = createLayout(join(dir, 'layout'));
  await singlePlatformImage(lay, 'app', { layerSizes: [20_000] });
  await multiPlatformImage(lay, 'multi', { layerSizes: [10_000] });
  good = await buildBundle({
    out: join(dir, 'good.tar'),
    layout: lay.dir,
    images: [
      { ref: 'docker.io/library/app:1.0', name: 'app' },
      { ref: 'registry.example.com:5000/team/multi:2.0', name: 'multi' },
    ],
    charts: [await makeChart('demo', '0.1.0')],
    files: [{ name: 'helm', data: Buffer.from('#!/bin/sh\n') }],
  });
  m = good.manifest as unknown as Manifest;
});

after(() => rmSync(dir, { recursive: true, force: true }));

interface Component {
  type: string;
  name: string;
  version?: string;
  purl?: string;
  hashes: Array<{ alg: string; content: string }>;
  properties: Array<{ name: string; value: string }>;
}

test('the BOM validates against the CycloneDX 1.6 schema and lists images, charts and files with their hashes', async () => {
  const r = await runBinary(['bundle', 'inspect', good.file, '--format', 'cyclonedx']);
  assert.equal(r.code, 0, r.stderr);
  const errors = await new JsonStrictValidator(Version.v1dot6).validate(r.stdout);
  assert.equal(errors, null, JSON.stringify(errors, null, 2));
  const bom = JSON.parse(r.stdout) as { specVersion: string; serialNumber: string; metadata: { component: { name: string; hashes: Array<{ content: string }> } }; components: Component[]; dependencies: Array<{ ref: string; dependsOn?: string[] }> };
  assert.equal(bom.specVersion, '1.6');
  assert.equal(bom.metadata.component.name, m.metadata.name);
  assert.equal(bom.metadata.component.hashes[0]!.content, readFileSync(good.sidecar, 'utf8').split(' ')[0], 'the tar itself, from its .sha256');

  const images = bom.components.filter((c) => c.type === 'container');
  assert.equal(images.length, 2);
  for (const img of m.images) {
    const c = images.find((x) => x.properties.some((p) => p.name === 'astrago:reference' && p.value === img.ref));
    assert.ok(c, img.ref);
    assert.equal(c.hashes[0]!.content, img.digest.slice(7));
    assert.match(c.purl!, new RegExp(`^pkg:oci/[a-z0-9._-]+@${img.digest}\\?`));
  }
  const app = images.find((c) => c.name === 'library/app')!;
  assert.equal(app.purl, `pkg:oci/app@${m.images[0]!.digest}?arch=amd64&repository_url=docker.io/library/app&tag=1.0`);
  const multi = images.find((c) => c.name === 'team/multi')!;
  assert.match(multi.purl!, /^pkg:oci\/multi@sha256:[0-9a-f]{64}\?repository_url=registry\.example\.com:5000\/team\/multi&tag=2\.0$/);

  const chart = bom.components.find((c) => c.name === 'demo')!;
  assert.equal(chart.version, '0.1.0');
  assert.equal(chart.hashes[0]!.content, m.charts[0]!.digest.slice(7));
  const file = bom.components.find((c) => c.type === 'file')!;
  assert.equal(file.hashes[0]!.content, m.files[0]!.digest.slice(7));
  assert.equal(bom.dependencies[0]!.dependsOn!.length, 4);

  const again = await runBinary(['bundle', 'inspect', good.file, '--format', 'cyclonedx']);
  assert.equal(again.stdout, r.stdout, 'the same bundle gives the same BOM');
});
