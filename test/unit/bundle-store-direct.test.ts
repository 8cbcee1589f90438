// The cache copy of a registry blob goes to disk with direct I/O (direct-io.ts):
// whole aligned batches direct, the tail and anything unaligned through the
// page cache, the bytes the same either way. Blobs come from a real HTTP
// server on loopback through undici's dispatch API, as from a registry.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AlignedBatchPool, DIRECT_ALIGN, directIoEnabled, isDirectRefusal } from '../../src/bundle/direct-io.ts';
import { blobGet } from '../../src/bundle/registry/blob-get.ts';
import { Transport } from '../../src/bundle/registry/transport.ts';
import { ContentStore, type BlobOpener } from '../../src/bundle/store.ts';
import { tempDir } from '../support/temp.ts';

const MiB = 1 << 20;
const blob = randomBytes(3 * MiB + 17);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;

const server = createServer((req, res) => {
  const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
  res.writeHead(from > 0 ? 206 : 200, { 'content-length': String(blob.length - from) });
  res.end(blob.subarray(from));
}).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
const transport = new Transport({ registries: [], env: {} });
const dispatcher = transport.dispatcherFor(host, transport.settingsFor(host));
after(async () => {
  await transport.close();
  server.close();
});

/** Whether the filesystem under the test's temp dirs takes O_DIRECT at all (tmpfs before Linux 6.6 does not). */
function directSupported(): boolean {
  try {
    closeSync(openSync(join(tempDir('ac-direct-'), 'probe'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT));
    return true;
  } catch (err) {
    if (isDirectRefusal(err)) return false;
    throw err;
  }
}
const skip = directSupported() ? false : 'the filesystem of the temp dir refuses O_DIRECT';

const open: BlobOpener = async (offset) => {
  const res = await blobGet(dispatcher, `http://${host}/blob`, offset > 0 ? { range: `bytes=${offset}-` } : {});
  return { body: res.body, partial: res.statusCode === 206 };
};

test('whole 1 MiB batches go to the cache with direct I/O, the 17-byte tail through the page cache; the blob is whole', { skip }, async () => {
  assert.ok(directIoEnabled());
  const store = new ContentStore(tempDir('ac-direct-'));
  const r = await store.fetch(digest, blob.length, open);
  assert.equal(r.how, 'fetched');
  assert.equal(r.direct, 3 * MiB);
  assert.ok(readFileSync(store.path(digest)).equals(blob));
});

test('a resume from an aligned partial goes on direct; from an odd offset it stays in the page cache; the blob is whole either way', { skip }, async () => {
  for (const [have, direct] of [
    [MiB, 2 * MiB],
    [123_457, 0],
  ] as const) {
    const store = new ContentStore(tempDir('ac-direct-'));
    writeFileSync(`${store.path(digest)}.partial`, blob.subarray(0, have));
    const r = await store.fetch(digest, blob.length, open);
    assert.equal(r.resumedFrom, have);
    assert.equal(r.direct, direct, `resumed from ${have}`);
    assert.ok(readFileSync(store.path(digest)).equals(blob), `resumed from ${have}`);
  }
});

test('pool batches are aligned for O_DIRECT and a heap buffer is not: the kernel refuses it with the error the writer falls back on', { skip }, () => {
  const dir = tempDir('ac-direct-');
  const fd = openSync(join(dir, 'f'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT);
  try {
    const pool = new AlignedBatchPool(MiB);
    const a = pool.take();
    const b = pool.take();
    assert.equal(a.length, MiB);
    a.fill(1);
    b.fill(2);
    assert.equal(writeSync(fd, a, 0, MiB, 0), MiB);
    assert.equal(writeSync(fd, b, 0, DIRECT_ALIGN, MiB), DIRECT_ALIGN);
    let refused: unknown;
    try {
      writeSync(fd, Buffer.alloc(DIRECT_ALIGN + 1), 1, DIRECT_ALIGN, 0);
    } catch (err) {
      refused = err;
    }
    assert.ok(isDirectRefusal(refused), `misaligned direct write: ${String(refused)}`);
    pool.give(a);
    assert.equal(pool.take(), a, 'a batch given back is handed out again');
  } finally {
    closeSync(fd);
  }
  const f = readFileSync(join(dir, 'f'));
  assert.equal(f.length, MiB + DIRECT_ALIGN);
  assert.ok(f.subarray(0, MiB).every((x) => x === 1) && f.subarray(MiB).every((x) => x === 2));
});

test('where no aligned memory can be had, plain buffers are handed out and direct I/O is off for the rest of the process', () => {
  const pool = new AlignedBatchPool(MiB, () => {
    throw new RangeError('WebAssembly.Memory(): could not allocate memory');
  });
  const b = pool.take();
  assert.equal(b.length, MiB);
  assert.equal(directIoEnabled(), false);
});
