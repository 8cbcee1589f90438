// The tar-hash worker (follow-hash.ts) on a real file written in steps: the
// whole file's sha256 as the writer reports its progress.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { followHash, prestartHashWorker, type FollowHash } from '../../../../src/bundle/store/follow-hash.ts';
import { tempDir } from '../../../support/temp.ts';

const MiB = 1 << 20;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes `content` in the given steps, reporting each to the hasher, and returns its digest. */
async function writeInSteps(file: string, content: Buffer, steps: number[], hasher: FollowHash): Promise<string> {
  const fh = await open(file, 'w');
  let written = 0;
  for (const upTo of [...steps, content.length]) {
    await fh.write(content, written, upTo - written, written);
    written = upTo;
    hasher.progress(written);
    await new Promise((r) => setTimeout(r, 5));
  }
  await fh.close();
  return await hasher.finish();
}

test('the whole file: written in steps across the 1 MiB reads and the 8 MiB wakes, the digest is the file\'s', async () => {
  const content = randomBytes(19 * MiB + 777);
  const file = join(tempDir('ac-fh-'), 'out');
  const hasher = followHash(file);
  assert.equal(await writeInSteps(file, content, [512, MiB + 3, 9 * MiB, 9 * MiB + 1, 18 * MiB - 5], hasher), sha(content));
});

test('a worker started before the file was named hashes the file the next followHash names', async () => {
  prestartHashWorker();
  const content = randomBytes(3 * MiB + 5);
  const file = join(tempDir('ac-fh-'), 'out');
  const hasher = followHash(file);
  assert.equal(await writeInSteps(file, content, [1000, 2 * MiB], hasher), sha(content));
});

test('a file shorter than the writer said fails the hash, naming why', async () => {
  const file = join(tempDir('ac-fh-'), 'out');
  const fh = await open(file, 'w');
  await fh.write(Buffer.alloc(50), 0, 50, 0);
  await fh.close();
  const hasher = followHash(file);
  hasher.progress(100);
  await assert.rejects(hasher.finish(), /tar hash: file shorter than written/);
});

test('cancelled: finish() is refused, not left hanging', async () => {
  const file = join(tempDir('ac-fh-'), 'out');
  const fh = await open(file, 'w');
  const hasher = followHash(file);
  await fh.write(randomBytes(MiB), 0, MiB, 0);
  hasher.progress(MiB);
  hasher.cancel();
  await assert.rejects(hasher.finish(), /stopped/);
  await fh.close();
});
