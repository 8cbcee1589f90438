// preflight registry.mirror on the built binary, against the files a real `bundle install`
// wrote: /etc/containerd is a private bind mount (a mount namespace of the test's own,
// `unshare -m`) holding config.toml and the copied certs.d, read by the real probe through
// the local Host, and through an SSH node (a real sshd started in such a namespace);
// containerd --version is the real binary's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPki, type Pki } from '../support/pki.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLayout, singlePlatformImage } from '../support/images.ts';
import { buildBundle } from '../support/bundle-fixture.ts';
import { runBinary } from '../support/run-binary.ts';
import { freePort } from '../support/process.ts';
import { makeKey, startSshd, type Sshd } from '../support/sshd.ts';

let dir: string;
let pki: Pki;
let site: TestRegistry;
let chartsDir: string;
let siteFile: string;
let sshd: Sshd | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-pf-mirror-'));
  pki = createPki(mkdtempSync(join(tmpdir(), 'ac-pf-mirror-pki-')));
  const lay = createLayout(join(dir, 'layout'));
  await singlePlatformImage(lay, 'app', { layerSizes: [20_000] });
  const bundle = await buildBundle({ out: join(dir, 'b.tar'), layout: lay.dir, images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }, { ref: 'quay.io/team/app:1.0', name: 'app' }] });
  site = await startRegistry({ tls: pki });
  chartsDir = join(dir, 'astrago-charts');
  const r = await runBinary(['bundle', 'install', bundle.file, '--registry', `${site.host}/astrago`, '--ca-file', site.caFile!, '--charts-dir', chartsDir], { env: { PATH: process.env.PATH, HOME: dir } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  siteFile = join(dir, 'site.yaml');
  writeFileSync(siteFile, `apiVersion: astrago.io/v1\nkind: Site\nmetadata: {name: lab}\nregistry:\n  url: https://${site.host}/astrago\n  caFile: ${site.caFile}\n  mirrors: [docker.io, quay.io]\n`);
});

