// The extents record of a ranged download (extents.ts): span arithmetic, and
// what a record on disk is trusted for (nothing, when it is torn or for
// another size), written whole so a reader never sees half of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { addExtent, coveredEnd, extentsFile, missingExtents, readExtents, removeExtents, writeExtents, type Extent } from '../../../../src/bundle/store/extents.ts';
import { tempDir } from '../../../support/temp.ts';

const add = (...spans: Extent[]) => spans.reduce<Extent[]>((l, [a, b]) => addExtent(l, a, b), []);

test('addExtent keeps the list sorted and disjoint: overlapping and touching spans merge, empty ones are ignored', () => {
  assert.deepEqual(add([20, 30], [0, 10]), [[0, 10], [20, 30]]);
  assert.deepEqual(add([0, 10], [10, 20]), [[0, 20]], 'touching');
  assert.deepEqual(add([20, 30], [10, 20]), [[10, 30]], 'touching from below');
  assert.deepEqual(add([0, 10], [5, 15]), [[0, 15]], 'overlapping');
  assert.deepEqual(add([0, 10], [20, 30], [40, 50], [5, 45]), [[0, 50]], 'one span bridging three');
  assert.deepEqual(add([0, 10], [20, 30], [12, 18]), [[0, 10], [12, 18], [20, 30]], 'inside a gap, touching neither');
  assert.deepEqual(add([0, 100], [10, 20]), [[0, 100]], 'already covered');
  assert.deepEqual(add([0, 10], [15, 15], [30, 20]), [[0, 10]], 'empty and inverted spans add nothing');
  const list: Extent[] = [[0, 10]];
  addExtent(list, 20, 30);
  assert.deepEqual(list, [[0, 10]], 'the list given is not changed');
});

test('missingExtents: the holes of [0, size), the tail included', () => {
  assert.deepEqual(missingExtents([], 100), [[0, 100]]);
  assert.deepEqual(missingExtents([[0, 100]], 100), []);
  assert.deepEqual(missingExtents([[10, 20], [50, 60]], 100), [[0, 10], [20, 50], [60, 100]]);
  assert.deepEqual(missingExtents([[0, 20], [50, 100]], 100), [[20, 50]]);
  assert.deepEqual(missingExtents([], 0), []);
  // Holes and spans together are [0, size) exactly once.
  const held: Extent[] = [[3, 7], [9, 12], [40, 41]];
  const all = [...held, ...missingExtents(held, 50)].sort((x, y) => x[0] - y[0]);
  let pos = 0;
  for (const [a, b] of all) {
    assert.equal(a, pos);
    pos = b;
  }
  assert.equal(pos, 50);
});

test('coveredEnd: where the covered run holding a position ends; the position itself in a hole', () => {
  const list: Extent[] = [[0, 10], [20, 30]];
  assert.equal(coveredEnd(list, 0), 10);
  assert.equal(coveredEnd(list, 5), 10);
  assert.equal(coveredEnd(list, 10), 10, 'the first byte of a hole');
  assert.equal(coveredEnd(list, 15), 15);
  assert.equal(coveredEnd(list, 25), 30);
  assert.equal(coveredEnd(list, 30), 30);
  assert.equal(coveredEnd([], 0), 0);
  assert.equal(coveredEnd([[5, 10]], 0), 0, 'a partial that does not start at 0 has no prefix');
});

test('readExtents: no record is undefined; a record for this size is read back merged; bogus spans are dropped', async () => {
  const partial = join(tempDir('ac-ext-'), 'blob.partial');
  assert.equal(await readExtents(partial, 100), undefined);
  await writeExtents(partial, 100, [[0, 10], [40, 60]]);
  assert.deepEqual(await readExtents(partial, 100), [[0, 10], [40, 60]]);
  // Written by hand: out of order, overlapping, and some that cannot be right.
  writeFileSync(extentsFile(partial), JSON.stringify({ size: 100, extents: [[50, 60], [0, 10], [5, 20], [-5, 3], [90, 101], [1.5, 4], ['a', 'b'], [30], 7, [70, 80]] }));
  assert.deepEqual(await readExtents(partial, 100), [[0, 20], [50, 60], [70, 80]]);
});

test('a record for another size, or a torn one, trusts nothing of the partial (an empty list, not undefined)', async () => {
  const partial = join(tempDir('ac-ext-'), 'blob.partial');
  await writeExtents(partial, 100, [[0, 50]]);
  assert.deepEqual(await readExtents(partial, 200), [], 'another size');
  const whole = readFileSync(extentsFile(partial), 'utf8');
  writeFileSync(extentsFile(partial), whole.slice(0, whole.length - 5));
  assert.deepEqual(await readExtents(partial, 100), [], 'torn');
  writeFileSync(extentsFile(partial), '');
  assert.deepEqual(await readExtents(partial, 100), [], 'empty');
  writeFileSync(extentsFile(partial), JSON.stringify({ size: 100 }));
  assert.deepEqual(await readExtents(partial, 100), [], 'no extents');
  writeFileSync(extentsFile(partial), 'null');
  assert.deepEqual(await readExtents(partial, 100), [], 'JSON null');
});

test('writeExtents replaces the record whole (temp file, rename): a reader of the old one still sees all of it, no temp is left', async () => {
  const dir = tempDir('ac-ext-');
  const partial = join(dir, 'blob.partial');
  await writeExtents(partial, 1000, [[0, 10]]);
  const oldText = readFileSync(extentsFile(partial), 'utf8');
  const oldIno = statSync(extentsFile(partial)).ino;
  const reader = await open(extentsFile(partial), 'r');
  try {
    await writeExtents(partial, 1000, [[0, 10], [100, 200], [300, 400]]);
    // Written in place, the open file would now hold the new (or a torn) record.
    assert.equal(await reader.readFile('utf8'), oldText);
  } finally {
    await reader.close();
  }
  assert.notEqual(statSync(extentsFile(partial)).ino, oldIno, 'a new file took the name');
  assert.deepEqual(await readExtents(partial, 1000), [[0, 10], [100, 200], [300, 400]]);
  assert.deepEqual(readdirSync(dir), ['blob.partial.extents']);
  await removeExtents(partial);
  assert.ok(!existsSync(extentsFile(partial)));
  await removeExtents(partial); // none there: no error
});
