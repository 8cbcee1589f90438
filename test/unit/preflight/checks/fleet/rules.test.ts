// Fleet judgements on recorded facts: SSH phases, hostnames, clock skew, port matrix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import { authMethods } from '../../../../../src/preflight/hosts/ssh/auth.ts';
import { notCheckedWhy } from '../../../../../src/preflight/hosts/ssh/facts.ts';
import type { SshConnectFacts } from '../../../../../src/preflight/hosts/ssh/facts.ts';
import {
  cellVerdict,
  judgeAuth,
  judgeClockSkew,
  judgeHostKey,
  judgeHostnames,
  judgePortMatrix,
  judgeReachable,
  judgeSudo,
  listeningPorts,
  planPortMatrix,
  type PortMatrixCell,
} from '../../../../../src/preflight/checks/fleet/rules.ts';

const base: SshConnectFacts = {
  address: '192.0.2.12',
  port: 22,
  user: 'astrago',
  tcp: { ok: true, ms: 1 },
  handshake: { ok: true, ms: 5, serverVersion: 'SSH-2.0-OpenSSH_9.2' },
  hostKey: { status: 'known', file: '/k', type: 'ssh-ed25519', fingerprint: 'SHA256:abc', line: 3 },
  auth: { ok: true, method: 'publickey', tried: ['publickey /id'] },
  durationMs: 9,
};

test('unreachable node: reachable fails, host key and auth are skipped', () => {
  const f: SshConnectFacts = { ...base, tcp: { ok: false, state: 'timeout', error: 'no answer within 2000 ms' }, handshake: { ok: false }, hostKey: { status: 'unchecked', file: '/k' }, auth: { ok: false, tried: [] } };
  const r = judgeReachable(f);
  assert.equal(r.status, 'fail');
  assert.match(r.message, /192\.0\.2\.12:22.*no answer/);
  assert.equal(judgeHostKey(f, 'n1').status, 'skip');
  assert.equal(judgeAuth(f).status, 'skip');
});

test('changed host key: fails naming node, expected and presented fingerprints; auth not attempted', () => {
  const f: SshConnectFacts = {
    ...base,
    handshake: { ok: false },
    hostKey: { status: 'changed', file: '/k', type: 'ssh-ed25519', fingerprint: 'SHA256:new', expected: [{ type: 'ssh-ed25519', fingerprint: 'SHA256:old', line: 7 }] },
    auth: { ok: false, tried: [] },
  };
  assert.equal(judgeReachable(f).status, 'pass', 'the server presented a key: SSH answers');
  const hk = judgeHostKey(f, 'worker-2');
  assert.equal(hk.status, 'fail');
  assert.match(hk.message, /worker-2/);
  assert.match(hk.message, /SHA256:old/);
  assert.match(hk.message, /SHA256:new/);
  assert.match(hk.remediation!, /ssh-keygen -R '192\.0\.2\.12'/);
  assert.equal(judgeAuth(f).status, 'skip');
});

test('unknown vs added host key; auth failure', () => {
  assert.equal(judgeHostKey({ ...base, hostKey: { ...base.hostKey, status: 'unknown' } }, 'n').status, 'fail');
  const added = judgeHostKey({ ...base, hostKey: { ...base.hostKey, status: 'added', line: 1 } }, 'n');
  assert.equal(added.status, 'pass');
  assert.match(added.message, /recorded/);
  const a = judgeAuth({ ...base, auth: { ok: false, tried: ['agent'], error: 'authentication failed' } });
  assert.equal(a.status, 'fail');
  assert.match(a.remediation!, /authorized_keys/);
});

