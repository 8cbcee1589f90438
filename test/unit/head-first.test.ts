// Head-first pacing (src/bundle/head-first.ts) with the utilisation given by the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadFirst } from '../../src/bundle/head-first.ts';

function paced(start = 0) {
  let u = start;
  const pace = new HeadFirst({ utilisation: () => u, sampleMs: 60_000 });
  return { pace, set: (v: number) => (u = v) };
}

test('downloads all read while the process keeps up; a busy main thread lets only the one earliest in the tar read', () => {
  const { pace, set } = paced(0.3);
  const woken: number[] = [];
  const turns = [5, 2, 9].map((rank) => {
    const t = pace.join(rank);
    t.onWake(() => woken.push(rank));
    return t;
  });
  pace.sample();
  assert.deepEqual(turns.map((t) => t.mayRead()), [true, true, true]);
  set(0.97);
  pace.sample();
  assert.equal(pace.serial, true);
  assert.deepEqual(turns.map((t) => t.mayRead()), [false, true, false], 'rank 2 is the head');
  // The head ends: the next in tar order (5) is woken and reads; 9 still waits.
  turns[1]!.leave();
  assert.deepEqual(woken, [5]);
  assert.deepEqual([turns[0]!.mayRead(), turns[2]!.mayRead()], [true, false]);
  // Utilisation between the thresholds keeps the mode (hysteresis).
  set(0.75);
  pace.sample();
  assert.equal(pace.serial, true);
  // Below the low mark: everyone reads again, and every waiting download is woken.
  set(0.2);
  pace.sample();
  assert.equal(pace.serial, false);
  assert.deepEqual([turns[0]!.mayRead(), turns[2]!.mayRead()], [true, true]);
  assert.deepEqual(woken.slice(1).sort(), [5, 9]);
  assert.equal(pace.serialSpells, 1);
  for (const t of turns) t.leave();
});

test('a download joining earlier in the tar takes the turn; the last one left always reads', () => {
  const { pace } = paced(1);
  const late = pace.join(7);
  const mid = pace.join(4);
  pace.sample();
  assert.deepEqual([late.mayRead(), mid.mayRead()], [false, true]);
  const early = pace.join(1);
  assert.deepEqual([early.mayRead(), mid.mayRead(), late.mayRead()], [true, false, false]);
  let lateWoken = 0;
  late.onWake(() => lateWoken++);
  early.leave();
  mid.leave();
  assert.equal(pace.serial, false, 'one download cannot be paced against anything');
  assert.equal(late.mayRead(), true);
  assert.equal(lateWoken, 1);
  late.leave();
  late.leave(); // twice is harmless
});

test('one download never goes head-first, however busy the process', () => {
  const { pace } = paced(1);
  const only = pace.join(3);
  pace.sample();
  assert.equal(pace.serial, false);
  assert.equal(only.mayRead(), true);
  only.leave();
});

test('bytes taken out of turn are counted (what the integration test checks stays 0)', () => {
  const { pace } = paced(1);
  const a = pace.join(1);
  const b = pace.join(2);
  pace.sample();
  a.took(100);
  b.took(7);
  assert.equal(pace.outOfTurnBytes, 7);
  a.leave();
  b.leave();
});
