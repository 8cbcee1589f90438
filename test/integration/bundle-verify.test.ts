// bundle verify (and inspect) on the built binary: an intact bundle passes;
// flipped bytes, truncation, a missing blob, an extra file and malicious tars
// are each found, named, and exit 1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLayout, multiPlatformImage, singlePlatformImage, type Layout } from '../support/images.ts';
import { buildBundle, makeChart, maliciousTars, type BuiltBundle } from '../support/bundle-fixture.ts';
import { runBinary } from '../support/run-binary.ts';

let dir: string;
let lay: Layout;
let good: BuiltBundle;
let layerDigest: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-verify-'));
  lay = createLayout(join(dir, 'layout'));
  const shared = await lay.addLayer(200_000);
  const app = await singlePlatformImage(lay, 'app', { sharedLayers: [shared], layerSizes: [120_000] });
  await multiPlatformImage(lay, 'multi', { sharedLayers: [shared], layerSizes: [60_000] });
  layerDigest = JSON.parse(readFileSync(join(lay.dir, 'blobs', 'sha256', app.digest.slice(7)), 'utf8')).layers[1].digest;
  good = await buildBundle({
    out: join(dir, 'good.tar'),
    layout: lay.dir,
    images: [
      { ref: 'docker.io/library/app:1.0', name: 'app' },
      { ref: 'quay.io/team/multi:2.0', name: 'multi' },
    ],
    charts: [await makeChart('demo', '0.1.0', { image: 'docker.io/library/app:1.0' })],
    files: [{ name: 'helm', data: Buffer.from('#!/bin/sh\necho helm\n') }],
  });
});

after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A copy of the good bundle (without its sidecar unless asked), changed by `edit`. */
function variant(edit: (buf: Buffer) => Buffer, opts: { sidecar?: boolean } = {}): string {
  const f = join(dir, `v${n++}.tar`);
  writeFileSync(f, edit(Buffer.from(readFileSync(good.file))));
  if (opts.sidecar) copyFileSync(good.sidecar, `${f}.sha256`);
  return f;
}