after(async () => {
  await sshd?.stop();
  await site?.stop();
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A node's /etc/containerd: config.toml (with or without config_path) and what was copied into certs.d. */
const IN_NAMESPACE = (etc: string) => ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /etc/containerd && shift && exec "$@"', 'sh', etc];

function nodeEtc(name: string, opts: { configPath: boolean; copy: string[] }): string {
  const etc = join(dir, `etc-${name}`);
  mkdirSync(join(etc, 'certs.d'), { recursive: true });
  writeFileSync(join(etc, 'config.toml'), `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${opts.configPath ? '/etc/containerd/certs.d' : ''}"\n`);
  for (const h of opts.copy) cpSync(join(chartsDir, 'containerd', 'certs.d', h), join(etc, 'certs.d', h), { recursive: true });
  return etc;
}

async function preflight(etc: string, file = siteFile): Promise<{ code: number | null; results: Array<{ id: string; status: string; message: string; remediation?: string; checklist?: string; category: string }> }> {
  const wrap = IN_NAMESPACE(etc);
  const r = await runBinary(['preflight', '--site', file, '--only', 'registry.mirror', '--format', 'json'], { wrap, env: { PATH: process.env.PATH, HOME: dir } });
  assert.ok(r.code === 0 || r.code === 1, r.stdout + r.stderr);
  return { code: r.code, results: JSON.parse(r.stdout).results };
}

test('the files bundle install wrote, copied to the node with config_path set: a pass per listed registry', async () => {
  const { code, results } = await preflight(nodeEtc('good', { configPath: true, copy: ['docker.io', 'quay.io'] }));
  assert.equal(code, 0, JSON.stringify(results, null, 1));
  assert.deepEqual(results.map((r) => [r.id, r.status, r.checklist, r.category]), [
    ['registry.mirror[docker.io]', 'pass', 'REG-04', 'registry'],
    ['registry.mirror[quay.io]', 'pass', 'REG-04', 'registry'],
  ]);
  assert.match(results[0]!.message, new RegExp(`docker\\.io pulls go to https://${site.host}/v2/astrago/docker\\.io .*CA /etc/containerd/certs\\.d/docker\\.io/ca\\.crt`));
});

test('config_path unset: one failure naming the setting and the files to copy', async () => {
  const { code, results } = await preflight(nodeEtc('nopath', { configPath: false, copy: ['docker.io', 'quay.io'] }));
  assert.equal(code, 1);
  assert.equal(results.length, 1);
  assert.equal(results[0]!.status, 'fail');
  assert.match(results[0]!.message, /containerd 1\.\d+\.\d+\S* reads no hosts\.toml: \/etc\/containerd\/config\.toml does not set the CRI registry config_path/);
  assert.match(results[0]!.remediation!, /config_path = "\/etc\/containerd\/certs\.d"/);
  assert.match(results[0]!.remediation!, /copy astrago-charts\/containerd\/certs\.d\/docker\.io\/ .*to \/etc\/containerd\/certs\.d\/docker\.io\//);
});

test('a registry not copied, and a CA file missing: each fails with the file to copy', async () => {
  const etc = nodeEtc('partial', { configPath: true, copy: ['docker.io'] });
  rmSync(join(etc, 'certs.d', 'docker.io', 'ca.crt'));
  const { code, results } = await preflight(etc);
  assert.equal(code, 1);
  const by = Object.fromEntries(results.map((r) => [r.id, r]));
  assert.equal(by['registry.mirror[docker.io]']!.status, 'fail');
  assert.match(by['registry.mirror[docker.io]']!.message, /the CA file \/etc\/containerd\/certs\.d\/docker\.io\/ca\.crt it names for .* does not exist on this node/);
  assert.equal(by['registry.mirror[quay.io]']!.status, 'fail');
  assert.match(by['registry.mirror[quay.io]']!.message, /no hosts\.toml for quay\.io in \/etc\/containerd\/certs\.d/);
  assert.match(by['registry.mirror[quay.io]']!.remediation!, /copy astrago-charts\/containerd\/certs\.d\/quay\.io\//);
});

test('over SSH: the node (an sshd in its own mount namespace) is checked through its own files', async () => {
  const nodeDir = mkdtempSync(join(dir, 'sshd-'));
  const key = makeKey(join(nodeDir, 'id_ed25519'));
  const port = await freePort();
  const etc = nodeEtc('ssh', { configPath: true, copy: ['docker.io'] });
  sshd = await startSshd({ dir: nodeDir, address: '127.0.0.1', ports: [port], authorizedKeys: [key.publicKey], wrap: IN_NAMESPACE(etc) });
  writeFileSync(join(nodeDir, 'known_hosts'), sshd.knownHostsLine(port) + '\n');
  const fleet = join(dir, 'site-ssh.yaml');
  writeFileSync(
    fleet,
    readFileSync(siteFile, 'utf8') + `nodes:\n  - name: gpu-1\n    address: 127.0.0.1\n    roles: [gpu-worker]\n    ssh: {user: root, port: ${port}, keyFile: ${key.privateKeyFile}, knownHostsFile: ${join(nodeDir, 'known_hosts')}}\n`,
  );
  // This machine's own /etc/containerd (no certs.d) plays no part: only the node's files count.
  const r = await runBinary(['preflight', '--site', fleet, '--only', 'registry.mirror', '--format', 'json'], { env: { PATH: process.env.PATH, HOME: dir } });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const results = JSON.parse(r.stdout).results as Array<{ id: string; node: string; status: string; message: string }>;
  assert.deepEqual(results.map((x) => [x.node, x.id, x.status]).sort(), [
    ['gpu-1', 'registry.mirror[docker.io]', 'pass'],
    ['gpu-1', 'registry.mirror[quay.io]', 'fail'],
  ]);
  assert.match(results.find((x) => x.id === 'registry.mirror[docker.io]')!.message, /\/etc\/containerd\/certs\.d\/docker\.io\/hosts\.toml/);
});
