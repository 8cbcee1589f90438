// network.targets, storage.nfs, ports.free, dns.resolvers and dns.nodes, run by
// the binary inside a network namespace the test creates: nftables there drops
// one port (filtered), nothing listens on another (refused), a server answers
// on a third (open); a DNS responder of the test answers on 127.0.0.1:53 of the
// namespace, which /etc/netns/NS/resolv.conf points the resolver at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { stringify } from 'yaml';
import { createNamespace, nsExec, type Namespace } from '../support/netns.ts';
import { freePort, startProcess, waitForPort, type Server } from '../support/process.ts';
import { runBinary as runCli } from '../support/run-binary.ts';
import { ROOT } from '../support/run-binary.ts';
import { makeKey, startSshd, type Sshd } from '../support/sshd.ts';
import type { Report } from '../../src/schema/report.ts';

const NS = `ac${process.pid}n`;
const PREFIX = `10.201.${(process.pid % 60) * 4 + 1}`;
const etcDir = `/etc/netns/${NS}`;
let ns: Namespace;
let dir: string;
let listener: Server;
let dns: Server;
let sshd: Sshd | undefined;
let OPEN = 0;
let REFUSED = 0;
let FILTERED = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-h3-net-'));
  ns = createNamespace(NS, PREFIX);
  // The namespace's own resolver configuration (ip netns exec bind-mounts these over /etc).
  mkdirSync(etcDir, { recursive: true });
  writeFileSync(join(etcDir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  writeFileSync(join(etcDir, 'hosts'), '127.0.0.1 localhost\n');
  [OPEN, REFUSED, FILTERED] = [await freePort(), await freePort(), await freePort()];
  nsExec(ns, ['nft', 'add', 'table', 'inet', 'ac']);
  nsExec(ns, ['nft', 'add', 'chain', 'inet', 'ac', 'input', '{ type filter hook input priority 0; policy accept; }']);
  nsExec(ns, ['nft', 'add', 'rule', 'inet', 'ac', 'input', 'tcp', 'dport', String(FILTERED), 'drop']);
  // One process holds the open port, the NFS port and the kubelet port (to be named by ports.free).
  const script = `for (const p of process.argv.slice(1)) require('node:net').createServer((s) => s.end()).listen(Number(p), '0.0.0.0');`;
  listener = startProcess([...ns.exec, process.execPath, '-e', script, String(OPEN), '2049', '10250']);
  await waitForPort(ns.address, OPEN, 10_000, listener.child);
  await waitForPort(ns.address, 2049, 10_000, listener.child);
  dns = startProcess([...ns.exec, process.execPath, join(ROOT, 'test/support/dns-server.ts'), '127.0.0.1', '53', `node-a.test=${ns.address}`]);
  await once(dns.child.stdout!, 'data');
});