test('auth: an unset passphrase variable is fixed on this side, not in authorized_keys', () => {
  const home = mkdtempSync(join(tmpdir(), 'ac-fleet-auth-'));
  try {
    mkdirSync(join(home, '.ssh'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pass-phrase-1', '-f', join(home, '.ssh', 'id_ed25519')]);
    const { problems, fixes } = authMethods({ name: 'n', address: 'a', passphraseEnv: 'NODE_KEY_PASS' }, 'astrago', {}, home, (p) => p);
    const error = `authentication failed for astrago@a: no key, agent or password to try; ${problems.join('; ')}`;
    const r = judgeAuth({ ...base, auth: { ok: false, tried: [], error, problems: fixes } });
    assert.equal(r.status, 'fail');
    assert.match(r.message, /ssh\.passphraseEnv names NODE_KEY_PASS, which is not set/);
    assert.match(r.remediation!, /set NODE_KEY_PASS to the key's passphrase in the environment of astrago-check/);
    assert.doesNotMatch(r.remediation!, /authorized_keys/, 'nothing was offered to the server: its authorized_keys is not the problem');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('sudo: root passes, passwordless sudo passes, a password prompt fails', () => {
  assert.equal(judgeSudo({ uid: 0, ok: true, sudoConfigured: false }, 'root').status, 'pass');
  assert.equal(judgeSudo({ uid: 1000, ok: true, sudoConfigured: true }, 'u').status, 'pass');
  const r = judgeSudo({ uid: 1000, ok: false, detail: 'sudo: a password is required', sudoConfigured: true }, 'u');
  assert.equal(r.status, 'fail');
  assert.match(r.message, /password is required/);
  assert.equal(judgeSudo({ sudoConfigured: true, unreachable: 'x' }, 'u').status, 'skip');
});

test('hostnames: one node reads "1 hostname unique", not "1 hostnames"', () => {
  assert.equal(judgeHostnames([{ node: 'a', hostname: 'a' }])[0]!.message, '1 hostname unique');
  assert.equal(judgeHostnames([{ node: 'a', hostname: 'a' }, { node: 'b', hostname: 'b' }])[0]!.message, '2 hostnames, all unique');
});

test('hostnames: case-insensitive duplicates fail, one result per duplicate', () => {
  const ok = judgeHostnames([{ node: 'a', hostname: 'a' }, { node: 'b', hostname: 'b' }, { node: 'c', error: 'node unreachable' }]);
  assert.equal(ok.length, 1);
  assert.equal(ok[0]!.status, 'pass');
  assert.match(ok[0]!.message, /not read on c/);
  const dup = judgeHostnames([{ node: 'a', hostname: 'Node' }, { node: 'b', hostname: 'node' }, { node: 'c', hostname: 'x' }, { node: 'd', hostname: 'x' }]);
  assert.equal(dup.length, 2);
  assert.ok(dup.every((j) => j.status === 'fail'));
  assert.match(dup[0]!.message, /a, b share the hostname 'node'/);
});

test('clock skew: spread between nodes against maxSkewMs, not the offset to this machine', () => {
  // Every node is 5 s off this machine but they agree with each other: pass.
  const agree = judgeClockSkew([{ node: 'a', offsetMs: 5000, rttMs: 2 }, { node: 'b', offsetMs: 5200, rttMs: 2 }], 1000);
  assert.equal(agree[0]!.status, 'pass');
  const apart = judgeClockSkew([{ node: 'a', offsetMs: -600, rttMs: 2 }, { node: 'b', offsetMs: 10, rttMs: 2 }, { node: 'c', offsetMs: 700, rttMs: 4 }], 1000);
  assert.equal(apart[0]!.status, 'fail');
  assert.match(apart[0]!.message, /1300 ms between c \(ahead\) and a/);
  assert.equal(judgeClockSkew([{ node: 'a', offsetMs: 1 }, { node: 'b', error: 'x' }], 1000)[0]!.status, 'skip');
});

test('port matrix plan follows roles, peers, CNI and skips UDP and self', () => {
  const profile = loadProfile();
  const nodes = [
    { name: 'cp1', address: '192.0.2.1', roles: ['control-plane' as const] },
    { name: 'w1', address: '192.0.2.2', roles: ['worker' as const] },
    { name: 'local', roles: ['worker' as const] }, // no address: a source, never a target
  ];
  const plan = planPortMatrix(profile, nodes);
  const has = (from: string, to: string, port: number) => plan.some((p) => p.from === from && p.to === to && p.port === port);
  assert.ok(has('w1', 'cp1', 6443));
  assert.ok(has('local', 'cp1', 6443));
  assert.ok(has('cp1', 'w1', 10250));
  assert.ok(!has('w1', 'cp1', 2379), 'etcd only from control-plane peers');
  assert.ok(has('w1', 'cp1', 179) && has('cp1', 'w1', 179));
  assert.ok(!plan.some((p) => p.port === 4789), 'UDP is not probed');
  assert.ok(!plan.some((p) => p.to === 'local'));
  assert.ok(!plan.some((p) => p.from === p.to));
  const noCalico = planPortMatrix({ ...profile, cni: 'cilium' }, nodes);
  assert.ok(!noCalico.some((p) => p.port === 179));
});

test('port matrix judgement: refused is proven only by a temporary listener, never by missing facts', () => {
  const cell = (from: string, state: PortMatrixCell['state'], via: PortMatrixCell['via'] = 'ssh-forward', retry?: PortMatrixCell['retry']): PortMatrixCell => ({ from, to: 'cp1', port: 6443, purpose: 'Kubernetes API server', state, via, ...(retry ? { retry } : {}) });
  assert.equal(cellVerdict(cell('a', 'refused'), []), 'unproven');
  assert.equal(cellVerdict(cell('a', 'refused'), null), 'unproven', 'the target was never read');
  assert.equal(cellVerdict(cell('a', 'refused', 'ssh-forward', { state: 'open' }), []), 'proven');
  assert.equal(cellVerdict(cell('a', 'refused', 'ssh-forward', { state: 'refused' }), []), 'rejected');
  assert.equal(cellVerdict(cell('a', 'refused'), [6443]), 'rejected');
  assert.equal(cellVerdict(cell('a', 'filtered'), null), 'blocked');

  // The false pass: the target could not be logged into, its peers were refused.
  const unread = judgePortMatrix({ cells: [cell('w1', 'refused'), cell('w2', 'refused')], listening: { cp1: null } });
  assert.equal(unread[0]!.status, 'warn');
  assert.match(unread[0]!.message, /path not proven from w1, w2: connections were refused, but nothing could be read on cp1/);
  // Read, nothing listens, no listener could be started (a privileged port without root).
  const noListener = judgePortMatrix({ cells: [cell('w1', 'refused')], listening: { cp1: [22] }, listeners: { cp1: { bound: [], errors: { 6443: 'Permission denied' } } } });
  assert.equal(noListener[0]!.status, 'warn');
  assert.match(noListener[0]!.message, /no temporary listener could prove it \(Permission denied\)/);
  // Proven with the listener: pass, and it says how.
  const pass = judgePortMatrix({ cells: [cell('w1', 'refused', 'ssh-forward', { state: 'open' }), cell('w2', 'open')], listening: { cp1: [22] }, listeners: { cp1: { bound: [6443], errors: {} } } });
  assert.equal(pass.length, 1);
  assert.equal(pass[0]!.status, 'pass');
  assert.equal(pass[0]!.node, 'cp1');
  assert.match(pass[0]!.message, /reachable from 2 peers; nothing listens yet: proven with a temporary listener on cp1/);
  assert.deepEqual(pass[0]!.facts!.withListener, { w1: 'open' });
  // Refused again while the listener held the port: a firewall rejects.
  const rejected = judgePortMatrix({ cells: [cell('w1', 'refused', 'ssh-forward', { state: 'refused' })], listening: { cp1: [22] } });
  assert.equal(rejected[0]!.status, 'fail');
  assert.match(rejected[0]!.message, /w1 \(refused although the port listened \(a temporary listener\): a firewall rejects\)/);
  const fail = judgePortMatrix({ cells: [cell('w1', 'filtered', 'ssh-shell'), cell('w2', 'open'), cell('w3', 'untested')], listening: { cp1: null } });
  assert.equal(fail[0]!.status, 'fail');
  assert.match(fail[0]!.message, /w1 \(filtered: no answer, shell probe/);
  assert.doesNotMatch(fail[0]!.message, /w2/);
  assert.deepEqual(fail[0]!.facts!.from, { w1: 'filtered', w2: 'open', w3: 'untested' });
  assert.equal(judgePortMatrix({ cells: [], listening: {} })[0]!.status, 'skip');
});

test('listening ports from /proc/net/tcp', () => {
  const text = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1A0B 0100007F:0016 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   0: 00000000000000000000000000000000:192B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0`;
  assert.deepEqual(listeningPorts(text), [22, 6443]);
});

test('fleet progress: one line per node connection and per node done, with its failures; unreachable nodes skip at once', async () => {
  const { Writable } = await import('node:stream');
  const { FleetProgress } = await import('../../../../../src/preflight/checks/fleet/progress.ts');
  const { UnreachableHost } = await import('../../../../../src/preflight/hosts/ssh/unreachable.ts');
  const lines: string[] = [];
  const out = new Writable({ write: (c, _e, cb) => (lines.push(...String(c).split('\n').filter(Boolean)), cb()) });
  const p = new FleetProgress(out, 2);
  const dead = new UnreachableHost('n2', '192.0.2.2', { ...base, tcp: { ok: false } }, 'no answer within 5000 ms');
  p.connected('n1', { kind: 'ssh' });
  p.connected('n2', dead);
  let probed = 0;
  const [a, b] = p.wrap([
    { id: 'x.one', category: 'os', title: 'one', probe: async () => (probed++, 1), judge: () => ({ status: 'fail', message: 'bad' }) },
    { id: 'ssh.two', category: 'os', title: 'two', probe: async () => (probed++, 2), judge: () => [] },
  ]);
  const ctx = (node: string, host: unknown) => ({ node: { name: node, roles: [] }, profile: loadProfile(), isRoot: false, lang: 'en' as const, host, signal: new AbortController().signal, timeoutMs: 1000, env: {} }) as never;
  // The engine asks appliesTo once per node and check, then probes and judges.
  for (const n of ['n1', 'n2']) for (const c of [a!, b!]) assert.equal(c.appliesTo!(ctx(n, null)), true);
  const f = await a!.probe(ctx('n1', {}));
  a!.judge(f, ctx('n1', {}));
  p.onResult({ id: 'x.one', node: 'n1', status: 'fail' } as never);
  b!.judge(await b!.probe(ctx('n1', {})), ctx('n1', {}));
  await assert.rejects(a!.probe(ctx('n2', dead)), /^NodeUnreachableError: node unreachable \(no answer within 5000 ms\)$/);
  assert.equal(probed, 2, 'the non-SSH check did not probe the unreachable node');
  b!.judge(await b!.probe(ctx('n2', dead)), ctx('n2', dead)); // ssh.* still run there
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines, ['[1/2 connected] n1', '[2/2 connected] n2 unreachable: no answer within 5000 ms', '[1/2 nodes] n1 done (1 fail)', '[2/2 nodes] n2 done']);
});

test('why a node was not checked: unreachable, host key refused, handshake, login', () => {
  const down: SshConnectFacts = { ...base, tcp: { ok: false, state: 'timeout', error: 'no answer within 2000 ms' }, handshake: { ok: false }, hostKey: { status: 'unchecked', file: '/k' }, auth: { ok: false, tried: [] } };
  assert.equal(notCheckedWhy(down, 'x'), 'node unreachable (no answer within 2000 ms)');
  // ssh.reachable passed: an unknown host key is not "node unreachable".
  const unknownKey: SshConnectFacts = { ...base, handshake: { ok: false }, hostKey: { ...base.hostKey, status: 'unknown' }, auth: { ok: false, tried: [] } };
  assert.equal(judgeReachable(unknownKey).status, 'pass');
  assert.equal(notCheckedWhy(unknownKey, 'host key of n is not in /k: ssh-ed25519 SHA256:abc; refused'), 'not logged in: the host key was refused (unknown key; see ssh.hostkey)');
  assert.match(notCheckedWhy({ ...unknownKey, hostKey: { ...base.hostKey, status: 'changed' } }, ''), /host key was refused \(changed/);
  assert.equal(notCheckedWhy({ ...base, handshake: { ok: false, error: 'no SSH banner' }, hostKey: { status: 'unchecked', file: '/k' } }, ''), 'SSH handshake failed (no SSH banner; see ssh.reachable)');
  assert.equal(notCheckedWhy({ ...base, auth: { ok: false, tried: ['publickey /id'] } }, ''), 'not logged in: authentication failed (see ssh.auth)');
});
