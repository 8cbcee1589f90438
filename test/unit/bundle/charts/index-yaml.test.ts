// The bundle's charts/index.yaml: a Helm repository index, the same bytes for the same charts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { helmIndexYaml } from '../../../../src/bundle/charts/index-yaml.ts';

test('charts/index.yaml is a Helm index, deterministic', () => {
  const charts = [
    { metadata: { apiVersion: 'v2', name: 'b', version: '1.0.0' }, fileName: 'b-1.0.0.tgz', digest: `sha256:${'b'.repeat(64)}` },
    { metadata: { apiVersion: 'v2', name: 'a', version: '2.0.0', appVersion: '9' }, fileName: 'a-2.0.0.tgz', digest: `sha256:${'a'.repeat(64)}` },
  ];
  const text = helmIndexYaml(charts, '1970-01-01T00:00:00Z');
  assert.equal(text, helmIndexYaml([...charts].reverse(), '1970-01-01T00:00:00Z'));
  const doc = parse(text);
  assert.equal(doc.apiVersion, 'v1');
  assert.deepEqual(Object.keys(doc.entries), ['a', 'b']);
  assert.deepEqual(doc.entries.a[0].urls, ['a-2.0.0.tgz']);
  assert.equal(doc.entries.a[0].digest, 'a'.repeat(64));
  assert.equal(doc.entries.a[0].created, '1970-01-01T00:00:00Z');
});
