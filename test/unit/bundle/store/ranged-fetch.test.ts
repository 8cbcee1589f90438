// A blob downloaded as byte ranges (ContentStore.fetch with `ranges`, through
// ranged-fetch.ts) from in-process byte sources: the pieces tile the blob, a
// reset piece resumes where it stopped, a short or long answer is an error, a
// source that ignores ranges falls back to one stream, an abort leaves a
// record of exactly what arrived and the next fetch asks only for the rest,
// and wrong bytes leave nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pLimit from 'p-limit';
import { ContentStore, DigestMismatchError, type BlobOpener } from '../../../../src/bundle/store/store.ts';
import { addExtent, extentsFile, missingExtents, readExtents, writeExtents, type Extent } from '../../../../src/bundle/store/extents.ts';
import type { RangeSource } from '../../../../src/bundle/store/ranged-fetch.ts';
import { OperationError } from '../../../../src/errors.ts';
import { tempDir } from '../../../support/temp.ts';

const data = randomBytes(300_000);
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
const PIECE = 40_000;
const FAST_RETRY = { attempts: 3, baseMs: 1, maxMs: 2 };

function chunks(buf: Buffer, size = 8192): Buffer[] {
  const out = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

const honest = (start: number, end: number) => ({ body: Readable.from(chunks(data.subarray(start, end))), partial: true });

type Answer = { body: Readable; partial: boolean };
type Serve = (start: number, end: number, signal: AbortSignal) => Answer | Promise<Answer>;

/** A range source over `data` that records what was asked and how many requests ran at once. */
function source(serve: Serve = honest, slots = 3, pieceBytes = PIECE) {
  const opens: Extent[] = [];
  const bodies: Readable[] = [];
  let active = 0;
  let maxActive = 0;
  const limit = pLimit(slots);
  const src: RangeSource = {
    pieceBytes,
    limit: (fn) =>
      limit(async () => {
        maxActive = Math.max(maxActive, ++active);
        try {
          return await fn();
        } finally {
          active--;
        }
      }),
    async open(start, end, signal) {
      opens.push([start, end]);
      const r = await serve(start, end, signal);
      bodies.push(r.body);
      return r;
    },
  };
  return { src, opens, bodies, maxActive: () => maxActive };
}

/** The single-stream opener; the ranged tests expect it unused unless ranges are ignored. */
function stream(serve: BlobOpener = async (offset) => ({ body: Readable.from(chunks(data.subarray(offset))), partial: true })) {
  const offsets: number[] = [];
  const open: BlobOpener = (offset) => (offsets.push(offset), serve(offset));
  return { open, offsets };
}

function store() {
  const s = new ContentStore(tempDir('ac-ranged-'));
  const partial = `${s.path(digest)}.partial`;
  return { s, partial, blobs: join(s.root, 'blobs', 'sha256') };
}

/** Asserts `spans`, in any order, cover `within` exactly once. */
function assertTiles(spans: readonly Extent[], within: readonly Extent[], msg: string): void {
  const sorted = [...spans].sort((x, y) => x[0] - y[0]);
  let list: Extent[] = [];
  let total = 0;
  for (const [a, b] of sorted) {
    assert.ok(b > a, `${msg}: empty span ${a}-${b}`);
    total += b - a;
    list = addExtent(list, a, b);
  }
  assert.deepEqual(list, addExtentsAll(within), `${msg}: the union`);
  assert.equal(total, within.reduce((n, [a, b]) => n + b - a, 0), `${msg}: no byte asked twice`);
}
const addExtentsAll = (l: readonly Extent[]) => l.reduce<Extent[]>((acc, [a, b]) => addExtent(acc, a, b), []);

/**
 * Asserts every span `partial`'s record lists holds the blob's bytes; returns
 * the spans (undefined: no record). Read at once, so a source can check it
 * while the download runs.
 */
function assertRecordTrue(partial: string): Extent[] | undefined {
  if (!existsSync(extentsFile(partial))) return undefined;
  const rec = JSON.parse(readFileSync(extentsFile(partial), 'utf8')) as { size: number; extents: Extent[] };
  assert.equal(rec.size, data.length);
  const file = readFileSync(partial);
  for (const [a, b] of rec.extents) assert.ok(file.subarray(a, b).equals(data.subarray(a, b)), `recorded span ${a}-${b} holds the blob's bytes`);
  return rec.extents;
}

test('pieces of at most pieceBytes cover the blob exactly once, share the slots, and the blob verifies; the record is there before an out-of-order byte and never lists a wrong one', async () => {
  const { s, partial, blobs } = store();
  let checked = 0;
  const { src, opens, maxActive } = source((start, end) => {
    // Asked for a range past 0 of a fresh download: the record must already be there, and true.
    if (start > 0) {
      assert.ok(assertRecordTrue(partial), `record there when ${start}-${end} opens`);
      checked++;
    }
    return honest(start, end);
  });
  const single = stream();
  let seen = 0;
  const r = await s.fetch(digest, data.length, single.open, { ranges: src, retry: FAST_RETRY, onBytes: (n) => (seen += n) });
  assert.equal(checked, 7);
  assertTiles(opens, [[0, data.length]], 'ranges asked');
  assert.equal(opens.length, Math.ceil(data.length / PIECE));
  for (const [a, b] of opens) assert.ok(b - a <= PIECE && a % PIECE === 0, `piece ${a}-${b}`);
  assert.ok(maxActive() > 1 && maxActive() <= 3, `${maxActive()} requests at once, 3 slots`);
  assert.deepEqual(single.offsets, [], 'no single stream');
  assert.deepEqual([r.how, r.size, r.transferred, r.resumedFrom, seen], ['fetched', data.length, data.length, 0, data.length]);
  assert.ok(readFileSync(s.path(digest)).equals(data));
  assert.deepEqual(readdirSync(blobs), [digest.slice(7)], 'no partial, no record left');
  assert.equal((await s.fetch(digest, data.length, single.open, { ranges: src })).how, 'cached');
  assert.equal(opens.length, Math.ceil(data.length / PIECE), 'a cached blob asks for nothing');
});

test('a piece whose connection resets mid-way is asked again from where it stopped, not from its start', async () => {
  const { s } = store();
  const cut = 30_000;
  let reset = false;
  const { src, opens } = source((start, end) => {
    if (start !== 2 * PIECE || reset) return honest(start, end);
    // The third piece, the first time: 30 000 bytes, then the connection resets.
    reset = true;
    let sent = false;
    const body = new Readable({
      read() {
        if (!sent) {
          sent = true;
          this.push(data.subarray(start, start + cut));
        } else this.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      },
    });
    return { body, partial: true };
  });
  let seen = 0;
  const r = await s.fetch(digest, data.length, stream().open, { ranges: src, retry: FAST_RETRY, onBytes: (n) => (seen += n) });
  const third = opens.filter(([a, b]) => a >= 2 * PIECE && b <= 3 * PIECE);
  assert.deepEqual(third, [[2 * PIECE, 3 * PIECE], [2 * PIECE + cut, 3 * PIECE]]);
  assert.equal(r.transferred, data.length, 'no byte came twice');
  assert.equal(seen, data.length);
  assert.ok(readFileSync(s.path(digest)).equals(data));
});

test('a piece answered with fewer bytes than asked is an error (not a digest mismatch); one answered with more is too', async () => {
  for (const [name, serve, message] of [
    ['short', (start: number, end: number) => ({ body: Readable.from(chunks(data.subarray(start, end - 100))), partial: true }), /the server sent 39900 of the 40000 bytes of range 80000-119999/],
    ['long', (start: number, end: number) => ({ body: Readable.from(chunks(data.subarray(start, end + 100))), partial: true }), /more bytes than the range 80000-119999 asked for/],
  ] as const) {
    const { s, partial } = store();
    const { src } = source((start, end) => (start === 2 * PIECE ? serve(start, end) : honest(start, end)));
    const single = stream();
    await assert.rejects(s.fetch(digest, data.length, single.open, { ranges: src, retry: FAST_RETRY }), (err: Error) => !(err instanceof DigestMismatchError) && message.test(err.message), name);
    assert.ok(!existsSync(s.path(digest)), `${name}: no blob`);
    assert.deepEqual(single.offsets, [], `${name}: no fallback to one stream`);
    assertRecordTrue(partial);
    // The next fetch from an honest source ends with the right blob.
    await s.fetch(digest, data.length, single.open, { ranges: source().src });
    assert.ok(readFileSync(s.path(digest)).equals(data), name);
  }
});

test('a source that ignores ranges (answers with the whole blob) ends as the right blob through one stream; every ranged answer is closed', async () => {
  const { s, blobs } = store();
  const { src, opens, bodies } = source(() => ({ body: Readable.from(chunks(data)), partial: false }));
  const single = stream(async () => ({ body: Readable.from(chunks(data)), partial: false }));
  const r = await s.fetch(digest, data.length, single.open, { ranges: src, retry: FAST_RETRY });
  assert.ok(opens.length >= 1);
  assert.ok(bodies.every((b) => b.destroyed), 'the whole-blob answers to ranges are not read on');
  assert.deepEqual(single.offsets, [0]);
  assert.equal(r.transferred, data.length);
  assert.ok(readFileSync(s.path(digest)).equals(data));
  assert.deepEqual(readdirSync(blobs), [digest.slice(7)]);
});

test('ranges ignored while another piece\'s request is still in flight (the client names it in an error of its own): still one stream, not a failure', async () => {
  const { s } = store();
  const { src } = source((start, _end, signal) => {
    if (start !== 0) return { body: Readable.from(chunks(data)), partial: false };
    // The first request is still waiting for its answer when another piece finds the range ignored:
    // aborted, it fails as the registry client reports it (its own error, the reason as cause).
    return new Promise<Answer>((_, reject) =>
      signal.addEventListener('abort', () => reject(new OperationError(`GET blob: ${(signal.reason as Error).message}`, { cause: signal.reason })), { once: true }),
    );
  });
  const single = stream(async () => ({ body: Readable.from(chunks(data)), partial: false }));
  await s.fetch(digest, data.length, single.open, { ranges: src, retry: FAST_RETRY });
  assert.deepEqual(single.offsets, [0]);
  assert.ok(readFileSync(s.path(digest)).equals(data));
});

test('ranges ignored with a ranged partial from before: it is cut at its first hole, and one stream resumes there', async () => {
  const { s, partial } = store();
  const file = Buffer.alloc(150_000, 0xee); // what is in the hole is not the blob's
  data.copy(file, 0, 0, 50_000);
  data.copy(file, 100_000, 100_000, 150_000);
  writeFileSync(partial, file);
  await writeExtents(partial, data.length, [[0, 50_000], [100_000, 150_000]]);
  const { src } = source(() => ({ body: Readable.from(chunks(data)), partial: false }));
  const single = stream(async () => ({ body: Readable.from(chunks(data)), partial: false })); // ignores the range too
  const r = await s.fetch(digest, data.length, single.open, { ranges: src, retry: FAST_RETRY });
  assert.deepEqual(single.offsets, [50_000]);
  assert.equal(r.resumedFrom, 50_000);
  assert.ok(readFileSync(s.path(digest)).equals(data));
  assert.ok(!existsSync(extentsFile(partial)) && !existsSync(partial));
});

test('an abort mid-way keeps the partial and a record of exactly the bytes that arrived; the next fetch asks only for the missing ranges and verifies', async () => {
  const { s, partial } = store();
  const ac = new AbortController();
  const sent = new Map<number, number>(); // piece start -> bytes sent before it stalled (or all)
  // Even pieces come whole; odd ones send some bytes (a different count each), then stall until the abort.
  const { src, opens } = source((start, end, signal) => {
    const n = (start / PIECE) % 2 === 0 ? end - start : 1000 + 3 * start / PIECE * 777;
    sent.set(start, n);
    if (n === end - start) return honest(start, end);
    async function* stall() {
      yield* chunks(data.subarray(start, start + n), 4096);
      await new Promise((_, reject) => {
        const fail = () => reject(signal.reason);
        if (signal.aborted) fail();
        else signal.addEventListener('abort', fail, { once: true });
      });
    }
    return { body: Readable.from(stall()), partial: true };
  });
  const fetching = s.fetch(digest, data.length, stream().open, { ranges: src, retry: FAST_RETRY, signal: ac.signal });
  // Wait until three pieces stall (all the slots) and what they sent is on disk.
  const arrived = () => {
    if (!existsSync(partial)) return false;
    const file = readFileSync(partial);
    return [...sent].every(([a, n]) => file.length >= a + n && file.subarray(a, a + n).equals(data.subarray(a, a + n)));
  };
  for (let i = 0; !([...sent].filter(([a, n]) => n < Math.min(PIECE, data.length - a)).length === 3 && arrived()); i++) {
    assert.ok(i < 500, `the pieces stalled (opened ${JSON.stringify(opens)})`);
    await new Promise((r) => setTimeout(r, 10));
  }
  ac.abort();
  await assert.rejects(fetching, /aborted/);
  assert.ok(!existsSync(s.path(digest)));
  const expected = [...sent].reduce<Extent[]>((l, [a, n]) => addExtent(l, a, a + n), []);
  assert.ok(expected.length > 1, 'the record has holes');
  assert.deepEqual(assertRecordTrue(partial), expected, 'the record lists what arrived, no more, no less');
  assert.deepEqual(await readExtents(partial, data.length), expected, 'and is read back so');

  const next = source();
  const r = await s.fetch(digest, data.length, stream().open, { ranges: next.src, retry: FAST_RETRY });
  assertTiles(next.opens, missingExtents(expected, data.length), 'the next fetch asks for the holes');
  const held = expected.reduce((n, [a, b]) => n + b - a, 0);
  assert.deepEqual([r.resumedFrom, r.transferred], [held, data.length - held]);
  assert.ok(readFileSync(s.path(digest)).equals(data));
  assert.ok(!existsSync(partial) && !existsSync(extentsFile(partial)));
});

test('a partial with a torn record, or one for another size, is trusted for nothing: every byte is asked for again', async () => {
  for (const record of ['{"size":300000,"extents":[[0,100', JSON.stringify({ size: 123, extents: [[0, 100_000]] })]) {
    const { s, partial } = store();
    writeFileSync(partial, Buffer.alloc(100_000, 0xaa));
    writeFileSync(extentsFile(partial), record);
    const { src, opens } = source();
    const r = await s.fetch(digest, data.length, stream().open, { ranges: src, retry: FAST_RETRY });
    assertTiles(opens, [[0, data.length]], record);
    assert.equal(r.resumedFrom, 0);
    assert.ok(readFileSync(s.path(digest)).equals(data));
  }
});

test('a prefix left by a single-stream download (no record) is kept: the pieces cover the rest', async () => {
  const { s, partial } = store();
  writeFileSync(partial, data.subarray(0, 123_456));
  const { src, opens } = source();
  const r = await s.fetch(digest, data.length, stream().open, { ranges: src, retry: FAST_RETRY });
  assertTiles(opens, [[123_456, data.length]], 'the rest');
  assert.deepEqual([r.resumedFrom, r.transferred], [123_456, data.length - 123_456]);
  assert.ok(readFileSync(s.path(digest)).equals(data));
});

test('a wrong byte in one piece is a DigestMismatchError that leaves no partial and no record', async () => {
  const { s, blobs } = store();
  const bad = Buffer.from(data);
  bad[5 * PIECE + 17] ^= 1;
  const { src } = source((start, end) => ({ body: Readable.from(chunks(bad.subarray(start, end))), partial: true }));
  await assert.rejects(s.fetch(digest, data.length, stream().open, { ranges: src, retry: FAST_RETRY }), DigestMismatchError);
  assert.deepEqual(readdirSync(blobs), []);
});

test('a tail (the end of a run\'s queue) comes in smaller pieces from its first byte on; the pieces still tile the blob and report their spans', async () => {
  const { s } = store();
  const { src, opens } = source(honest, 3, PIECE);
  const tail = { from: 250_000, bytes: 10_000 };
  const spans: Extent[] = [];
  const r = await s.fetch(digest, data.length, stream().open, { ranges: { ...src, tail }, onSpan: (a, b) => spans.push([a, b]) });
  assert.equal(r.how, 'fetched');
  assertTiles(opens, [[0, data.length]], 'the pieces');
  for (const [a, b] of opens) {
    if (a >= tail.from) assert.ok(b - a <= tail.bytes, `piece ${a}-${b} in the tail is at most ${tail.bytes} bytes`);
    else assert.ok(b <= tail.from && b - a <= PIECE, `piece ${a}-${b} before the tail ends at its start and is at most ${PIECE} bytes`);
  }
  assert.equal(opens.filter(([a]) => a >= tail.from).length, 5, 'the tail in 10 kB pieces');
  assertTiles(spans, [[0, data.length]], 'the spans reported');
  assert.ok(readFileSync(s.path(digest)).equals(data));
});
