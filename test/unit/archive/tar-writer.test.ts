import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { tarHeader, TarWriter } from '../../../src/archive/tar-writer.ts';
import { tempDir } from '../../support/temp.ts';

async function build(mtime: number): Promise<{ bytes: Buffer; sha: string }> {
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) });
  const t = new TarWriter(sink, { mtime });
  await t.addFile('bundle.yaml', 5, Buffer.from('a: 1\n'));
  await t.addFile(`images/blobs/sha256/${'c'.repeat(64)}`, 1000, (async function* () {
    yield Buffer.alloc(600, 1);
    yield Buffer.alloc(400, 2);
  })());
  const deep = `${'d/'.repeat(60)}file.txt`; // > 100 bytes: needs the ustar prefix field
  await t.addFile(deep, 3, Buffer.from('xyz'), 0o755);
  const sha = await t.finish();
  return { bytes: Buffer.concat(chunks), sha };
}

test('same input, byte-identical tar; the returned sha256 is the bytes\' sha256', async () => {
  const a = await build(0);
  const b = await build(0);
  assert.ok(a.bytes.equals(b.bytes));
  assert.equal(a.sha, b.sha);
  const { createHash } = await import('node:crypto');
  assert.equal(createHash('sha256').update(a.bytes).digest('hex'), a.sha);
  assert.equal(a.bytes.length % 512, 0);
  assert.notEqual((await build(1700000000)).sha, a.sha, 'mtime is part of the header');
});

