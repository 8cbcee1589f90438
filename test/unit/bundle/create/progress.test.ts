import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, formatTransfer, Progress, RateMeter } from '../../../../src/bundle/create/progress.ts';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, s: { isTTY, write: (x: string) => out.push(x) } };
}

test('not a terminal: one plain line per item, no control characters', () => {
  const { out, s } = sink(false);
  const p = new Progress(s);
  p.total('images', 2);
  p.item('images', 'image a done');
  p.addBytes(3 << 20);
  p.count('blobs');
  p.stop('finished');
  assert.deepEqual(out, ['image a done\n', 'finished\n']);
  assert.match(p.status(), /^images 1\/2 {2}3\.0 MiB downloaded {2}[\d.]+ [KMG]?i?B\/s$/);
});

test('terminal: a rewritten status line with items, bytes and rate; cleared before log lines', async () => {
  const { out, s } = sink(true);
  const p = new Progress(s);
  p.total('blobs', 4);
  p.count('blobs');
  p.addBytes(1536);
  await new Promise((r) => setTimeout(r, 300));
  p.log('warning: x');
  p.stop();
  const text = out.join('');
  assert.match(text, /\r\x1b\[2Kblobs 1\/4 {2}1\.5 KiB downloaded/);
  assert.match(text, /\r\x1b\[2Kwarning: x\n/);
  assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
});

test('a known total: bytes done of it, percent, rate and time left', () => {
  const MiB = 1024 ** 2;
  assert.equal(formatTransfer(120 * MiB, 240 * MiB, 24 * MiB), '120.0 MiB of 240.0 MiB  50 %  24.0 MiB/s  5 s left');
  assert.equal(formatTransfer(0, 10 * MiB, 0, ', '), '0 B of 10.0 MiB, 0 %, 0 B/s, ? left');
  // More done than expected (a retried upload): the total grows, 100 %, nothing left.
  assert.equal(formatTransfer(11 * MiB, 10 * MiB, MiB), '11.0 MiB of 11.0 MiB  100 %  1.0 MiB/s  0 s left');
  assert.equal(formatDuration(65), '1 min 05 s');
  assert.equal(formatDuration(7380), '2 h 03 min');
});

test('the rate is over the last seconds, not the whole run', () => {
  const m = new RateMeter(5000);
  assert.equal(m.sample(0, 0), 0);
  assert.equal(m.sample(1000, 1000), 1000);
  // 10 s without bytes, then 10 000 bytes in 1 s: the slow start has left the window.
  m.sample(1000, 11000);
  assert.equal(m.sample(11000, 12000), 10000);
});

test('terminal: once the bytes to come are known, the line shows them of the total', () => {
  const { s } = sink(true);
  const p = new Progress(s);
  p.total('blobs', 2);
  p.addBytes(1024);
  p.expectBytes(1024 + 4 * 1024 ** 2);
  p.addBytes(1024 ** 2);
  p.expectBytes(-(1024 ** 2)); // a resumed blob's partial
  p.stop();
  assert.match(p.status(), /^blobs 0\/2 {2}1\.0 MiB of 3\.0 MiB {2}33 % {2}[\d.]+ [KMG]?i?B\/s {2}(\d+ s|\?) left$/);
});
