import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, Progress } from '../../src/bundle/progress.ts';

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
