// Runtime mirror files (pure): containerd hosts.toml per source registry, RKE2/k3s registries.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { parseRegistryTarget } from '../../../../src/bundle/install/plan.ts';
import { hostsToml, registriesYaml, runtimeMirrorFiles, type MirrorSettings } from '../../../../src/bundle/install/runtime-mirrors.ts';

const settings = (over: Partial<MirrorSettings> = {}): MirrorSettings => ({
  target: parseRegistryTarget('harbor.site:8443/astrago'),
  layout: 'by-registry',
  sources: ['docker.io', 'nvcr.io', '127.0.0.1:5001'],
  scheme: 'https',
  ca: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
  ...over,
});

test('hosts.toml: the site registry as pull/resolve host on the source path, override_path, the CA beside it', () => {
  const t = hostsToml(settings(), 'docker.io');
  assert.match(t, /^server = "https:\/\/registry-1\.docker\.io"$/m);
  assert.match(t, /^\[host\."https:\/\/harbor\.site:8443\/v2\/astrago\/docker\.io"\]$/m);
  assert.match(t, /^ {2}capabilities = \["pull", "resolve"\]$/m);
  assert.match(t, /^ {2}override_path = true$/m);
  assert.match(t, /^ {2}ca = "ca\.crt"$/m);
  assert.match(t, /\/etc\/containerd\/certs\.d\/docker\.io\/hosts\.toml/, 'says where it goes');
  assert.match(t, /config_path/);
  const port = hostsToml(settings(), '127.0.0.1:5001');
  assert.match(port, /^server = "http:\/\/127\.0\.0\.1:5001"$/m, 'a loopback source is plain HTTP, as Docker treats it');
  assert.match(port, /^\[host\."https:\/\/harbor\.site:8443\/v2\/astrago\/127\.0\.0\.1_5001"\]$/m);
  // Plain HTTP site: no CA; --insecure HTTPS: skip_verify; flat: every source on the prefix; no prefix: /v2.
  const plain = hostsToml(settings({ scheme: 'http' }), 'nvcr.io');
  assert.match(plain, /^\[host\."http:\/\/harbor\.site:8443\/v2\/astrago\/nvcr\.io"\]$/m);
  assert.doesNotMatch(plain, /ca =/);
  assert.match(hostsToml(settings({ ca: undefined, skipVerify: true }), 'nvcr.io'), /^ {2}skip_verify = true$/m);
  assert.match(hostsToml(settings({ layout: 'flat' }), 'nvcr.io'), /^\[host\."https:\/\/harbor\.site:8443\/v2\/astrago"\]$/m);
  assert.match(hostsToml(settings({ target: parseRegistryTarget('reg.lab'), layout: 'flat' }), 'nvcr.io'), /^\[host\."https:\/\/reg\.lab\/v2"\]$/m);
});

test('registries.yaml: one mirror per source registry, rewritten onto its site path; TLS for the site registry', () => {
  const doc = parse(registriesYaml(settings()));
  assert.deepEqual(doc.mirrors['docker.io'], { endpoint: ['https://harbor.site:8443'], rewrite: { '^(.*)$': 'astrago/docker.io/$1' } });
  assert.deepEqual(doc.mirrors['127.0.0.1:5001'].rewrite, { '^(.*)$': 'astrago/127.0.0.1_5001/$1' });
  assert.deepEqual(doc.configs['harbor.site:8443'].tls, { ca_file: '/etc/rancher/astrago-registry-ca.crt' });
  const flatNoPrefix = parse(registriesYaml(settings({ target: parseRegistryTarget('reg.lab'), layout: 'flat', scheme: 'http', ca: undefined })));
  assert.deepEqual(flatNoPrefix.mirrors['nvcr.io'], { endpoint: ['http://reg.lab'] }, 'nothing to rewrite');
  assert.equal(flatNoPrefix.configs, undefined);
});

test('runtimeMirrorFiles: a hosts.toml (and ca.crt) per source, one registries.yaml', () => {
  assert.deepEqual(runtimeMirrorFiles(settings()).map((f) => f.path), [
    'containerd/certs.d/127.0.0.1:5001/hosts.toml',
    'containerd/certs.d/127.0.0.1:5001/ca.crt',
    'containerd/certs.d/docker.io/hosts.toml',
    'containerd/certs.d/docker.io/ca.crt',
    'containerd/certs.d/nvcr.io/hosts.toml',
    'containerd/certs.d/nvcr.io/ca.crt',
    'registries.yaml',
  ]);
  assert.equal(runtimeMirrorFiles(settings({ scheme: 'http' })).filter((f) => f.path.endsWith('ca.crt')).length, 0);
});
