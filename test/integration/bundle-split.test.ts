// Split bundles: bundle split writes parts that concatenate to the tar (same
// sha256) and a parts file; verify and inspect read the parts in place (from
// the first part or the parts file); a flipped byte, a missing part and an
// extra part are each named; bundle join gives the tar back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLayout, pushImage, registryDigest, singlePlatformImage } from '../support/images.ts';
import { startRegistry } from '../support/registry.ts';
import { buildBundle, makeChart, type BuiltBundle } from '../support/bundle-fixture.ts';
import { runBinary } from '../support/run-binary.ts';

let dir: string;
let good: BuiltBundle;
const PART = 64 * 1024;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-split-'));
  const lay = createLayout(join(dir, 'layout'));
  await singlePlatformImage(lay, 'app', { layerSizes: [150_000, 90_000] });
  good = await buildBundle({
    out: join(dir, 'src', 'good.tar'),
    layout: lay.dir,
    images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }],
    charts: [await makeChart('demo', '0.1.0')],
    files: [{ name: 'tool', data: Buffer.alloc(70_000, 3) }],
  });
});

after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let n = 0;

/** A fresh copy of the good tar split into 64 KiB parts in its own directory. */
async function splitCopy(): Promise<{ tar: string; parts: string[] }> {
  const d = join(dir, `s${n++}`);
  mkdirSync(d);
  const tar = join(d, 'good.tar');
  copyFileSync(good.file, tar);
  const r = await runBinary(['bundle', 'split', tar, '--size', '64KiB']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const parts = readdirSync(d).filter((f) => /^good\.tar\.\d{3}$/.test(f)).sort().map((f) => join(d, f));
  rmSync(tar);
  return { tar, parts };
}

test('bundle split: the parts concatenate to the tar, the parts file lists each size and sha256', async () => {
  const { tar, parts } = await splitCopy();
  const whole = readFileSync(good.file);
  assert.equal(parts.length, Math.ceil(whole.length / PART));
  const joined = Buffer.concat(parts.map((p) => readFileSync(p)));
  assert.ok(joined.equals(whole), 'byte for byte the unsplit tar');
  assert.equal(readFileSync(`${tar}.sha256`, 'utf8'), readFileSync(good.sidecar, 'utf8'), 'the same .sha256');
  const doc = JSON.parse(readFileSync(`${tar}.parts.json`, 'utf8'));
  assert.equal(doc.kind, 'BundleParts');
  assert.equal(doc.sha256, sha(whole));
  assert.equal(doc.size, whole.length);
  assert.deepEqual(doc.parts.map((p: { file: string }) => p.file), parts.map((p) => p.replace(/^.*\//, '')));
  for (const [i, p] of parts.entries()) {
    assert.equal(doc.parts[i].size, readFileSync(p).length);
    assert.equal(doc.parts[i].sha256, sha(readFileSync(p)));
  }
});

test('verify and inspect read the parts in place, from the first part or the parts file', async () => {
  const { tar, parts } = await splitCopy();
  for (const given of [parts[0]!, `${tar}.parts.json`, tar]) {
    const v = await runBinary(['bundle', 'verify', given]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, new RegExp(`parts\\s+${parts.length}, each checked against good.tar.parts.json`));
    assert.match(v.stdout, /tar sha256 sidecar\s+matches/);
  }
  const i = await runBinary(['bundle', 'inspect', parts[0]!, '--format', 'json']);
  assert.equal(i.code, 0, i.stderr);
  const doc = JSON.parse(i.stdout);
  assert.equal(doc.parts.length, parts.length);
  assert.equal(doc.images[0].ref, 'docker.io/library/app:1.0');
  assert.equal(doc.totals.tarSize, readFileSync(good.file).length);
});

test('a flipped byte is named by its part (and its entry); a missing part and an extra part are named', async () => {
  const { tar, parts } = await splitCopy();
  const p1 = readFileSync(parts[1]!);
  p1[1000]! ^= 0x40;
  writeFileSync(parts[1]!, p1);
  let r = await runBinary(['bundle', 'verify', parts[0]!]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /good\.tar\.001: sha256 mismatch: good\.tar\.parts\.json says [0-9a-f]{64}, the part is [0-9a-f]{64} \(a damaged copy/);

  rmSync(parts[2]!);
  r = await runBinary(['bundle', 'verify', parts[0]!]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /good\.tar\.002: missing \(good\.tar\.parts\.json lists \d+ parts\)/);
  // Nothing was read: no counts or sidecar status that would read as an empty bundle without a .sha256.
  assert.match(r.stdout, /^bundle \S*good\.tar\.000: not read \(its parts on disk are not the ones it is made of\)$/m);
  assert.doesNotMatch(r.stdout, /sidecar|entries\s+0 hashed|\(0 B\)/);
  assert.match(r.stdout, /Copy a missing part again/);
  r = await runBinary(['bundle', 'inspect', parts[0]!]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /good\.tar\.002: missing/);

  // Without the parts file the gap is still found.
  rmSync(`${tar}.parts.json`);
  r = await runBinary(['bundle', 'verify', parts[0]!]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /good\.tar\.002: missing \(parts good\.tar\.000 to good\.tar\.\d{3} are expected\)/);

  const { tar: tar2, parts: parts2 } = await splitCopy();
  const extra = `${tar2}.${String(parts2.length).padStart(3, '0')}`;
  writeFileSync(extra, 'stray');
  r = await runBinary(['bundle', 'verify', `${tar2}.parts.json`]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`good\\.tar\\.${String(parts2.length).padStart(3, '0')}: extra part: good\\.tar\\.parts\\.json lists ${parts2.length} parts`));
});

test('a flipped byte with no parts file: the entry it hits is named, with its part', async () => {
  const { tar, parts } = await splitCopy();
  rmSync(`${tar}.parts.json`);
  const p = readFileSync(parts[2]!);
  p[100]! ^= 0x01;
  writeFileSync(parts[2]!, p);
  const r = await runBinary(['bundle', 'verify', parts[0]!]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /sha256 mismatch.*\(in parts? [^)]*good\.tar\.002/);
});

test('bundle join writes the tar back (checked), and refuses a damaged part', async () => {
  const { tar, parts } = await splitCopy();
  const r = await runBinary(['bundle', 'join', parts[0]!]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(readFileSync(tar).equals(readFileSync(good.file)));
  // --output into a directory that does not exist yet: made; one that cannot be: exit 2, named.
  const elsewhere = join(tar, '..', 'new', 'dir', 'joined.tar');
  const r2 = await runBinary(['bundle', 'join', parts[0]!, '--output', elsewhere]);
  assert.equal(r2.code, 0, r2.stdout + r2.stderr);
  assert.ok(readFileSync(elsewhere).equals(readFileSync(good.file)));
  const r3 = await runBinary(['bundle', 'join', parts[0]!, '--output', join(tar, 'under-a-file.tar')]);
  assert.equal(r3.code, 2, r3.stdout + r3.stderr);
  assert.match(r3.stderr, /bundle join: --output \S*good\.tar\/under-a-file\.tar: cannot write there/);
  rmSync(tar);
  const p = readFileSync(parts[0]!);
  p[600]! ^= 1;
  writeFileSync(parts[0]!, p);
  const bad = await runBinary(['bundle', 'join', `${tar}.parts.json`]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /good\.tar\.000: sha256 mismatch/);
  assert.ok(!existsSync(tar), 'nothing under the final name');
  assert.deepEqual(readdirSync(join(tar, '..')).filter((f) => f.includes('tmp')), []);
});

test('bundle create --split writes parts in place of the tar; install pushes from the parts', async () => {
  const [source, site] = await Promise.all([startRegistry(), startRegistry()]);
  try {
    const lay = createLayout(join(dir, 'create-layout'));
    await singlePlatformImage(lay, 'big', { layerSizes: [300_000, 200_000] });
    const digest = await pushImage(lay, 'big', source, 'team/big:1.0');
    const d = join(dir, 'created');
    mkdirSync(d);
    const spec = join(d, 'spec.yaml');
    writeFileSync(spec, `apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: split, version: 1.0.0}\nplatforms: [linux/amd64]\nimages:\n  - ${source.host}/team/big:1.0\n`);
    const out = join(d, 'split.tar');
    const c = await runBinary(['bundle', 'create', '--spec', spec, '--output', out, '--cache-dir', join(d, 'cache'), '--split', '128KiB'], { env: { PATH: process.env.PATH, HOME: d } });
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.ok(!existsSync(out), 'no whole tar beside the parts');
    const parts = readdirSync(d).filter((f) => /^split\.tar\.\d{3}$/.test(f)).sort();
    assert.ok(parts.length >= 4, parts.join(' '));
    const joined = Buffer.concat(parts.map((f) => readFileSync(join(d, f))));
    assert.equal(readFileSync(`${out}.sha256`, 'utf8').split(' ')[0], sha(joined), 'the sidecar is the whole tar\'s sha256');
    assert.equal(JSON.parse(readFileSync(`${out}.parts.json`, 'utf8')).parts.length, parts.length);
    assert.deepEqual(readdirSync(d).filter((f) => f.includes('tmp')), []);

    const i = await runBinary(['bundle', 'install', join(d, parts[0]!), '--registry', `${site.host}/site`, '--flat', '--charts-dir', join(d, 'charts')], { env: { PATH: process.env.PATH, HOME: d } });
    assert.equal(i.code, 0, i.stdout + i.stderr);
    assert.equal(await registryDigest(site, 'site/team/big:1.0'), digest, 'the image arrived intact, from the parts');
  } finally {
    await Promise.allSettled([source.stop(), site.stop()]);
  }
});
