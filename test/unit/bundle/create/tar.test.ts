// bundle create's tar writer with a real content store and the real hash
// worker, the downloads played by hand: spans a download reports are in the
// tar while it still runs; a restart (the store started the blob over as one
// stream) voids them, and the tar holds the verified blob.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { walkTar } from '../../../../src/archive/tar-walk.ts';
import { SpanFeed } from '../../../../src/bundle/create/span-feed.ts';
import { tempTarName, writeTar, type TarEntry } from '../../../../src/bundle/create/tar.ts';
import { followHash } from '../../../../src/bundle/store/follow-hash.ts';
import { ContentStore } from '../../../../src/bundle/store/store.ts';
import { tempDir } from '../../../support/temp.ts';

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A store with a blob on its way: `partial` as the download has written it so far. */
function setup(content: Buffer, partial: Buffer) {
  const dir = tempDir('ac-tar-');
  const store = new ContentStore(join(dir, 'cache'));
  const digest = `sha256:${hex(content)}`;
  writeFileSync(`${store.path(digest)}.partial`, partial);
  let finish!: () => void;
  const download = new Promise<'fetched'>((r) => (finish = () => (writeFileSync(store.path(digest), content), r('fetched'))));
  const feed = new SpanFeed();
  const entries: TarEntry[] = [
    { path: 'bundle.yaml', size: 3, sha256: hex(Buffer.from('a:1')), data: Buffer.from('a:1') },
    { path: `images/blobs/sha256/${digest.slice(7)}`, size: content.length, sha256: digest.slice(7), blob: digest },
  ];
  const out = join(dir, 'out.tar');
  const writing = writeTar(out, entries, store, 0, { downloads: new Map([[digest, download]]), spans: new Map([[digest, feed]]) }, 2, followHash(tempTarName(out)));
  return { out, feed, finish, writing };
}

async function blobIn(tar: string): Promise<{ offset: number; bytes: Buffer }> {
  const { entries } = await walkTar(tar);
  const e = entries.find((x) => x.path.startsWith('images/'))!;
  return { offset: e.dataOffset, bytes: readFileSync(tar).subarray(e.dataOffset, e.dataOffset + e.size) };
}

test('a span the download reports is in the tar while the download still runs; the finished tar is the blob', async () => {
  const content = randomBytes(3 << 20);
  const { out, feed, finish, writing } = setup(content, content.subarray(0, 1 << 20));
  feed.add(0, 1 << 20);
  await sleep(200);
  const early = readFileSync(tempTarName(out));
  finish();
  const r = await writing;
  const { offset, bytes } = await blobIn(out);
  assert.ok(early.subarray(offset, offset + (1 << 20)).equals(content.subarray(0, 1 << 20)), 'the first span was copied in before the blob was complete');
  assert.ok(bytes.equals(content));
  assert.equal(r.sha256, hex(readFileSync(out)));
});

test('after a restart the spans reported before it are void: the tar holds the verified blob, not what the partial held', async () => {
  const content = randomBytes(2 << 20);
  const stale = randomBytes(1 << 20); // what a ranged try left before the blob started over
  const { out, feed, finish, writing } = setup(content, stale);
  feed.add(0, 1 << 20);
  await sleep(200);
  feed.restart();
  finish();
  const r = await writing;
  assert.ok((await blobIn(out)).bytes.equals(content));
  assert.equal(r.sha256, hex(readFileSync(out)));
  assert.equal(readFileSync(`${out}.sha256`, 'utf8'), `${r.sha256}  out.tar\n`);
});
