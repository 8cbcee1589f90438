// SHA256SUMS and FILE.sha256 parsing (sha256sum's format).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSha256Sums, parseSidecar } from '../../../../src/bundle/verify/sums.ts';

const A = 'a'.repeat(64);
const B = 'B'.repeat(64);

test('parseSha256Sums reads text and binary mode lines', () => {
  const r = parseSha256Sums(`${A}  charts/x-1.tgz\n${B} *./files/helm\n`);
  assert.deepEqual([...r.sums], [['charts/x-1.tgz', A], ['files/helm', 'b'.repeat(64)]]);
  assert.deepEqual(r.problems, []);
});

test('parseSha256Sums names bad and duplicate lines', () => {
  const r = parseSha256Sums(`${A}  a\nnot a sum\n${A} a-one-space-no-mode\n${A}  a\n`);
  assert.equal(r.problems.length, 3);
  assert.match(r.problems[0]!, /^SHA256SUMS:2: expected '<sha256 hex>  <path>', got 'not a sum'/);
  assert.match(r.problems[1]!, /^SHA256SUMS:3: expected/);
  assert.match(r.problems[2]!, /^SHA256SUMS:4: 'a' is listed twice/);
});

test('parseSidecar takes the first word of sha256sum output', () => {
  assert.equal(parseSidecar(`${A}  bundle.tar\n`), A);
  assert.equal(parseSidecar(`${B}\n`), 'b'.repeat(64));
  assert.equal(parseSidecar('garbage'), undefined);
});