test('GNU tar reads it: names (incl. long ones), sizes, modes, owner 0/0, no pax headers', async () => {
  const dir = tempDir('ac-tarw-');
  const { bytes } = await build(0);
  writeFileSync(join(dir, 'x.tar'), bytes);
  const list = execFileSync('tar', ['--numeric-owner', '-tvf', join(dir, 'x.tar')], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(list.length, 3);
  assert.match(list[0]!, /^-rw-r--r-- 0\/0\s+5 1970-01-01 00:00 bundle\.yaml$/);
  assert.match(list[1]!, /1000 .* images\/blobs\/sha256\/c{64}$/);
  assert.match(list[2]!, new RegExp(`^-rwxr-xr-x 0/0\\s+3 .* ${'d/'.repeat(60)}file\\.txt$`));
  execFileSync('tar', ['-xf', join(dir, 'x.tar'), '-C', dir]);
  assert.equal(readFileSync(join(dir, 'd/'.repeat(60), 'file.txt'), 'utf8'), 'xyz');
  assert.ok(!bytes.includes(Buffer.from('PaxHeader')));
});

test('sizes beyond the octal limit use base-256; a wrong byte count is refused', async () => {
  const h = tarHeader({ name: 'big', size: 10 * 1024 ** 3 });
  assert.equal(h[124], 0x80);
  assert.equal(h.readBigUInt64BE(124 + 4), BigInt(10 * 1024 ** 3));
  const t = new TarWriter(new Writable({ write: (_c, _e, cb) => cb() }));
  await assert.rejects(t.addFile('short', 10, Buffer.from('abc')), /3 bytes, expected 10/);
});

test('TarLayout: a blob copied in from a file moves the finished prefix as it goes; the worker that follows the prefix hashes the whole tar', async () => {
  const { createHash, randomBytes } = await import('node:crypto');
  const { followHash } = await import('../../../src/bundle/store/follow-hash.ts');
  const { TarLayout } = await import('../../../src/archive/tar-writer.ts');
  const { open } = await import('node:fs/promises');
  const dir = tempDir('ac-tarw-');
  const content = randomBytes(3 << 20);
  writeFileSync(join(dir, 'blob'), content);
  const out = join(dir, 'out.tar');
  const fh = await open(out, 'w');
  const hasher = followHash(out);
  const progress: number[] = [];
  const t = new TarLayout(fh, [{ name: 'a.txt', size: 3 }, { name: 'blob', size: content.length }], { onProgress: (n) => (progress.push(n), hasher.progress(n)) });
  await t.writeFrame();
  await t.fill(0, Buffer.from('abc'));
  const src = await open(join(dir, 'blob'), 'r');
  await t.copy(1, src);
  await src.close();
  await fh.close();
  const hex = await hasher.finish();
  const bytes = readFileSync(out);
  // Inside the blob's entry the prefix was reported more than once before the end (the hasher did not wait for the whole copy).
  const blobStart = t.dataOffset(1);
  assert.ok(progress.filter((n) => n > blobStart && n < blobStart + content.length).length >= 2, `prefix steps inside the blob: ${progress.join(', ')}`);
  assert.equal(t.contiguous(), t.size);
  assert.equal(hex, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(bytes.length, t.size);
  execFileSync('tar', ['-xf', out, '-C', dir]);
  assert.ok(readFileSync(join(dir, 'blob')).equals(content));
  assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'abc');
});

test('TarLayout: entries filled out of order give the same bytes as TarWriter; contiguous() only counts a complete prefix', async () => {
  const { open } = await import('node:fs/promises');
  const { TarLayout } = await import('../../../src/archive/tar-writer.ts');
  const dir = tempDir('ac-tarl-');
  const items = [
    { name: 'bundle.yaml', data: Buffer.from('kind: x\n') },
    { name: 'images/blobs/sha256/aa', data: Buffer.alloc(70_000, 7) },
    { name: 'files/tool', data: Buffer.alloc(513, 9), mode: 0o755 },
  ];
  const seqChunks: Buffer[] = [];
  const tw = new TarWriter(new Writable({ write: (c: Buffer, _e, cb) => (seqChunks.push(c), cb()) }), { mtime: 5 });
  for (const it of items) await tw.addFile(it.name, it.data.length, it.data, it.mode);
  await tw.finish();

  const file = join(dir, 'l.tar');
  const fh = await open(file, 'w');
  const progress: number[] = [];
  const tl = new TarLayout(fh, items.map((it) => ({ name: it.name, size: it.data.length, mode: it.mode })), { mtime: 5, onProgress: (n) => progress.push(n) });
  await tl.writeFrame();
  await tl.fill(2, items[2]!.data);
  const afterLast = tl.contiguous();
  writeFileSync(join(dir, 'src'), items[1]!.data);
  const src = await open(join(dir, 'src'), 'r');
  await tl.copy(1, src);
  await src.close();
  assert.equal(tl.contiguous(), afterLast, 'entry 0 still open');
  await tl.fill(0, items[0]!.data);
  await fh.close();
  assert.equal(tl.contiguous(), tl.size);
  assert.ok(readFileSync(file).equals(Buffer.concat(seqChunks)));
  assert.equal(tl.size, Buffer.concat(seqChunks).length);
  assert.deepEqual([...progress].sort((a, b) => a - b), progress, 'progress never goes back');
});

test('TarLayout: prefills and copies of several entries at once, one of them failing, give each entry its own bytes (copy buffers are reused across them)', async () => {
  const { randomBytes } = await import('node:crypto');
  const { open } = await import('node:fs/promises');
  const { TarLayout } = await import('../../../src/archive/tar-writer.ts');
  const dir = tempDir('ac-tarp-');
  const blobs = [0, 1, 2, 3].map(() => randomBytes(5 << 20));
  blobs.forEach((b, i) => writeFileSync(join(dir, `src${i}`), b));
  writeFileSync(join(dir, 'short'), blobs[0]!.subarray(0, 1 << 20));
  const out = join(dir, 'p.tar');
  const fh = await open(out, 'w');
  const tl = new TarLayout(fh, blobs.map((b, i) => ({ name: `b${i}`, size: b.length })));
  await tl.writeFrame();
  const MB = 1 << 20;
  const spans = [[0, 2 * MB], [3 * MB, 5 * MB]] as const;
  const withSrc = async <T>(file: string, f: (h: Awaited<ReturnType<typeof open>>) => Promise<T>) => {
    const h = await open(join(dir, file), 'r');
    try {
      return await f(h);
    } finally {
      await h.close();
    }
  };
  const failed = await withSrc('short', (h) => tl.prefill(0, h, 0, 3 * MB)).then(() => false, () => true);
  assert.ok(failed, 'a source shorter than the span is refused');
  await Promise.all(blobs.flatMap((_, i) => spans.map(([a, b]) => withSrc(`src${i}`, (h) => tl.prefill(i, h, a, b)))));
  await Promise.all(blobs.map((_, i) => withSrc(`src${i}`, (h) => tl.copy(i, h, undefined, spans.map(([a, b]) => [a, b] as const)))));
  await fh.close();
  assert.equal(tl.contiguous(), tl.size);
  execFileSync('tar', ['-xf', out, '-C', dir]);
  blobs.forEach((b, i) => assert.ok(readFileSync(join(dir, `b${i}`)).equals(b), `entry b${i} holds its own bytes`));
});
