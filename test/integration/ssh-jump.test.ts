// Jump hosts (ssh.proxyJump) with two real sshd: a bastion on a namespace's LAN address, and
// the node on that namespace's own loopback, which nothing but the bastion can reach. The
// node's checks then run on the node (its own hostname), the bastion's host key is checked
// like the node's (unknown: refused, nothing connects), and without the jump the node is
// unreachable. Through the built binary, as a user runs it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createNamespace, type Namespace } from '../support/netns.ts';
import { createLoginUser, makeKey, startSshd, type KeyPair, type Sshd } from '../support/sshd.ts';
import { ensureBinary, runBinary } from '../support/run-binary.ts';
import { reportSchema, type Report } from '../../src/schema/report.ts';
import { parseJump } from '../../src/preflight/hosts/ssh/jump.ts';

const pid = process.pid;
let dir: string;
let ns: Namespace;
let bastion: Sshd;
let node: Sshd;
let key: KeyPair;
let login: { name: string; remove(): void };
const NODE_PORT = 2222;

before(async () => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), 'ac-fleet-jump-'));
  chmodSync(dir, 0o755);
  login = createLoginUser(`ac${pid}u`, dir);
  key = makeKey(join(dir, 'id_ed25519'));
  ns = createNamespace(`i21j${pid % 100000}`, `10.206.${200 + (pid % 50)}`);
  mkdirSync(join(dir, 'bastion'));
  mkdirSync(join(dir, 'node'));
  bastion = await startSshd({ dir: join(dir, 'bastion'), address: ns.address, ports: [22], authorizedKeys: [key.publicKey], netns: ns.name, hostname: 'bastion' });
  node = await startSshd({ dir: join(dir, 'node'), address: '127.0.0.1', ports: [NODE_PORT], authorizedKeys: [key.publicKey], netns: ns.name, hostname: 'behind-bastion' });
});
after(async () => {
  await bastion?.stop();
  await node?.stop();
  ns?.destroy();
  login?.remove();
  rmSync(dir, { recursive: true, force: true });
});

function site(file: string, knownHosts: string, where: 'node' | 'site' | 'none'): void {
  const jump = [`${login.name}@${ns.address}:22`];
  writeFileSync(
    file,
    stringify({
      apiVersion: 'astrago.io/v1',
      kind: 'Site',
      metadata: { name: 'jump-lab' },
      ...(where === 'site' ? { ssh: { proxyJump: jump } } : {}),
      nodes: [
        {
          name: 'behind',
          address: '127.0.0.1',
          roles: ['worker'],
          ssh: { user: login.name, port: NODE_PORT, keyFile: key.privateKeyFile, knownHostsFile: knownHosts, ...(where === 'node' ? { proxyJump: jump } : {}) },
        },
      ],
    }),
  );
}

const env = () => ({ PATH: process.env.PATH, HOME: dir });
const one = (r: Report, id: string) => r.results.find((x) => x.id === id && x.node === 'behind');

test('through the bastion: the node is reached and checked on itself, per node or for the whole site', async () => {
  const kh = join(dir, 'known_hosts');
  writeFileSync(kh, `${bastion.knownHostsLine(22)}\n${node.knownHostsLine(NODE_PORT)}\n`);
  for (const where of ['node', 'site'] as const) {
    const file = join(dir, `site-${where}.yaml`);
    site(file, kh, where);
    const r = await runBinary(['--site', file, '--only', 'ssh.,os.hostname', '--format', 'json', '--timeout', '10s'], { env: env(), timeoutMs: 60_000 });
    assert.ok(r.code === 0 || r.code === 1, `${where}: exit ${r.code}: ${r.stderr}`);
    const report = reportSchema.parse(JSON.parse(r.stdout));
    assert.equal(one(report, 'ssh.reachable')?.status, 'pass', `${where}: ${one(report, 'ssh.reachable')?.message}`);
    assert.equal(one(report, 'ssh.hostkey')?.status, 'pass');
    assert.equal(one(report, 'os.hostname')?.facts.hostname, 'behind-bastion', 'the checks ran on the node, not on the bastion');
  }
});

test('without the jump the node cannot be reached; an unknown bastion key is refused like a node key', async () => {
  const kh = join(dir, 'known_hosts-node-only');
  writeFileSync(kh, `${node.knownHostsLine(NODE_PORT)}\n`);
  const direct = join(dir, 'site-direct.yaml');
  site(direct, kh, 'none');
  const d = reportSchema.parse(JSON.parse((await runBinary(['--site', direct, '--only', 'ssh.', '--format', 'json', '--timeout', '5s'], { env: env(), timeoutMs: 60_000 })).stdout));
  assert.equal(one(d, 'ssh.reachable')?.status, 'fail', 'the node listens only behind the bastion');

  const jumped = join(dir, 'site-unknown-bastion.yaml');
  site(jumped, kh, 'node');
  const before = readFileSync(kh, 'utf8');
  const r = await runBinary(['--site', jumped, '--only', 'ssh.', '--format', 'json', '--timeout', '5s'], { env: env(), timeoutMs: 60_000 });
  assert.equal(r.code, 1);
  const reach = one(reportSchema.parse(JSON.parse(r.stdout)), 'ssh.reachable')!;
  assert.equal(reach.status, 'fail');
  assert.match(reach.message, new RegExp(`jump host ${login.name}@${ns.address.replace(/\./g, '\\.')}:22: host key of jump host .* is not in `));
  assert.ok(reach.message.includes(bastion.hostKeyFingerprint), 'the presented fingerprint, to compare on the console');
  assert.equal(readFileSync(kh, 'utf8'), before, 'nothing recorded without --accept-new-host-keys');
});

test('proxyJump entries parse as OpenSSH writes them', () => {
  assert.deepEqual(parseJump('ops@bastion.acme:2222'), { user: 'ops', host: 'bastion.acme', port: 2222, spec: 'ops@bastion.acme:2222' });
  assert.deepEqual(parseJump('10.0.0.1'), { host: '10.0.0.1', port: 22, spec: '10.0.0.1' });
  assert.deepEqual(parseJump('u@[fd00::1]:22'), { user: 'u', host: 'fd00::1', port: 22, spec: 'u@[fd00::1]:22' });
  assert.throws(() => parseJump('u@host:99999'), /expected \[user@\]host\[:port\]/);
  assert.throws(() => parseJump('a b'), /expected/);
});