after(async () => {
  await Promise.all([listener?.stop(), dns?.stop(), sshd?.stop()]);
  ns?.destroy();
  rmSync(etcDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

function site(name: string, body: Record<string, unknown>): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({ apiVersion: 'astrago.io/v1', kind: 'Site', metadata: { name }, ...body }));
  return file;
}

async function preflight(args: string[]): Promise<{ code: number | null; results: Report['results'] }> {
  const r = await runCli([...args, '--format', 'json', '--timeout', '2s'], { wrap: ns.exec, env: { PATH: process.env.PATH, HOME: '/tmp' } });
  assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr}`);
  const me = hostname();
  return { code: r.code, results: (JSON.parse(r.stdout) as Report).results.filter((x) => x.node === me) };
}

const byId = (results: Report['results']) => Object.fromEntries(results.map((r) => [r.id, r]));

test('network.targets: open, refused (closed), filtered (nft drop) and DNS failure are told apart; storage.nfs reaches 2049', async () => {
  const a = ns.address;
  const file = site('targets', {
    network: { targets: [`${a}:${OPEN}`, `${a}:${REFUSED}`, `${a}:${FILTERED}`, `node-a.test:${OPEN}`, 'missing.test:80'] },
    storage: { nfs: { server: a, path: '/export/astrago' } },
  });
  const { code, results } = await preflight(['--site', file, '--only', 'network.targets,storage.nfs']);
  const r = byId(results);
  assert.equal(code, 1);
  assert.equal(r[`network.targets[${a}:${OPEN}]`]!.status, 'pass');
  assert.equal(r[`network.targets[${a}:${REFUSED}]`]!.status, 'fail');
  assert.match(r[`network.targets[${a}:${REFUSED}]`]!.message, /closed: connection refused/);
  assert.equal((r[`network.targets[${a}:${REFUSED}]`]!.facts as { state: string }).state, 'refused');
  assert.equal(r[`network.targets[${a}:${FILTERED}]`]!.status, 'fail');
  assert.match(r[`network.targets[${a}:${FILTERED}]`]!.message, /filtered: no answer/);
  assert.equal((r[`network.targets[${a}:${FILTERED}]`]!.facts as { state: string }).state, 'filtered');
  assert.equal(r[`network.targets[node-a.test:${OPEN}]`]!.status, 'pass', 'resolved by the test DNS server');
  assert.equal(r['network.targets[missing.test:80]']!.status, 'fail');
  assert.match(r['network.targets[missing.test:80]']!.message, /does not resolve/);
  assert.equal(r['network.targets[missing.test:80]']!.checklist, 'NET-02');
  assert.equal(r['storage.nfs']!.status, 'pass', r['storage.nfs']!.message);
  assert.match(r['storage.nfs']!.message, /2049 is open/);
});

test('ports.free: a required port held by another process fails and names it', async () => {
  const { code, results } = await preflight(['--role', 'worker', '--only', 'ports.free']);
  const r = byId(results);
  assert.equal(code, 1);
  assert.equal(r['ports.free']!.status, 'fail');
  assert.match(r['ports.free']!.message, new RegExp(`10250/tcp \\(kubelet API\\) is held by node \\(pid ${listener.child.pid}\\)`));
  assert.match(r['ports.free']!.remediation!, /systemctl disable --now/);
  // 6443 is not a worker port: the same node process on 2049 and OPEN is no conflict.
  assert.ok(!/2049|6443/.test(r['ports.free']!.message));
});

test('dns.resolvers: the namespace resolver answers; a site DNS server that does not answer fails', async () => {
  const ok = await preflight(['--site', site('dns-ok', { network: { dns: ['127.0.0.1'] } }), '--only', 'dns.resolvers']);
  assert.equal(byId(ok.results)['dns.resolvers']!.status, 'pass', byId(ok.results)['dns.resolvers']!.message);
  assert.match(byId(ok.results)['dns.resolvers']!.message, /127\.0\.0\.1 \((NXDOMAIN|NOERROR)/);
  const dead = `${PREFIX}.3`; // inside the namespace subnet, held by nobody
  const bad = await preflight(['--site', site('dns-bad', { network: { dns: ['127.0.0.1', dead] } }), '--only', 'dns.resolvers']);
  const r = byId(bad.results)['dns.resolvers']!;
  assert.equal(r.status, 'fail');
  assert.match(r.message, new RegExp(`do not answer.*${dead.replace(/\./g, '\\.')}`));
});

test('dns.resolvers: a resolver without a route says so, not ECONNREFUSED', async () => {
  // Off the namespace's subnet: its unreachable default route answers, nothing is sent.
  const noRoute = `10.204.${(process.pid % 200) + 20}.9`;
  const r = byId((await preflight(['--site', site('dns-noroute', { network: { dns: ['127.0.0.1', noRoute] } }), '--only', 'dns.resolvers'])).results)['dns.resolvers']!;
  assert.equal(r.status, 'fail', r.message);
  assert.match(r.message, new RegExp(`${noRoute.replace(/\./g, '\\.')} \\(E(HOST|NET)UNREACH: (host|network) is unreachable\\)`));
  assert.doesNotMatch(r.message, /ECONNREFUSED/);
});

test('dns.nodes: node addresses resolve through the test DNS; an unknown one fails, an unresolvable node name warns', async () => {
  const oneNode = site('nodes-ok', { nodes: [{ name: 'node-a', address: 'node-a.test', roles: ['worker'], ssh: { port: 1 } }] });
  const ok = byId((await preflight(['--site', oneNode, '--local', '--only', 'dns.nodes'])).results)['dns.nodes']!;
  assert.equal(ok.status, 'warn', ok.message); // the address resolves, the short name node-a does not
  assert.match(ok.message, /node-a does not resolve/);
  const ghost = site('nodes-bad', { nodes: [{ name: 'node-a.test', address: 'node-a.test', roles: ['worker'], ssh: { port: 1 } }, { name: 'ghost.test', address: 'ghost.test', roles: ['worker'], ssh: { port: 1 } }] });
  const bad = byId((await preflight(['--site', ghost, '--local', '--only', 'dns.nodes'])).results)['dns.nodes']!;
  assert.equal(bad.status, 'fail');
  assert.match(bad.message, /node addresses do not resolve: ghost\.test/);
  assert.ok(!bad.message.includes('node-a.test ('), 'node-a.test resolved');
});

test('over SSH: the same checks run on the node itself (direct-tcpip from inside the namespace, its /proc and resolver)', async () => {
  const sshDir = join(dir, 'ssh');
  mkdirSync(sshDir, { recursive: true });
  const key = makeKey(join(sshDir, 'id'));
  sshd = await startSshd({ dir: sshDir, address: ns.address, ports: [22], authorizedKeys: [key.publicKey], netns: NS });
  const knownHosts = join(sshDir, 'known_hosts');
  writeFileSync(knownHosts, sshd.knownHostsLine(22) + '\n');
  const a = ns.address;
  const file = site('ssh', {
    nodes: [{ name: 'ns-node', address: a, roles: ['worker'], ssh: { user: 'root', keyFile: key.privateKeyFile, knownHostsFile: knownHosts } }],
    network: { targets: [`127.0.0.1:${OPEN}`, `${a}:${REFUSED}`, `${a}:${FILTERED}`, `node-a.test:${OPEN}`] },
  });
  // Run on this machine (outside the namespace): the checks travel over SSH.
  const r = await runCli(['--site', file, '--only', 'network.targets,ports.free,kernel.modules', '--format', 'json', '--timeout', '6s'], { env: { PATH: process.env.PATH, HOME: '/tmp' } });
  assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr}`);
  const results = (JSON.parse(r.stdout) as Report).results.filter((x) => x.node === 'ns-node');
  const res = byId(results);
  const state = (id: string) => (res[id]!.facts as { state: string; via: string });
  // 127.0.0.1 is the node's own loopback: only a probe that starts on the node finds the server there.
  assert.equal(res[`network.targets[127.0.0.1:${OPEN}]`]!.status, 'pass', res[`network.targets[127.0.0.1:${OPEN}]`]!.message);
  assert.equal(state(`network.targets[127.0.0.1:${OPEN}]`).via, 'ssh-forward');
  assert.equal(state(`network.targets[${a}:${REFUSED}]`).state, 'refused');
  assert.equal(state(`network.targets[${a}:${FILTERED}]`).state, 'filtered');
  assert.equal(res[`network.targets[node-a.test:${OPEN}]`]!.status, 'pass', 'resolved by the node (its resolv.conf), not by this machine');
  assert.match(res['ports.free']!.message, /10250\/tcp \(kubelet API\) is held by node/);
  assert.equal(res['kernel.modules']!.status, 'pass', res['kernel.modules']!.message);
});

