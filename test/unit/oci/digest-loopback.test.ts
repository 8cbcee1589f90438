// The one digest parser (src/oci/digest.ts) and the one loopback rule (src/loopback.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hexOf, isDigest, isSha256Hex, sha256Digest } from '../../../src/oci/digest.ts';
import { isLoopbackName } from '../../../src/loopback.ts';
import { isLoopbackHost } from '../../../src/oci/reference.ts';
import { isLoopback } from '../../../src/preflight/net/no-proxy.ts';

const hex = 'a'.repeat(64);

test('digests: sha256 with 64 lowercase hex digits only', () => {
  assert.equal(isDigest(`sha256:${hex}`), true);
  for (const bad of [`sha256:${hex.toUpperCase()}`, `sha512:${hex}`, `sha256:${hex}0`, hex, 42, undefined]) assert.equal(isDigest(bad), false, String(bad));
  assert.equal(isSha256Hex(hex), true);
  assert.equal(isSha256Hex(`sha256:${hex}`), false);
  assert.equal(hexOf(`sha256:${hex}`), hex);
  assert.throws(() => hexOf('md5:abc'), /unsupported digest md5:abc/);
  assert.equal(sha256Digest(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('loopback: one rule for the registry transport and the preflight proxy checks', () => {
  const cases: Array<[string, boolean]> = [['localhost', true], ['LOCALHOST', true], ['registry.localhost', true], ['127.0.0.1', true], ['127.8.9.10', true], ['::1', true], ['[::1]', true], ['10.0.0.1', false], ['localhost.example.com', false], ['128.0.0.1', false], ['::2', false], ['harbor', false]];
  for (const [host, want] of cases) {
    assert.equal(isLoopbackName(host), want, host);
    assert.equal(isLoopback(host), want, `preflight ${host}`);
  }
  assert.equal(isLoopbackHost('127.0.0.1:5000'), true);
  assert.equal(isLoopbackHost('[::1]:5000'), true);
  assert.equal(isLoopbackHost('registry.localhost:5000'), true, 'the same rule as preflight (it used to differ)');
  assert.equal(isLoopbackHost('10.1.2.3:5000'), false);
});
