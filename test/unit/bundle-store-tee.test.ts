// The content store's tee mode (bundle create): a download goes to a sink that
// verifies it (BlobSink.digest) and reads it back (readBack); the store copies
// the sink's bytes into its cache behind the download. The sink here is a
// buffer; its digest is the sha256 of what it holds when asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ContentStore, DigestMismatchError, SinkClosedError, type BlobSink } from '../../src/bundle/store.ts';
import { tempDir } from '../support/temp.ts';

const MiB = 1 << 20;
// Several batches and a tail that is not page-aligned: direct and page-cache writes both happen.
const data = randomBytes(3 * MiB + 12_345);
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function chunks(buf: Buffer, size = 64 << 10): Buffer[] {
  const out = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

interface TestSink extends BlobSink {
  filled: number;
  held: Buffer;
  digests: number;
  closeAt?: number;
}

/** A sink holding the bytes in memory; `tamper` changes what its digest sees (a blob that is not what it claims). */
function memorySink(size: number, tamper = false): TestSink {
  const sink: TestSink = {
    filled: 0,
    held: Buffer.alloc(size),
    digests: 0,
    async write(bufs, pos, n) {
      if (sink.closeAt !== undefined && pos + n > sink.closeAt) throw new SinkClosedError('test entry');
      let at = pos;
      for (const b of bufs) at += b.copy(sink.held, at);
      assert.equal(at - pos, n);
      sink.filled = Math.max(sink.filled, pos + n);
    },
    async digest() {
      sink.digests++;
      // The store asks only once every byte is in.
      assert.equal(sink.filled, size, 'digest asked for before the sink was full');
      const copy = Buffer.from(sink.held);
      if (tamper) copy[7] ^= 1;
      return sha(copy);
    },
    async readBack(buf, pos) {
      assert.ok(pos + buf.length <= sink.filled, `read back [${pos}, ${pos + buf.length}) beyond the ${sink.filled} bytes written`);
      sink.held.copy(buf, 0, pos, pos + buf.length);
    },
  };
  return sink;
}

const store = () => new ContentStore(tempDir('ac-tee-'));

test('tee: the blob goes to the sink, is verified by the sink, and its cache copy is made from the sink', async () => {
  const s = store();
  const sink = memorySink(data.length);
  const offsets: number[] = [];
  const r = await s.fetch(digest, data.length, async (offset) => (offsets.push(offset), { body: Readable.from(chunks(data)), partial: false }), { sink });
  assert.deepEqual([r.how, r.size, r.transferred, r.resumedFrom], ['fetched', data.length, data.length, 0]);
  assert.deepEqual(offsets, [0]);
  assert.ok(sink.held.equals(data));
  assert.equal(sink.digests, 1);
  assert.ok(readFileSync(s.path(digest)).equals(data), 'the cache holds the blob');
  assert.ok(!existsSync(`${s.path(digest)}.partial`));
  assert.equal((await s.fetch(digest, data.length, async () => assert.fail('cached'), { sink: memorySink(data.length) })).how, 'cached');
});

test('tee: a digest the sink computes otherwise refuses the blob and leaves no partial', async () => {
  const s = store();
  await assert.rejects(
    s.fetch(digest, data.length, async () => ({ body: Readable.from(chunks(data)), partial: false }), { sink: memorySink(data.length, true) }),
    DigestMismatchError,
  );
  assert.deepEqual(readdirSync(join(s.root, 'blobs', 'sha256')), []);
});

test('tee: a partial from an earlier run goes to the sink and only the rest is downloaded', async () => {
  const s = store();
  const have = MiB + 5000;
  writeFileSync(`${s.path(digest)}.partial`, data.subarray(0, have));
  const sink = memorySink(data.length);
  const offsets: number[] = [];
  const r = await s.fetch(digest, data.length, async (offset) => (offsets.push(offset), { body: Readable.from(chunks(data.subarray(offset))), partial: true }), { sink });
  assert.deepEqual(offsets, [have]);
  assert.deepEqual([r.resumedFrom, r.transferred], [have, data.length - have]);
  assert.ok(sink.held.equals(data));
  assert.ok(readFileSync(s.path(digest)).equals(data));
});

test('tee: a dropped connection resumes where the sink ends; a server that ignores the range resends and the overlap is skipped', async () => {
  for (const honoursRange of [true, false]) {
    const s = store();
    const sink = memorySink(data.length);
    const offsets: number[] = [];
    const cut = 2 * MiB + 100;
    const r = await s.fetch(
      digest,
      data.length,
      async (offset) => {
        offsets.push(offset);
        if (offsets.length === 1) {
          async function* dropped() {
            yield* chunks(data.subarray(0, cut));
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
          }
          return { body: Readable.from(dropped()), partial: false };
        }
        return honoursRange ? { body: Readable.from(chunks(data.subarray(offset))), partial: true } : { body: Readable.from(chunks(data)), partial: false };
      },
      { sink },
    );
    assert.deepEqual(offsets, [0, cut], honoursRange ? 'range honoured' : 'range ignored');
    assert.equal(r.transferred, data.length);
    assert.ok(sink.held.equals(data));
    assert.ok(readFileSync(s.path(digest)).equals(data));
  }
});

test('tee: a sink that closes stops the download, and every byte it took is in the partial for the next run', async () => {
  const s = store();
  const sink = memorySink(data.length);
  sink.closeAt = 2 * MiB;
  await assert.rejects(s.fetch(digest, data.length, async () => ({ body: Readable.from(chunks(data)), partial: false }), { sink }), SinkClosedError);
  const partial = `${s.path(digest)}.partial`;
  assert.ok(sink.filled > 0);
  assert.equal(statSync(partial).size, sink.filled);
  assert.ok(readFileSync(partial).equals(data.subarray(0, sink.filled)));
  // The next run downloads only the rest.
  const offsets: number[] = [];
  await s.fetch(digest, data.length, async (offset) => (offsets.push(offset), { body: Readable.from(chunks(data.subarray(offset))), partial: true }), { sink: memorySink(data.length) });
  assert.deepEqual(offsets, [sink.filled]);
  assert.ok(readFileSync(s.path(digest)).equals(data));
});

test('tee: a body shorter than the blob is refused without a retry', async () => {
  const s = store();
  let opens = 0;
  await assert.rejects(
    s.fetch(digest, data.length, async () => (opens++, { body: Readable.from(chunks(data.subarray(0, MiB))), partial: false }), { sink: memorySink(data.length) }),
    /sent 1048576 bytes, expected 3158073; refused/,
  );
  assert.equal(opens, 1);
  assert.deepEqual(readdirSync(join(s.root, 'blobs', 'sha256')), []);
});