test('an intact bundle verifies (exit 0) and the sidecar is checked', async () => {
  const r = await runBinary(['bundle', 'verify', good.file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /tar sha256 sidecar\s+matches/);
  assert.match(r.stdout, /OK: the bundle is intact/);
  assert.match(r.stdout, /images\s+2 \(4 manifests, \d+ blobs\)/);
});

test('inspect shows charts, images with platforms, files and the spec', async () => {
  const r = await runBinary(['bundle', 'inspect', good.file, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.kind, 'BundleInspection');
  assert.deepEqual(j.charts.map((c: { name: string }) => c.name), ['demo']);
  const multi = j.images.find((i: { ref: string }) => i.ref === 'quay.io/team/multi:2.0');
  assert.deepEqual(multi.platforms, ['linux/amd64', 'linux/arm64']);
  assert.ok(multi.size > 2 * 60_000, `size ${multi.size}`);
  assert.equal(j.files[0].name, 'helm');
  assert.equal(j.spec.kind, 'BundleSpec');
  assert.equal(j.totals.tarSize, readFileSync(good.file).length);
  const tty = await runBinary(['bundle', 'inspect', good.file]);
  assert.match(tty.stdout, /quay\.io\/team\/multi:2\.0\s+linux\/amd64,linux\/arm64/);
  const bad = await runBinary(['bundle', 'inspect', good.file, '--format', 'xml']);
  assert.equal(bad.code, 2);
});

test('a byte flipped inside any entry is found and the entry named', async () => {
  // One flip per entry, across every kind: manifest, sums, charts, files, layout, blobs (layers, configs, manifests).
  const targets = [...good.entries.keys()];
  assert.ok(targets.length >= 12, `only ${targets.length} entries`);
  for (const path of targets) {
    const { offset, size } = good.entries.get(path)!;
    const at = offset + Math.floor(size / 2);
    const f = variant((b) => {
      b[at] = b[at]! ^ 0x01;
      return b;
    });
    const r = await runBinary(['bundle', 'verify', f]);
    assert.equal(r.code, 1, `flip in ${path} not found:\n${r.stdout}`);
    // SHA256SUMS damage is named as SHA256SUMS or as the entry whose line changed.
    const named = path === 'SHA256SUMS' ? /SHA256SUMS|sha256 mismatch/ : new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    assert.match(r.stdout, named, `flip in ${path} not named:\n${r.stdout}`);
    unlinkSync(f);
  }
});

test('a flipped byte in a header or in padding is found (header checksum, sidecar)', async () => {
  const blob = good.entries.get(`images/blobs/sha256/${layerDigest.slice(7)}`)!;
  const header = variant((b) => {
    b[blob.offset - 512 + 20] ^= 0x20;
    return b;
  });
  const r1 = await runBinary(['bundle', 'verify', header]);
  assert.equal(r1.code, 1);
  assert.match(r1.stdout, /garbled header \(checksum mismatch\) after entry/);
  const padAt = blob.offset + blob.size + 3; // padding after the layer's data
  const padding = variant((b) => {
    b[padAt] = 0xff;
    return b;
  }, { sidecar: true });
  const r2 = await runBinary(['bundle', 'verify', padding]);
  assert.equal(r2.code, 1);
  assert.match(r2.stdout, /\.sha256: the tar's sha256 is [0-9a-f]{64}, the sidecar says [0-9a-f]{64}/);
});

test('truncated bundles are refused, naming where', async () => {
  const size = readFileSync(good.file).length;
  const layer = good.entries.get(`images/blobs/sha256/${layerDigest.slice(7)}`)!;
  for (const [cut, re] of [
    [layer.offset + 1000, /truncated archive: data needs/],
    [layer.offset - 300, /truncated archive/],
    [size - 1024, /no end-of-archive marker/],
    [700, /truncated archive/],
  ] as const) {
    const f = variant((b) => b.subarray(0, cut));
    const r = await runBinary(['bundle', 'verify', f]);
    assert.equal(r.code, 1, `cut at ${cut}`);
    assert.match(r.stdout, re, `cut at ${cut}:\n${r.stdout}`);
  }
});

test('a missing blob and an extra file are named', async () => {
  const missing = await buildBundle({
    out: join(dir, 'missing.tar'),
    layout: lay.dir,
    images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }],
    mutate: (c) => c.delete(`images/blobs/sha256/${layerDigest.slice(7)}`),
  });
  const r1 = await runBinary(['bundle', 'verify', missing.file]);
  assert.equal(r1.code, 1);
  assert.match(r1.stdout, new RegExp(`docker\\.io/library/app:1\\.0: blob ${layerDigest} .*is missing from images/blobs`));

  const extra = await buildBundle({
    out: join(dir, 'extra.tar'),
    layout: lay.dir,
    images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }],
    extra: new Map([['files/smuggled.sh', Buffer.from('rm -rf /\n')]]),
  });
  const r2 = await runBinary(['bundle', 'verify', extra.file]);
  assert.equal(r2.code, 1);
  assert.match(r2.stdout, /files\/smuggled\.sh: extra entry: not listed in SHA256SUMS/);

  const absent = await buildBundle({
    out: join(dir, 'absent.tar'),
    layout: lay.dir,
    images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }],
    files: [{ name: 'kubectl', data: Buffer.from('x') }],
    mutate: (c) => c.delete('files/kubectl'),
  });
  const r3 = await runBinary(['bundle', 'verify', absent.file]);
  assert.equal(r3.code, 1);
  assert.match(r3.stdout, /files\/kubectl: file kubectl: listed in bundle.yaml but missing from the tar/);
});

test("bundle.yaml must agree with the content: a chart's name and version, a file's place, an image's size", async () => {
  const lying = await buildBundle({
    out: join(dir, 'lying.tar'),
    layout: lay.dir,
    images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }],
    charts: [await makeChart('demo', '0.1.0')],
    files: [{ name: 'helm', data: Buffer.from('x') }],
    mutateManifest: (m) => {
      m.charts[0].version = '9.9.9';
      m.files[0].file = 'files/../helm';
      m.images[0].size += 1;
    },
  });
  const r = await runBinary(['bundle', 'verify', lying.file]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /charts\/demo-0\.1\.0\.tgz: chart demo 9\.9\.9: bundle\.yaml says demo 9\.9\.9, its Chart\.yaml says demo 0\.1\.0/);
  assert.match(r.stdout, /file helm: bundle\.yaml places it at files\/\.\.\/helm, expected files\/helm/);
  assert.match(r.stdout, /docker\.io\/library\/app:1\.0: bundle\.yaml says \d+ bytes, its manifests and blobs add up to \d+/);
});

test('malicious tars are refused by verify, naming the entry', async () => {
  for (const [name, f, re] of maliciousTars(good, dir)) {
    const r = await runBinary(['bundle', 'verify', f]);
    assert.equal(r.code, 1, `${name}: ${r.stdout}`);
    assert.match(r.stdout, re, `${name}:\n${r.stdout}`);
  }
});

test('a missing file is bad input (exit 2)', async () => {
  const r = await runBinary(['bundle', 'verify', join(dir, 'nope.tar')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /nope\.tar: file not found/);
});
