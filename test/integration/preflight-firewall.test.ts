// firewall.status and firewall.rules run by the binary inside a network
// namespace the test creates, against real nftables and iptables rules. The
// remediation it prints is then run as is, and both the re-check and a real
// connection from outside show the port open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createNamespace, nsExec, type Namespace } from '../support/netns.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess, type Server } from '../support/process.ts';
import { runBinary as runCli } from '../support/run-binary.ts';
import type { Report } from '../../src/schema/report.ts';

const PREFIX = `10.201.${(process.pid % 60) * 4 + 2}`;
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
let nft: Namespace;
let ipt: Namespace;
let api: Server;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-h3-fw-'));
  chmodSync(dir, 0o755);
  nft = createNamespace(`ac${process.pid}f`, PREFIX);
  nsExec(nft, ['nft', 'add', 'table', 'inet', 'f']);
  nsExec(nft, ['nft', 'add', 'chain', 'inet', 'f', 'input', '{ type filter hook input priority 0; policy accept; }']);
  nsExec(nft, ['nft', 'add', 'rule', 'inet', 'f', 'input', 'iifname', 'lo', 'accept']);
  nsExec(nft, ['nft', 'add', 'rule', 'inet', 'f', 'input', 'tcp', 'dport', '{ 2379-2380 }', 'accept']);
  nsExec(nft, ['nft', 'add', 'rule', 'inet', 'f', 'input', 'tcp', 'dport', '6443', 'drop']);
  nsExec(nft, ['nft', 'add', 'rule', 'inet', 'f', 'input', 'tcp', 'dport', '10250', 'reject']);
  // Something listens on 6443 so that, once opened, a real connection succeeds.
  api = startProcess([...nft.exec, process.execPath, '-e', `require('node:net').createServer((s) => s.end()).listen(6443, '0.0.0.0')`]);
  ipt = createNamespace(`ac${process.pid}i`, `10.201.${(process.pid % 60) * 4 + 3}`);
  nsExec(ipt, ['iptables', '-P', 'INPUT', 'DROP']);
  nsExec(ipt, ['iptables', '-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT']);
  nsExec(ipt, ['iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']);
  nsExec(ipt, ['iptables', '-A', 'INPUT', '-p', 'tcp', '-m', 'multiport', '--dports', '179,10250', '-j', 'ACCEPT']);
  nsExec(ipt, ['iptables', '-A', 'INPUT', '-p', 'udp', '--dport', '4789', '-j', 'ACCEPT']);
});

after(async () => {
  await api?.stop();
  nft?.destroy();
  ipt?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function preflight(ns: Namespace, args: string[], asNobody = false): Promise<Record<string, Report['results'][number]>> {
  const wrap = asNobody ? [...ns.exec, ...NOBODY] : ns.exec;
  const r = await runCli([...args, '--format', 'json', '--timeout', '5s'], { wrap, env: { PATH: process.env.PATH, HOME: '/tmp' } });
  assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr}`);
  const me = hostname();
  return Object.fromEntries((JSON.parse(r.stdout) as Report).results.filter((x) => x.node === me).map((x) => [x.id, x]));
}

async function reach(port: number): Promise<string> {
  const site = join(dir, `reach-${port}.yaml`);
  writeFileSync(site, stringify({ apiVersion: 'astrago.io/v1', kind: 'Site', metadata: { name: 'fw' }, network: { targets: [`${nft.address}:${port}`] } }));
  const r = await runCli(['--site', site, '--only', 'network.targets', '--format', 'json', '--timeout', '2s'], { env: { PATH: process.env.PATH, HOME: '/tmp' } });
  const res = (JSON.parse(r.stdout) as Report).results[0]!;
  return (res.facts as { state: string }).state;
}

test('nftables: the active firewall is named, dropped and rejected ports fail, and the printed nft commands open them', async () => {
  // The port is dropped from outside: wait until the listener shows inside the namespace.
  for (let i = 0; i < 200 && !nsExec(nft, ['ss', '-Hltn', 'sport = :6443']).trim(); i++) await sleep(50);
  const before = await preflight(nft, ['--role', 'control-plane', '--only', 'firewall.']);
  assert.equal(before['firewall.status']!.status, 'pass');
  assert.match(before['firewall.status']!.message, /active: nftables/);
  const rules = before['firewall.rules']!;
  assert.equal(rules.status, 'fail');
  assert.equal(rules.checklist, 'SEC-01');
  assert.match(rules.message, /6443\/tcp \(Kubernetes API server: drop by inet f input/);
  assert.match(rules.message, /10250\/tcp \(kubelet API: reject/);
  assert.ok(!/2379-2380\/tcp/.test(rules.message), 'etcd ports are accepted');
  const cmds = rules.remediation!.split('\n').filter((l) => l.startsWith('nft insert rule inet f input'));
  assert.ok(cmds.length >= 1, rules.remediation);
  assert.match(rules.remediation!, /nftables\.conf/);
  assert.equal(await reach(6443), 'filtered', 'from outside, the dropped port times out');

  for (const c of cmds) nsExec(nft, ['sh', '-c', c]);
  const after = await preflight(nft, ['--role', 'control-plane', '--only', 'firewall.rules']);
  assert.equal(after['firewall.rules']!.status, 'pass', after['firewall.rules']!.message);
  assert.equal(await reach(6443), 'open', 'the remediation really opened the port');
});

test('iptables (multiport, policy DROP): missing ports fail with iptables commands; as non-root the rules are skipped with the command to run', async () => {
  const r = await preflight(ipt, ['--role', 'control-plane', '--only', 'firewall.']);
  assert.match(r['firewall.status']!.message, /active: iptables/);
  const rules = r['firewall.rules']!;
  assert.equal(rules.status, 'fail');
  assert.match(rules.message, /6443\/tcp \(Kubernetes API server: drop by INPUT policy drop\)/);
  assert.ok(!/10250\/tcp|179\/tcp|4789\/udp/.test(rules.message), 'multiport and udp accepts understood');
  assert.match(rules.remediation!, /iptables -I INPUT -p tcp -m tcp --dport 6443 -j ACCEPT/);
  assert.match(rules.remediation!, /iptables-save/);

  const nobody = await preflight(ipt, ['--role', 'control-plane', '--only', 'firewall.'], true);
  for (const id of ['firewall.status', 'firewall.rules']) {
    assert.equal(nobody[id]!.status, 'skip', id);
    assert.match(nobody[id]!.message, /needs root/);
    assert.match(nobody[id]!.remediation!, new RegExp(`sudo astrago-check --only ${id.replace('.', '\\.')}`));
  }
});
