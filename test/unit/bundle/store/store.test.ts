// The content store with in-process byte sources (the registry side is covered by
// test/integration/bundle-create.test.ts against a real registry).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ContentStore, DigestMismatchError } from '../../../../src/bundle/store/store.ts';
import { tempDir } from '../../../support/temp.ts';

const data = randomBytes(300_000);
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;

function chunks(buf: Buffer, size = 16_384): Buffer[] {
  const out = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

function store(): ContentStore {
  return new ContentStore(tempDir('ac-store-'));
}

test('a blob is renamed to its digest only when verified; a second fetch is a cache hit', async () => {
  const s = store();
  const offsets: number[] = [];
  const open = async (offset: number) => (offsets.push(offset), { body: Readable.from(chunks(data.subarray(offset))), partial: offset > 0 });
  const r = await s.fetch(digest, data.length, open);
  assert.deepEqual([r.how, r.size, r.transferred], ['fetched', data.length, data.length]);
  assert.ok(readFileSync(s.path(digest)).equals(data));
  assert.equal((await s.fetch(digest, data.length, open)).how, 'cached');
  assert.deepEqual(offsets, [0]);
  assert.ok(existsSync(join(s.root, 'oci-layout')));
});

test('wrong content is refused, and leaves neither the blob nor a partial behind', async () => {
  const s = store();
  const bad = Buffer.from(data);
  bad[1000] ^= 1;
  await assert.rejects(s.fetch(digest, data.length, async () => ({ body: Readable.from(chunks(bad)), partial: false })), DigestMismatchError);
  assert.deepEqual(readdirSync(join(s.root, 'blobs', 'sha256')), []);
});

test('a partial from an earlier run resumes with a range; a server that ignores the range resends, and the overlap is skipped', async () => {
  for (const honoursRange of [true, false]) {
    const s = store();
    writeFileSync(`${s.path(digest)}.partial`, data.subarray(0, 123_456));
    const offsets: number[] = [];
    const r = await s.fetch(digest, data.length, async (offset) => {
      offsets.push(offset);
      return honoursRange ? { body: Readable.from(chunks(data.subarray(offset))), partial: true } : { body: Readable.from(chunks(data)), partial: false };
    });
    assert.deepEqual(offsets, [123_456]);
    assert.equal(r.resumedFrom, 123_456);
    assert.equal(r.transferred, data.length - 123_456);
    assert.ok(readFileSync(s.path(digest)).equals(data), honoursRange ? 'range honoured' : 'range ignored');
    assert.ok(!existsSync(`${s.path(digest)}.partial`));
  }
});

test('a dropped connection mid-blob is retried from where the partial ends', async () => {
  const s = store();
  const offsets: number[] = [];
  const r = await s.fetch(digest, data.length, async (offset) => {
    offsets.push(offset);
    if (offsets.length === 1) {
      // 100 000 bytes, then the connection resets.
      let sent = false;
      const body = new Readable({
        read() {
          if (!sent) {
            sent = true;
            this.push(data.subarray(0, 100_000));
          } else this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        },
      });
      return { body, partial: false };
    }
    return { body: Readable.from(chunks(data.subarray(offset))), partial: true };
  });
  assert.deepEqual(offsets, [0, 100_000]);
  assert.equal(r.how, 'fetched');
  assert.ok(readFileSync(s.path(digest)).equals(data));
});

test('concurrent fetches of one digest share one download; the partial on disk holds what arrived so far', async () => {
  const s = store();
  let opens = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const open = async () => {
    opens++;
    async function* slow() {
      yield data.subarray(0, 50_000);
      await gate;
      yield data.subarray(50_000);
    }
    return { body: Readable.from(slow()), partial: false };
  };
  const a = s.fetch(digest, data.length, open);
  const b = s.fetch(digest, data.length, open);
  const partial = `${s.path(digest)}.partial`;
  const written = () => (existsSync(partial) ? statSync(partial).size : 0);
  for (let i = 0; written() < 50_000; i++) {
    await new Promise((r) => setTimeout(r, 5));
    assert.ok(i < 400, 'the download started');
  }
  assert.equal(written(), 50_000);
  assert.ok(readFileSync(partial).equals(data.subarray(0, 50_000)));
  assert.ok(!existsSync(s.path(digest)), 'not under its final name before it is verified');
  release();
  await Promise.all([a, b]);
  assert.equal(opens, 1);
  assert.ok(readFileSync(s.path(digest)).equals(data));
  assert.ok(!existsSync(partial));
});

test('a body shorter than the blob that ends cleanly is refused without a retry, and leaves no partial', async () => {
  const s = store();
  let opens = 0;
  await assert.rejects(
    s.fetch(digest, data.length, async () => (opens++, { body: Readable.from(chunks(data.subarray(0, 200_000))), partial: false })),
    (err: Error) => err instanceof DigestMismatchError && /200000 bytes, expected 300000/.test(err.message),
  );
  assert.equal(opens, 1);
  assert.deepEqual(readdirSync(join(s.root, 'blobs', 'sha256')), []);
});

test('an aborted download is not retried, and every byte that arrived is in the partial for the next run', async () => {
  const s = store();
  const ac = new AbortController();
  let opens = 0;
  const open = async () => {
    opens++;
    async function* cut() {
      yield data.subarray(0, 70_000);
      ac.abort();
      throw Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'UND_ERR_ABORTED' });
    }
    return { body: Readable.from(cut()), partial: false };
  };
  await assert.rejects(s.fetch(digest, data.length, open, { signal: ac.signal }), /aborted/);
  assert.equal(opens, 1, 'no retry once aborted');
  assert.ok(readFileSync(`${s.path(digest)}.partial`).equals(data.subarray(0, 70_000)));
  const offsets: number[] = [];
  const r = await s.fetch(digest, data.length, async (offset) => (offsets.push(offset), { body: Readable.from(chunks(data.subarray(offset))), partial: true }));
  assert.deepEqual(offsets, [70_000]);
  assert.equal(r.resumedFrom, 70_000);
  assert.ok(readFileSync(s.path(digest)).equals(data));
});