test('over SSH where sshd forbids forwarding: reachability falls back to a shell probe on the node and says so; TLS is skipped with the reason', async () => {
  const sshDir = join(dir, 'ssh-nofwd');
  mkdirSync(sshDir, { recursive: true });
  const key = makeKey(join(sshDir, 'id'));
  const noFwd = await startSshd({ dir: sshDir, address: ns.address, ports: [2222], authorizedKeys: [key.publicKey], netns: NS, allowTcpForwarding: false });
  try {
    const knownHosts = join(sshDir, 'known_hosts');
    writeFileSync(knownHosts, noFwd.knownHostsLine(2222) + '\n');
    const a = ns.address;
    const file = site('ssh-nofwd', {
      nodes: [{ name: 'nofwd', address: a, roles: ['worker'], ssh: { user: 'root', port: 2222, keyFile: key.privateKeyFile, knownHostsFile: knownHosts } }],
      network: { targets: [`${a}:${OPEN}`, `${a}:${REFUSED}`, `${a}:${FILTERED}`] },
      registry: { url: `https://${a}:${OPEN}` },
    });
    const r = await runCli(['--site', file, '--only', 'network.targets,registry.tcp,registry.tls', '--format', 'json', '--timeout', '8s'], { env: { PATH: process.env.PATH, HOME: '/tmp' } });
    assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr}`);
    const res = byId((JSON.parse(r.stdout) as Report).results.filter((x) => x.node === 'nofwd'));
    const facts = (id: string) => res[id]!.facts as { state: string; via: string };
    assert.deepEqual([facts(`network.targets[${a}:${OPEN}]`).state, facts(`network.targets[${a}:${OPEN}]`).via], ['open', 'ssh-shell']);
    assert.match(res[`network.targets[${a}:${OPEN}]`]!.message, /shell probe: sshd forbids forwarding/);
    assert.equal(facts(`network.targets[${a}:${REFUSED}]`).state, 'refused');
    assert.equal(facts(`network.targets[${a}:${FILTERED}]`).state, 'filtered');
    assert.equal(res['registry.tcp']!.status, 'pass', res['registry.tcp']!.message);
    assert.match(res['registry.tcp']!.message, /shell probe on the node/);
    assert.equal(res['registry.tls']!.status, 'skip');
    assert.match(res['registry.tls']!.message, /AllowTcpForwarding no/);
  } finally {
    await noFwd.stop();
  }
});

test('kernel checks on this machine: modules built into the kernel (no /proc/modules here) pass as built in', async () => {
  const { results } = await preflight(['--only', 'kernel.']);
  const r = byId(results);
  const mods = r['kernel.modules']!;
  assert.equal(mods.status, 'pass', mods.message);
  const states = (mods.facts as { modules: Record<string, { state: string }> }).modules;
  for (const m of ['br_netfilter', 'overlay', 'nf_conntrack']) assert.ok(['builtin', 'loaded'].includes(states[m]!.state), `${m}: ${states[m]!.state}`);
  assert.equal(r['kernel.version']!.status, 'pass');
  assert.equal(r['kernel.modules']!.checklist, 'OS-03');
});
