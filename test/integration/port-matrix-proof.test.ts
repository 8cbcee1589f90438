// site.port-matrix never passes on "connection refused" alone. Three nodes, each a
// network namespace on one test LAN with a real OpenSSH sshd, run through the binary:
//   cp   control-plane (root login): nothing listens on 6443 or 179 yet; a temporary
//        listener started on it proves the path open
//   rj   worker (root login): nft rejects 10250 with a TCP reset and 179 with ICMP
//        port-unreachable; both look like "refused", and stay refused while a temporary
//        listener holds the ports: a firewall rejects
//   down worker whose sshd was stopped: its ports refuse, but nothing on it could be read,
//        so nothing is proven
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createLan, nsExec, type Lan, type Namespace } from '../support/netns.ts';
import { createLoginUser, makeKey, startSshd, type KeyPair, type Sshd } from '../support/sshd.ts';
import { ensureBinary, runBinary } from '../support/run-binary.ts';
import { reportSchema, type CheckResult, type Report } from '../../src/schema/report.ts';

const pid = process.pid;
const prefix = `10.204.${20 + (pid % 200)}`;
const rootUser = `i15${pid}r`;
let dir: string;
let lan: Lan;
let key: KeyPair;
const names = ['cp', 'rj', 'down'] as const;
const ns = {} as Record<(typeof names)[number], Namespace>;
const sshds: Sshd[] = [];
const users: { remove(): void }[] = [];

before(async () => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), 'ac-pmproof-'));
  execFileSync('chmod', ['755', dir]);
  key = makeKey(join(dir, 'id_ed25519'));
  users.push(createLoginUser(rootUser, dir, { uid0: true }));
  lan = createLan(prefix, `i15${pid}s`, names.map((n) => `i15${pid}${n[0]}`));
  [ns.cp, ns.rj, ns.down] = lan.nodes as [Namespace, Namespace, Namespace];
  for (const n of names) {
    const d = join(dir, n);
    execFileSync('mkdir', ['-p', d]);
    sshds.push(await startSshd({ dir: d, address: ns[n].address, ports: [22], authorizedKeys: [key.publicKey], netns: ns[n].name, hostname: n }));
  }
  nsExec(ns.rj, ['nft', 'add', 'table', 'inet', 'pm']);
  nsExec(ns.rj, ['nft', 'add', 'chain', 'inet', 'pm', 'input', '{ type filter hook input priority 0; policy accept; }']);
  nsExec(ns.rj, ['nft', 'add', 'rule', 'inet', 'pm', 'input', 'tcp', 'dport', '10250', 'reject', 'with', 'tcp', 'reset']);
  nsExec(ns.rj, ['nft', 'add', 'rule', 'inet', 'pm', 'input', 'tcp', 'dport', '179', 'reject']);
  // The real sshd of `down` stops: the node is up, but nothing can log in.
  await sshds[2]!.stop();
});

after(async () => {
  await Promise.all(sshds.map((s) => s.stop()));
  lan?.destroy();
  for (const u of users) u.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function one(r: Report, id: string): CheckResult {
  const found = r.results.filter((x) => x.id === id);
  assert.equal(found.length, 1, `one ${id}, got: ${r.results.map((x) => x.id).join(' ')}`);
  return found[0]!;
}

test('refused is proven with a temporary listener, a rejecting firewall fails, an unreadable target never passes', async () => {
  const kh = join(dir, 'known_hosts');
  writeFileSync(kh, sshds.map((s) => s.knownHostsLine(22)).join('\n') + '\n');
  const roles = { cp: ['control-plane'], rj: ['worker'], down: ['worker'] };
  const site = join(dir, 'site.yaml');
  writeFileSync(
    site,
    stringify({
      apiVersion: 'astrago.io/v1',
      kind: 'Site',
      metadata: { name: 'port-proof' },
      nodes: names.map((n) => ({ name: n, address: ns[n].address, roles: roles[n], ssh: { user: rootUser, keyFile: key.privateKeyFile, knownHostsFile: kh } })),
    }),
  );
  const r = await runBinary(['--site', site, '--only', 'site.port-matrix', '--format', 'json', '--timeout', '10s'], { env: { PATH: process.env.PATH, HOME: dir }, timeoutMs: 120_000 });
  assert.equal(r.code, 1, r.stderr);
  const report = reportSchema.parse(JSON.parse(r.stdout));
  const from = (x: CheckResult) => x.facts.from as Record<string, string>;

  // Nothing listens on cp: refused first, then open with the temporary listener (179 needs root: it is).
  for (const port of [6443, 179]) {
    const x = one(report, `site.port-matrix[cp:${port}]`);
    assert.equal(x.status, 'pass', x.message);
    assert.equal(from(x).rj, 'refused');
    assert.deepEqual(x.facts.withListener, { rj: 'open' });
    assert.match(x.message, /proven with a temporary listener on cp/);
    assert.equal(from(x).down, 'untested', 'down tests nothing');
  }
  // rj's firewall rejects (TCP reset on 10250, ICMP port-unreachable on 179): refused with or without a listener.
  for (const port of [10250, 179]) {
    const x = one(report, `site.port-matrix[rj:${port}]`);
    assert.equal(x.status, 'fail', x.message);
    assert.equal(from(x).cp, 'refused');
    assert.equal((x.facts.withListener as Record<string, string>).cp, 'refused');
    assert.match(x.message, /cp \(refused although the port listened \(a temporary listener\): a firewall rejects\)/);
    assert.match(x.remediation ?? '', new RegExp(`open TCP ${port} on rj`));
  }
  // down: its ports refuse, its /proc/net/tcp was never read: not proven, never a pass.
  for (const port of [10250, 179]) {
    const x = one(report, `site.port-matrix[down:${port}]`);
    assert.equal(x.status, 'warn', x.message);
    assert.equal(from(x).cp, 'refused');
    assert.match(x.message, /path not proven from .*cp.*: connections were refused, but nothing could be read on down/);
    assert.equal(x.facts.listening, null);
  }
  // The temporary listeners are gone: nothing listens on those ports afterwards.
  assert.equal(nsExec(ns.cp, ['ss', '-Hltn', 'sport = :6443 or sport = :179']).trim(), '');
});
