// The tar-hash worker (follow-hash.ts) on a real file written in steps: the
// whole file's sha256, and the sha256 of given spans as the file grows past them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { followHash } from '../../../../src/bundle/store/follow-hash.ts';
import { tempDir } from '../../../support/temp.ts';

const MiB = 1 << 20;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('spans: each digest comes once the file is written past its end; spans across the 1 MiB reads and side by side are right', async () => {
  const content = randomBytes(5 * MiB + 777);
  const spans = [
    { start: 512, end: 1000 }, // inside the first read
    { start: 1000, end: MiB + 3 }, // right after the first, across a read boundary
    { start: 2 * MiB - 5, end: 4 * MiB + 9 }, // across two boundaries
    { start: 5 * MiB, end: 5 * MiB + 777 }, // the file's end
  ];
  const file = join(tempDir('ac-fh-'), 'out');
  const fh = await open(file, 'w');
  const hasher = followHash(file);
  hasher.begin(spans);
  const results: (string | undefined)[] = spans.map(() => undefined);
  spans.forEach((_, k) => void hasher.span(k).then((hex) => (results[k] = hex)));
  const settle = () => new Promise((r) => setTimeout(r, 100));
  // Written up to just before the third span's end: the first two are known, the third not.
  let written = 0;
  for (const upTo of [MiB + 3, 3 * MiB, 4 * MiB + 8]) {
    await fh.write(content, written, upTo - written, written);
    written = upTo;
    hasher.progress(written);
  }
  for (let waited = 0; results[1] === undefined; waited += 10) {
    assert.ok(waited < 10_000, 'the second span was reported');
    await new Promise((r) => setTimeout(r, 10));
  }
  await settle();
  assert.deepEqual(results.map((r) => r !== undefined), [true, true, false, false]);
  await fh.write(content, written, content.length - written, written);
  hasher.progress(content.length);
  await fh.close();
  assert.equal(await hasher.finish(), sha(content));
  await settle();
  assert.deepEqual(results, spans.map((s) => sha(content.subarray(s.start, s.end))));
});

test('spans: a digest still awaited when the hash is cancelled is refused, not left hanging', async () => {
  const file = join(tempDir('ac-fh-'), 'out');
  const fh = await open(file, 'w');
  const hasher = followHash(file);
  hasher.begin([{ start: 0, end: 10 * MiB }]);
  await fh.write(randomBytes(MiB), 0, MiB, 0);
  hasher.progress(MiB);
  const pending = hasher.span(0);
  hasher.cancel();
  await assert.rejects(pending, /stopped/);
  await fh.close();
});
