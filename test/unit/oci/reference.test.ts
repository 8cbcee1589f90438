import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiHost, formatReference, isLoopbackHost, parseReference } from '../../../src/oci/reference.ts';

const D = 'sha256:' + 'ab'.repeat(32);

test('Docker Hub defaults: docker.io, library/, latest', () => {
  assert.deepEqual(parseReference('nginx'), { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined });
  assert.equal(formatReference(parseReference('nginx:1.25')), 'docker.io/library/nginx:1.25');
  assert.equal(formatReference(parseReference('bitnami/keycloak:21.1.2')), 'docker.io/bitnami/keycloak:21.1.2');
  assert.equal(formatReference(parseReference('index.docker.io/library/redis:7')), 'docker.io/library/redis:7');
  assert.equal(apiHost('docker.io'), 'registry-1.docker.io');
});

test('registries with dots, ports, localhost and IPv6', () => {
  assert.deepEqual(parseReference('nvcr.io/nvidia/gpu-operator:v25.3.2'), { registry: 'nvcr.io', repository: 'nvidia/gpu-operator', tag: 'v25.3.2', digest: undefined });
  assert.equal(parseReference('localhost:5000/x').registry, 'localhost:5000');
  assert.equal(parseReference('localhost/x:1').registry, 'localhost');
  assert.equal(parseReference('127.0.0.1:5000/a/b:2').repository, 'a/b');
  assert.equal(parseReference('[::1]:5000/x').registry, '[::1]:5000');
  assert.ok(isLoopbackHost('127.0.0.1:5000') && isLoopbackHost('[::1]:5000') && isLoopbackHost('localhost'));
  assert.ok(!isLoopbackHost('harbor.acme:443'));
});

test('digests, with and without a tag', () => {
  const r = parseReference(`registry.k8s.io/pause@${D}`);
  assert.equal(r.digest, D);
  assert.equal(r.tag, undefined);
  assert.equal(formatReference(r), `registry.k8s.io/pause@${D}`);
  const both = parseReference(`ghcr.io/a/b:1.0@${D}`);
  assert.equal(both.tag, '1.0');
  assert.equal(formatReference(both), `ghcr.io/a/b:1.0@${D}`);
});

test('bad references are refused with a reason', () => {
  assert.throws(() => parseReference('Nginx'), /lowercase/);
  assert.throws(() => parseReference('nginx:'), /tag '' is not valid/);
  assert.throws(() => parseReference('nginx@sha256:abc'), /64 lowercase hex/);
  assert.throws(() => parseReference('a b'), /whitespace/);
  assert.throws(() => parseReference(''), /empty/);
  assert.throws(() => parseReference('host.io/'), /repository component ''|no repository/);
  assert.throws(() => parseReference('foo..bar/x'), /registry|component/);
});
