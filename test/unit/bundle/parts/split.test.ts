import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSize, partName } from '../../../../src/archive/parts-file.ts';
import { tempPartName } from '../../../../src/bundle/parts/part-writer.ts';
import { joinParts, splitInPlace, splitTar } from '../../../../src/bundle/parts/split.ts';
import { openBundleSource, sourceStream, SourceReader } from '../../../../src/archive/source.ts';

const parts = (dir: string) => readdirSync(dir).filter((f) => /\.tar\.\d{3}$/.test(f)).sort();

test('sizes as users write them', () => {
  assert.equal(parseSize('c', 'split', '4GiB'), 4 * 2 ** 30);
  assert.equal(parseSize('c', 'split', '4000M'), 4e9);
  assert.equal(parseSize('c', 'split', '700MiB'), 700 * 2 ** 20);
  assert.equal(parseSize('c', 'split', '1.5k'), 1500);
  assert.equal(parseSize('c', 'split', '1048576'), 2 ** 20);
  assert.throws(() => parseSize('c', 'split', '100'), /at least 512 bytes/);
  assert.throws(() => parseSize('c', 'split', '4 gigs'), /--split expects a size/);
});

test('split and join: exact multiples and a short last part; reads across parts', async () => {
  for (const size of [3 * 4096, 3 * 4096 + 17]) {
    const dir = mkdtempSync(join(tmpdir(), 'ac-split-u-'));
    const tar = join(dir, 'b.tar');
    const data = randomBytes(size);
    writeFileSync(tar, data);
    const r = await splitTar(tar, 4096);
    assert.equal(r.parts.length, Math.ceil(size / 4096));
    assert.deepEqual(parts(dir), r.parts.map((p) => p.file));
    const src = await openBundleSource(join(dir, partName('b.tar', 0)));
    assert.equal(src.size, size);
    // A positional read and a stream that both cross part boundaries.
    const reader = new SourceReader(src);
    const buf = Buffer.alloc(5000);
    assert.equal(await reader.read(buf, 0, 5000, 4000), Math.min(5000, size - 4000));
    await reader.close();
    assert.ok(buf.subarray(0, 5000).equals(data.subarray(4000, 9000)));
    const chunks: Buffer[] = [];
    for await (const c of sourceStream(src, 100, size - 2)) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data.subarray(100, size - 1)));
    rmSync(tar);
    await joinParts(src, tar);
    assert.ok(readFileSync(tar).equals(data));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('split in place gives the same parts and no tar; a failure half-way puts the tar back whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-split-u-'));
  const data = randomBytes(5 * 1000 + 3);
  const a = join(dir, 'a', 'b.tar');
  const b = join(dir, 'b', 'b.tar');
  for (const f of [a, b]) {
    mkdirSync(join(f, '..'));
    writeFileSync(f, data);
  }
  const copied = await splitTar(a, 1000);
  const inPlace = await splitInPlace(b, 1000);
  assert.deepEqual(inPlace.parts, copied.parts);
  assert.equal(inPlace.sha256, copied.sha256);
  assert.ok(!existsSync(b), 'the tar became its parts');

  const c = join(dir, 'c.tar');
  writeFileSync(c, data);
  writeFileSync(tempPartName(c, 1), 'in the way'); // the second part cannot be written
  await assert.rejects(splitInPlace(c, 1000), /split failed; the tar is whole again/);
  assert.ok(readFileSync(c).equals(data), 'byte for byte the tar it was');
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('c.tar.')), [], 'no part, temp part or parts file left');
  rmSync(dir, { recursive: true, force: true });
});
