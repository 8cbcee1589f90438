// The lock that keeps runs sharing a cache from writing one partial at once:
// real processes hold it (a live `sleep`, a pid that has exited), and two
// ContentStores download one blob from a slow in-process source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { lockBlob, type LockHolder } from '../../../../src/bundle/store/blob-lock.ts';
import { ContentStore } from '../../../../src/bundle/store/store.ts';
import { tempDir } from '../../../support/temp.ts';

/** A pid that no process has any more (a child that ran and exited). */
async function deadPid(): Promise<number> {
  const c = spawn('true');
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

test('a lock held by a live process on this host is waited for (onWait once); its release lets the waiter in', async (t) => {
  const dir = tempDir('ac-lock-');
  const partial = join(dir, 'blob.partial');
  const holder = spawn('sleep', ['30']);
  t.after(() => holder.kill());
  writeFileSync(`${partial}.lock`, JSON.stringify({ host: hostname(), pid: holder.pid }));
  const waits: LockHolder[] = [];
  let got = false;
  const taking = lockBlob(partial, { onWait: (h) => waits.push(h) }).then((release) => ((got = true), release));
  await sleep(700);
  assert.equal(got, false, 'still waiting while the holder lives');
  assert.deepEqual(waits, [{ host: hostname(), pid: holder.pid }]);
  // The holder ends its download: the lock goes, the waiter takes it and names itself in it.
  (await import('node:fs')).rmSync(`${partial}.lock`);
  const release = await taking;
  assert.equal(JSON.parse(readFileSync(`${partial}.lock`, 'utf8')).pid, process.pid);
  await release();
  assert.equal(existsSync(`${partial}.lock`), false);
  assert.equal(waits.length, 1);
});

test('a lock whose holder is gone is taken over at once: a dead pid on this host, or no refresh for 30 s (another host)', async () => {
  const dir = tempDir('ac-lock-');
  const dead = join(dir, 'a.partial');
  writeFileSync(`${dead}.lock`, JSON.stringify({ host: hostname(), pid: await deadPid() }));
  let waited = false;
  const r1 = await lockBlob(dead, { onWait: () => (waited = true) });
  assert.equal(waited, false);
  await r1();

  const remote = join(dir, 'b.partial');
  writeFileSync(`${remote}.lock`, JSON.stringify({ host: 'other-host.invalid', pid: 1 }));
  const old = new Date(Date.now() - 60_000);
  utimesSync(`${remote}.lock`, old, old);
  const r2 = await lockBlob(remote, { onWait: () => (waited = true) });
  assert.equal(waited, false);
  await r2();
  assert.deepEqual(readdirSync(dir), [], 'no lock and nothing moved aside is left');
});

test('a wait ends with the signal; a release leaves a lock that is not its own alone', async () => {
  const dir = tempDir('ac-lock-');
  const partial = join(dir, 'c.partial');
  writeFileSync(`${partial}.lock`, JSON.stringify({ host: 'other-host.invalid', pid: 1 }));
  await assert.rejects(lockBlob(partial, { signal: AbortSignal.timeout(300) }), (err: Error) => ['AbortError', 'TimeoutError'].includes(err.name));

  const mine = join(dir, 'd.partial');
  const release = await lockBlob(mine);
  // (this run stalled past the stale limit and another took the lock over)
  writeFileSync(`${mine}.lock`, JSON.stringify({ host: 'other-host.invalid', pid: 2 }));
  await release();
  assert.equal(JSON.parse(readFileSync(`${mine}.lock`, 'utf8')).pid, 2);
});

test('two stores on one cache directory download a blob once: the second waits and finds it stored', async () => {
  const root = tempDir('ac-lock-store-');
  const data = randomBytes(2_000_000);
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  let opened = 0;
  // A slow source: 20 chunks, 20 ms apart.
  const open = async (offset: number) => {
    opened++;
    async function* slow() {
      for (let i = offset; i < data.length; i += 100_000) {
        await sleep(20);
        yield data.subarray(i, Math.min(data.length, i + 100_000));
      }
    }
    return { body: Readable.from(slow()), partial: offset > 0 };
  };
  const waits: string[] = [];
  const a = new ContentStore(root);
  const b = new ContentStore(root, { onWait: (what) => waits.push(what) });
  const first = a.fetch(digest, data.length, open, { what: 'blob one' });
  await sleep(100);
  const second = b.fetch(digest, data.length, open, { what: 'blob one' });
  const [ra, rb] = await Promise.all([first, second]);
  assert.deepEqual([ra.how, rb.how], ['fetched', 'cached']);
  assert.equal(opened, 1, 'one download');
  assert.deepEqual(waits, ['blob one']);
  assert.ok(readFileSync(a.path(digest)).equals(data));
  assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), [digest.slice(7)], 'no partial, no lock left');
});
