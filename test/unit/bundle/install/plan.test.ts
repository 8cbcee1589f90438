// bundle install's pure parts: --registry parsing, repository mapping, values override, Helm artifact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { chartRepository, chartTag, helmArtifact, HELM_CHART_MEDIA_TYPE, HELM_CONFIG_MEDIA_TYPE, parseRegistryTarget, siteReference, valuesOverride } from '../../../../src/bundle/install/plan.ts';
import { UsageError } from '../../../../src/errors.ts';

test('parseRegistryTarget splits host, port and prefix', () => {
  assert.deepEqual(parseRegistryTarget('harbor.site.local'), { host: 'harbor.site.local', prefix: '' });
  assert.deepEqual(parseRegistryTarget('harbor.site.local/astrago'), { host: 'harbor.site.local', prefix: 'astrago' });
  assert.deepEqual(parseRegistryTarget('127.0.0.1:5000/a/b-c/'), { host: '127.0.0.1:5000', prefix: 'a/b-c' });
  assert.deepEqual(parseRegistryTarget('[::1]:5000'), { host: '[::1]:5000', prefix: '' });
});

test('parseRegistryTarget refuses schemes, bad hosts, ports and prefixes', () => {
  for (const bad of ['https://harbor.local', 'harbor.local:99999', 'harbor.local/Astrago', 'harbor.local/a//b', '-x.local', 'harbor.local/a b', '']) {
    assert.throws(() => parseRegistryTarget(bad), (e: unknown) => e instanceof UsageError && e.message.includes('--registry') && e.message.includes(bad), bad);
  }
});

test('charts land under PREFIX/charts; site references carry tag and digest', () => {
  const t = parseRegistryTarget('harbor.site.local/astrago');
  assert.equal(chartRepository(t, 'harbor'), 'astrago/charts/harbor');
  assert.equal(chartRepository(parseRegistryTarget('reg:5000'), 'harbor'), 'charts/harbor');
  assert.equal(siteReference(t, 'astrago/library/nginx', '1.25', 'sha256:ab'), 'harbor.site.local/astrago/library/nginx:1.25@sha256:ab');
  assert.equal(chartTag('1.2.3+build.4'), '1.2.3_build.4');
});

test('valuesOverride (flat) sets global.imageRegistry and maps every image', () => {
  const t = parseRegistryTarget('harbor.site.local:8443/astrago');
  const text = valuesOverride(
    t,
    [
      { original: 'docker.io/library/nginx:1.25', originalRegistry: 'docker.io', originalRepository: 'library/nginx', registry: t.host, repository: 'astrago/library/nginx', tag: '1.25', digest: 'sha256:aa' },
      { original: 'registry.k8s.io/pause@sha256:bb', originalRegistry: 'registry.k8s.io', originalRepository: 'pause', registry: t.host, repository: 'astrago/pause', digest: 'sha256:bb' },
    ],
    [{ name: 'harbor', version: '1.13.1' }],
    'flat',
  );
  assert.match(text, /^# Written by astrago-check/);
  const v = parse(text);
  assert.equal(v.global.imageRegistry, 'harbor.site.local:8443/astrago');
  assert.equal(v.astrago.images['docker.io/library/nginx:1.25'].ref, 'harbor.site.local:8443/astrago/library/nginx:1.25');
  assert.equal(v.astrago.images['registry.k8s.io/pause@sha256:bb'].ref, 'harbor.site.local:8443/astrago/pause@sha256:bb');
  assert.equal(v.astrago.charts.harbor.ref, 'oci://harbor.site.local:8443/astrago/charts/harbor');
  assert.equal(v.astrago.chartRepository, 'oci://harbor.site.local:8443/astrago/charts');
  assert.equal(v.astrago.layout, 'flat');
  assert.deepEqual(v.astrago.registries, { 'docker.io': 'harbor.site.local:8443/astrago', 'registry.k8s.io': 'harbor.site.local:8443/astrago' });
});

test('valuesOverride (by registry): global.imageRegistry only where one source registry is one path', () => {
  const t = parseRegistryTarget('harbor.site.local/astrago');
  const nginx = { original: 'docker.io/library/nginx:1.25', originalRegistry: 'docker.io', originalRepository: 'library/nginx', registry: t.host, repository: 'astrago/docker.io/library/nginx', tag: '1.25', digest: 'sha256:aa' };
  const one = parse(valuesOverride(t, [nginx], []));
  assert.equal(one.global.imageRegistry, 'harbor.site.local/astrago/docker.io', 'docker.io/<path> -> REGISTRY/PREFIX/docker.io/<path>');
  assert.equal(one.astrago.layout, 'by-registry');
  assert.equal(one.astrago.images['docker.io/library/nginx:1.25'].ref, 'harbor.site.local/astrago/docker.io/library/nginx:1.25');
  const pause = { original: 'registry.k8s.io/pause:3.9', originalRegistry: 'registry.k8s.io', originalRepository: 'pause', registry: t.host, repository: 'astrago/registry.k8s.io/pause', tag: '3.9', digest: 'sha256:bb' };
  const text = valuesOverride(t, [nginx, pause], []);
  const two = parse(text);
  assert.equal(two.global, undefined, 'no single registry fits both');
  assert.match(text, /# No global\.imageRegistry: the images come from 2 registries/);
  assert.deepEqual(two.astrago.registries, { 'docker.io': 'harbor.site.local/astrago/docker.io', 'registry.k8s.io': 'harbor.site.local/astrago/registry.k8s.io' });
});

test('helmArtifact: config is Chart.yaml as JSON in Helm order, layer is the tgz, stable digest', () => {
  const chart = { apiVersion: 'v2', version: '0.1.0', name: 'demo', description: 'd', appVersion: '1.0', type: 'application', keywords: [] };
  const a = helmArtifact(chart, { digest: 'sha256:' + 'c'.repeat(64), size: 42 });
  assert.equal(a.config.toString(), '{"name":"demo","version":"0.1.0","description":"d","apiVersion":"v2","appVersion":"1.0","type":"application"}');
  assert.equal(a.configDigest, 'sha256:' + createHash('sha256').update(a.config).digest('hex'));
  const m = JSON.parse(a.manifest.toString());
  assert.equal(m.config.mediaType, HELM_CONFIG_MEDIA_TYPE);
  assert.equal(m.config.size, a.config.length);
  assert.deepEqual(m.layers, [{ mediaType: HELM_CHART_MEDIA_TYPE, digest: 'sha256:' + 'c'.repeat(64), size: 42 }]);
  assert.equal(a.manifestDigest, 'sha256:' + createHash('sha256').update(a.manifest).digest('hex'));
  assert.equal(helmArtifact(chart, { digest: 'sha256:' + 'c'.repeat(64), size: 42 }).manifestDigest, a.manifestDigest);
});
