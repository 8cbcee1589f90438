// One settlement per running command: its end, an error, an abort or its timeout, whichever is first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { settleOnce } from '../../../../src/preflight/hosts/settle-once.ts';

function arm(opts: { signal?: AbortSignal; timeoutMs?: number }) {
  const events: string[] = [];
  let settlement!: ReturnType<typeof settleOnce>;
  const promise = new Promise<string>((resolve, reject) => {
    settlement = settleOnce({
      ...opts,
      kill: () => events.push('kill'),
      reject: (err) => {
        events.push('reject');
        reject(err);
      },
      onTimeout: () => resolve('timed out'),
    });
  });
  return { events, settlement, promise };
}

test('the first settlement wins; the timer and the abort listener go with it', async () => {
  const ac = new AbortController();
  const events: string[] = [];
  const p = new Promise<string>((resolve, reject) => {
    const s = settleOnce({ signal: ac.signal, timeoutMs: 50, kill: () => events.push('kill'), reject, onTimeout: () => resolve('timed out') });
    s.finish(() => resolve('ended'));
    assert.equal(s.done, true);
    s.finish(() => resolve('again'));
  });
  assert.equal(await p, 'ended');
  ac.abort(new Error('late'));
  await sleep(80);
  assert.deepEqual(events, [], 'neither the late abort nor the timer killed anything');
});

test('an abort kills first, then rejects with the signal reason', async () => {
  const ac = new AbortController();
  const { events, settlement, promise } = arm({ signal: ac.signal });
  setTimeout(() => ac.abort(new Error('stop now')), 10);
  await assert.rejects(promise, /stop now/);
  assert.deepEqual(events, ['kill', 'reject']);
  assert.equal(settlement.done, true);
});

test('the timeout kills, then settles through onTimeout; no timeoutMs, no timer', async () => {
  const t = arm({ timeoutMs: 20 });
  assert.equal(await t.promise, 'timed out');
  assert.deepEqual(t.events, ['kill']);
  const none = arm({});
  await sleep(30);
  assert.equal(none.settlement.done, false);
  none.settlement.finish(() => {});
  assert.deepEqual(none.events, []);
});
