// registry.mirror judged on recorded facts, and containerd's config.toml / hosts.toml parsed
// from the shapes containerd documents (and bundle install writes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canPull, parseConfigPath, parseHostsToml, parseImports } from '../../../../../src/preflight/checks/network/containerd-hosts.ts';
import { judgeRegistryMirror, type RegistryMirrorFacts } from '../../../../../src/preflight/checks/network/registry-mirror.ts';
import { hostsToml, registriesYaml } from '../../../../../src/bundle/install/runtime-mirrors.ts';
import { parseRegistriesYaml } from '../../../../../src/preflight/checks/network/rancher-registries.ts';
import { parseRegistryTarget } from '../../../../../src/bundle/install/plan.ts';

test('config_path: containerd 1.x and 2.x tables, several directories, unset, imports', () => {
  const v1 = `version = 2\nimports = ["/etc/containerd/conf.d/*.toml", "extra.toml"]\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri".registry]\n    config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"   # two\n`;
  assert.deepEqual(parseConfigPath(v1), { dirs: ['/etc/containerd/certs.d', '/etc/docker/certs.d'], table: 'plugins."io.containerd.grpc.v1.cri".registry', line: 5 });
  assert.deepEqual(parseImports(v1), ['/etc/containerd/conf.d/*.toml', 'extra.toml']);
  const v2 = `version = 3\n[plugins.'io.containerd.cri.v1.images'.registry]\nconfig_path = '/etc/containerd/certs.d'\n`;
  assert.deepEqual(parseConfigPath(v2)?.dirs, ['/etc/containerd/certs.d']);
  const dotted = `[plugins."io.containerd.grpc.v1.cri"]\n  registry.config_path = "/x"\n`;
  assert.deepEqual(parseConfigPath(dotted)?.dirs, ['/x']);
  assert.equal(parseConfigPath(`[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = ""\n`), undefined, 'containerd 1.x default: empty');
  assert.equal(parseConfigPath(`[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://x"]\n`), undefined);
  assert.equal(parseConfigPath(`# config_path = "/etc/containerd/certs.d"\n`), undefined);
});

test('hosts.toml: what bundle install writes parses back; server-only files; capabilities', () => {
  const written = hostsToml({ target: parseRegistryTarget('harbor.lab:8443/astrago'), layout: 'by-registry', sources: ['docker.io'], scheme: 'https', ca: 'PEM' }, 'docker.io');
  const h = parseHostsToml(written);
  assert.equal(h.server, 'https://registry-1.docker.io');
  assert.deepEqual(h.hosts, [{ url: 'https://harbor.lab:8443/v2/astrago/docker.io', capabilities: ['pull', 'resolve'], overridePath: true, ca: ['ca.crt'] }]);
  const server = parseHostsToml(`server = "https://harbor.lab"\nca = ["/etc/pki/a.pem", "/etc/pki/b.pem"]\nskip_verify = false\n`);
  assert.deepEqual(server.serverEntry, { url: 'https://harbor.lab', ca: ['/etc/pki/a.pem', '/etc/pki/b.pem'], skipVerify: false });
  assert.equal(canPull({ url: 'x' }), true, 'no capabilities listed: containerd allows all');
  assert.equal(canPull({ url: 'x', capabilities: ['pull'] }), false, 'resolve is needed for a tag');
});

const base = (over: Partial<RegistryMirrorFacts> = {}): RegistryMirrorFacts => ({
  registry: 'harbor.lab',
  sitePath: '',
  mirrors: ['docker.io', 'quay.io'],
  containerd: { installed: true, version: '1.6.20', major: 1, configFound: true, configPath: { dirs: ['/etc/containerd/certs.d'], table: 't', line: 3, file: '/etc/containerd/config.toml' } },
  dirs: ['/etc/containerd/certs.d'],
  hosts: [
    { registry: 'docker.io', file: '/etc/containerd/certs.d/docker.io/hosts.toml', urls: ['https://harbor.lab/v2/docker.io'], siteHosts: [{ url: 'https://harbor.lab/v2/docker.io', capabilities: ['pull', 'resolve'], caFiles: [{ path: '/etc/containerd/certs.d/docker.io/ca.crt', exists: true }] }] },
    { registry: 'quay.io', file: '/etc/containerd/certs.d/quay.io/hosts.toml', urls: ['https://harbor.lab/v2/quay.io'], siteHosts: [{ url: 'https://harbor.lab/v2/quay.io', caFiles: [] }] },
  ],
  ...over,
});

test('registry.mirror: a pass per listed registry when each points at the site registry with its CA', () => {
  const r = judgeRegistryMirror(base());
  assert.deepEqual(r.map((j) => [j.id, j.status]), [['registry.mirror[docker.io]', 'pass'], ['registry.mirror[quay.io]', 'pass']]);
  assert.match(r[0]!.message, /docker\.io pulls go to https:\/\/harbor\.lab\/v2\/docker\.io .*CA \/etc\/containerd\/certs\.d\/docker\.io\/ca\.crt/);
});

