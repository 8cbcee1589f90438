// A Helm repository index's `digest`: a sha256 string, or absent; anything else is an error
// naming the chart and the index, never a silently skipped check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickFromIndex } from '../../../../src/bundle/charts/helm-repo.ts';
import { OperationError } from '../../../../src/errors.ts';

const index = (digestLine: string) => `apiVersion: v1\nentries:\n  demo:\n    - name: demo\n      version: 1.0.0\n      urls: [demo-1.0.0.tgz]\n${digestLine}\n`;
const REPO = 'https://charts.example/repo';

test('a quoted all-digit sha256 and a sha256: prefix are accepted; no digest is no check', () => {
  const digits = '1'.repeat(64);
  assert.equal(pickFromIndex(index(`      digest: "${digits}"`), REPO, 'demo', '1.0.0').digest, `sha256:${digits}`);
  assert.equal(pickFromIndex(index(`      digest: sha256:${'ab'.repeat(32)}`), REPO, 'demo', '1.0.0').digest, `sha256:${'ab'.repeat(32)}`);
  assert.equal(pickFromIndex(index(''), REPO, 'demo', '1.0.0').digest, undefined);
});

test('a digest YAML reads as a number, or of any other type or form, is an error naming the chart and the index', () => {
  const cases: Array<[string, RegExp]> = [
    [`      digest: ${'1'.repeat(64)}`, /is a number, not a string/],
    ['      digest: 12345', /is a number/],
    ['      digest: 1.5e3', /is a number/],
    ['      digest: true', /is a boolean/],
    ['      digest: [a, b]', /is a list/],
    ['      digest: {a: 1}', /is a mapping/],
    ['      digest:', /is empty/],
    ['      digest: ""', /'' is not a sha256/],
    [`      digest: ${'A'.repeat(64)}`, /is not a sha256 \(expected 64 lowercase hex\)/],
    [`      digest: sha512:${'a'.repeat(64)}`, /is not a sha256/],
    [`      digest: ${'a'.repeat(63)}`, /is not a sha256/],
  ];
  for (const [line, re] of cases) {
    assert.throws(
      () => pickFromIndex(index(line), REPO, 'demo', '1.0.0'),
      (e: unknown) => e instanceof OperationError && e.message.startsWith(`chart demo 1.0.0: the digest in ${REPO}/index.yaml `) && re.test(e.message),
      line,
    );
  }
});

test('Helm index: version lookup, relative and absolute URLs, digest', () => {
  const idx = `apiVersion: v1\nentries:\n  harbor:\n    - version: 1.13.1\n      urls: [harbor-1.13.1.tgz]\n      digest: ${'a'.repeat(64)}\n    - version: 1.12.0\n      urls: [https://cdn.example/h-1.12.0.tgz]\n`;
  const e = pickFromIndex(idx, 'https://helm.goharbor.io', 'harbor', '1.13.1');
  assert.equal(e.url, 'https://helm.goharbor.io/harbor-1.13.1.tgz');
  assert.equal(e.digest, `sha256:${'a'.repeat(64)}`);
  const old = pickFromIndex(idx, 'https://helm.goharbor.io/sub', 'harbor', 'v1.12.0');
  assert.equal(old.url, 'https://cdn.example/h-1.12.0.tgz');
  assert.equal(old.digest, undefined);
  assert.equal(pickFromIndex(idx.replace('harbor-1.13.1.tgz', 'charts/harbor-1.13.1.tgz'), 'http://r:8080/repo', 'harbor', '1.13.1').url, 'http://r:8080/repo/charts/harbor-1.13.1.tgz');
  assert.throws(() => pickFromIndex(idx, 'u', 'harbor', '9.9.9'), /version not found.*newest: 1\.13\.1, 1\.12\.0/);
  assert.throws(() => pickFromIndex(idx, 'u', 'nope', '1'), /no chart named 'nope'/);
});
