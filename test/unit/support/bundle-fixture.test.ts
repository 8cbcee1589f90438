// The bundle fixture used by verify/install tests writes what `bundle create` writes:
// its bundle.yaml validates against the real BundleManifest schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleManifestSchema } from '../../../src/schema/bundle-manifest.ts';
import { buildBundle, makeChart } from '../../support/bundle-fixture.ts';
import { createLayout, singlePlatformImage } from '../../support/images.ts';
import { loadBundleManifest } from '../../../src/bundle/inspect/manifest.ts';

test('fixture bundle.yaml is a valid BundleManifest and loads for verify/inspect/install', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-fixture-'));
  try {
    const lay = createLayout(join(dir, 'lay'));
    await singlePlatformImage(lay, 'app', { layerSizes: [1000] });
    const b = await buildBundle({ out: join(dir, 'b.tar'), layout: lay.dir, images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }], charts: [await makeChart('demo', '0.1.0')], files: [{ name: 'helm', data: Buffer.from('x') }] });
    const parsed = bundleManifestSchema.safeParse(b.manifest);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    const view = loadBundleManifest(JSON.stringify(b.manifest));
    assert.equal(view.images[0]!.ref, 'docker.io/library/app:1.0');
    assert.equal(view.tool?.version, 'test-fixture');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