test('registry.mirror: no config_path, no hosts.toml, pointing elsewhere, missing CA, wrong prefix; remediation names the files', () => {
  const noPath = judgeRegistryMirror(base({ containerd: { installed: true, version: '1.6.20', major: 1, configFound: true }, dirs: [] }));
  assert.equal(noPath.length, 1);
  assert.equal(noPath[0]!.status, 'fail');
  assert.match(noPath[0]!.message, /does not set the CRI registry config_path/);
  assert.match(noPath[0]!.remediation!, /config_path = "\/etc\/containerd\/certs\.d"/);
  assert.match(noPath[0]!.remediation!, /copy astrago-charts\/containerd\/certs\.d\/docker\.io\/ .* to \/etc\/containerd\/certs\.d\/docker\.io\//);
  assert.match(noPath[0]!.remediation!, /certs\.d\/quay\.io\//);

  const hosts = base().hosts!;
  const missing = judgeRegistryMirror(base({ hosts: [{ registry: 'docker.io', siteHosts: [], urls: [] }, hosts[1]!] }));
  assert.equal(missing[0]!.status, 'fail');
  assert.match(missing[0]!.message, /no hosts\.toml for docker\.io in \/etc\/containerd\/certs\.d/);
  assert.match(missing[0]!.remediation!, /copy astrago-charts\/containerd\/certs\.d\/docker\.io\/ \(hosts\.toml and ca\.crt/);
  assert.equal(missing[1]!.status, 'pass');

  const elsewhere = judgeRegistryMirror(base({ hosts: [{ registry: 'docker.io', file: '/etc/containerd/certs.d/docker.io/hosts.toml', siteHosts: [], urls: ['https://mirror.gcr.io'] }] }));
  assert.match(elsewhere[0]!.message, /points at https:\/\/mirror\.gcr\.io, not at harbor\.lab/);

  const noCa = judgeRegistryMirror(base({ hosts: [{ ...hosts[0]!, siteHosts: [{ ...hosts[0]!.siteHosts[0]!, caFiles: [{ path: '/etc/containerd/certs.d/docker.io/ca.crt', exists: false }] }] }] }));
  assert.equal(noCa[0]!.status, 'fail');
  assert.match(noCa[0]!.message, /the CA file \/etc\/containerd\/certs\.d\/docker\.io\/ca\.crt it names for harbor\.lab does not exist/);

  const noPull = judgeRegistryMirror(base({ hosts: [{ ...hosts[1]!, siteHosts: [{ url: 'https://harbor.lab/v2/quay.io', capabilities: ['push'], caFiles: [] }] }] }));
  assert.match(noPull[0]!.message, /lacks the pull\/resolve capabilities/);

  const prefix = judgeRegistryMirror(base({ sitePath: '/astrago' }));
  assert.equal(prefix[0]!.status, 'warn');
  assert.match(prefix[0]!.message, /not under the site registry's path \/astrago/);
});

test('registry.mirror: skips without mirrors, registry or containerd; a bad URL fails', () => {
  assert.equal(judgeRegistryMirror({ mirrors: [] })[0]!.status, 'skip');
  assert.equal(judgeRegistryMirror({ mirrors: ['docker.io'] })[0]!.status, 'skip');
  const none = judgeRegistryMirror(base({ containerd: { installed: false, configFound: false } }));
  assert.equal(none[0]!.status, 'skip');
  assert.match(none[0]!.message, /containerd is not installed/);
  assert.equal(judgeRegistryMirror({ mirrors: ['docker.io'], error: "registry.url 'x y' is not a valid address" })[0]!.status, 'fail');
});

test('RKE2/k3s: the registries.yaml bundle install writes passes; a missing mirror, another endpoint, a missing CA, no rewrite fail or warn', () => {
  const written = registriesYaml({ target: parseRegistryTarget('harbor.lab:8443/astrago'), layout: 'by-registry', sources: ['docker.io', 'quay.io'], scheme: 'https', ca: 'PEM' });
  const f = parseRegistriesYaml('/etc/rancher/rke2/registries.yaml', written, 'harbor.lab:8443');
  assert.deepEqual(f.mirrors['docker.io'], { endpoints: ['harbor.lab:8443'], rewrites: ['astrago/docker.io/$1'] });
  assert.equal(f.caFile, '/etc/rancher/astrago-registry-ca.crt');
  const judge = (over: Partial<typeof f>, mirrors = ['docker.io', 'quay.io', 'nvcr.io']) =>
    judgeRegistryMirror({ registry: 'harbor.lab:8443', sitePath: '/astrago', mirrors, rancher: { ...f, caExists: true, ...over } });
  const r = judge({});
  assert.deepEqual(r.map((j) => [j.id, j.status]), [['registry.mirror[docker.io]', 'pass'], ['registry.mirror[quay.io]', 'pass'], ['registry.mirror[nvcr.io]', 'fail']]);
  assert.match(r[0]!.message, /docker\.io pulls go to harbor\.lab:8443 \(rewrite to astrago\/docker\.io\/\$1\) \(\/etc\/rancher\/rke2\/registries\.yaml, CA \/etc\/rancher\/astrago-registry-ca\.crt\)/);
  assert.match(r[2]!.message, /has no mirror for nvcr\.io/);
  assert.match(r[2]!.remediation!, /copy astrago-charts\/registries\.yaml .* to \/etc\/rancher\/rke2\/registries\.yaml/);
  assert.match(judge({ caExists: false }, ['docker.io'])[0]!.message, /the CA file \/etc\/rancher\/astrago-registry-ca\.crt it names for harbor\.lab:8443 does not exist/);
  assert.match(judge({ mirrors: { 'docker.io': { endpoints: ['mirror.gcr.io'], rewrites: [] } } }, ['docker.io'])[0]!.message, /mirrors docker\.io to mirror\.gcr\.io, not to harbor\.lab:8443/);
  assert.equal(judge({ mirrors: { 'docker.io': { endpoints: ['harbor.lab:8443'], rewrites: [] } } }, ['docker.io'])[0]!.status, 'warn', 'no rewrite onto /astrago');
  assert.equal(judge({ mirrors: { '*': { endpoints: ['harbor.lab:8443'], rewrites: ['astrago/any/$1'] } } }, ['docker.io'])[0]!.status, 'pass', "a '*' mirror serves every registry");
  assert.equal(parseRegistriesYaml('/x', 'mirrors: [', 'h').error?.startsWith('not valid YAML'), true);
});
