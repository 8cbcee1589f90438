// Fleet preflight over SSH against real OpenSSH sshd instances, each in its own
// network namespace on one test LAN (10.202.N.0/24, a bridge in a "switch"
// namespace), run through the built binary:
//   cp    control-plane, root, sshd also on 6443 (an "API server" that answers)
//   w1    worker, non-root user, sshd with AllowTcpForwarding no (shell-probe fallback) and
//         no sftp subsystem (files read with head -c on exec channels)
//   w2    worker, nft drops TCP 179 (the matrix shows it filtered), hostname clashes with w1,
//         clock 5 s ahead (a `date` wrapper first in its sessions' PATH), password logins on
//   w3    worker whose host key changed since known_hosts was written
//   dead  a namespace whose nft drops TCP 22: never answers
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createLan, nsExec, type Lan, type Namespace } from '../support/netns.ts';
import { createLoginUser, makeKey, startSshd, type KeyPair, type Sshd } from '../support/sshd.ts';
import { ensureBinary, runBinary } from '../support/run-binary.ts';
import { reportSchema, type CheckResult, type Report } from '../../src/schema/report.ts';

const pid = process.pid;
const prefix = `10.202.${20 + (pid % 200)}`;
const user = `ac${pid}u`;
/** A root login (uid 0) with /bin/sh: root's own login shell here sources a heavy ~/.bashrc (pyenv) on every command. */
const rootUser = `ac${pid}r`;
const USER_PASSWORD = `pw-${pid}-Secr3t`;
const KEY_PASSPHRASE = `pp-${pid}-Hidden`;
let dir: string;
let lan: Lan;
let clientKey: KeyPair;
let encryptedKey: KeyPair;
const sshds: Partial<Record<'cp' | 'w1' | 'w2' | 'w3', Sshd>> = {};
const ns: Record<'cp' | 'w1' | 'w2' | 'w3' | 'dead', Namespace> = {} as never;
let w3OldKey: KeyPair;
const usersCreated: { remove(): void }[] = [];

function nft(n: Namespace, port: number): void {
  nsExec(n, ['nft', 'add', 'table', 'inet', 'actest']);
  nsExec(n, ['nft', 'add', 'chain', 'inet', 'actest', 'input', '{ type filter hook input priority 0; policy accept; }']);
  nsExec(n, ['nft', 'add', 'rule', 'inet', 'actest', 'input', 'tcp', 'dport', String(port), 'drop']);
}

function siteFile(file: string, knownHosts: string, names: (keyof typeof ns)[]): void {
  const roles: Record<string, string[]> = { cp: ['control-plane'], w1: ['worker'], w2: ['worker'], w3: ['worker'], dead: ['worker'] };
  const site = {
    apiVersion: 'astrago.io/v1',
    kind: 'Site',
    metadata: { name: 'fleet-test' },
    nodes: names.map((n) => ({
      name: n,
      address: ns[n].address,
      roles: roles[n],
      ssh: { user: n === 'cp' ? rootUser : user, keyFile: clientKey.privateKeyFile, knownHostsFile: knownHosts, ...(n === 'w2' ? { sudo: true } : {}) },
    })),
  };
  writeFileSync(file, stringify(site));
}

const env = () => ({ PATH: process.env.PATH, HOME: dir }); // no SSH_AUTH_SOCK, no real ~/.ssh

function parseReport(text: string): Report {
  return reportSchema.parse(JSON.parse(text));
}

function one(r: Report, id: string, node: string): CheckResult {
  const found = r.results.filter((x) => x.id === id && x.node === node);
  assert.equal(found.length, 1, `one ${id} result for ${node}, got ${found.length}: ${JSON.stringify(r.results.filter((x) => x.node === node).map((x) => x.id))}`);
  return found[0]!;
}

before(async () => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), 'ac-fleet-'));
  execFileSync('chmod', ['755', dir]);
  clientKey = makeKey(join(dir, 'id_ed25519'));
  encryptedKey = makeKey(join(dir, 'id_encrypted'), 'ed25519', KEY_PASSPHRASE);
  // A non-root login with a plain /bin/sh (no sudo rights), with a password too for the
  // passwordEnv test; and a root-equivalent login with /bin/sh.
  usersCreated.push(createLoginUser(user, dir, { password: USER_PASSWORD }));
  usersCreated.push(createLoginUser(rootUser, dir, { uid0: true }));
  lan = createLan(prefix, `ac${pid}s`, ['cp', 'w1', 'w2', 'w3', 'dead'].map((n) => `ac${pid}${n.slice(0, 1)}${n.slice(-1)}`));
  [ns.cp, ns.w1, ns.w2, ns.w3, ns.dead] = lan.nodes as [Namespace, Namespace, Namespace, Namespace, Namespace];
  const fastClock = join(dir, 'fast-clock');
  execFileSync('mkdir', ['-p', fastClock]);
  writeFileSync(join(fastClock, 'date'), '#!/bin/sh\nexec /bin/date -d "@$(( $(/bin/date +%s) + 5 ))" "$@"\n', { mode: 0o755 });
  const start = async (n: 'cp' | 'w1' | 'w2' | 'w3', hostname: string, extra: { ports?: number[]; allowTcpForwarding?: boolean; sftp?: boolean; passwordAuthentication?: boolean; extraConfig?: string[] } = {}) => {
    const d = join(dir, n);
    execFileSync('mkdir', ['-p', d]);
    const s = await startSshd({ dir: d, address: ns[n].address, ports: extra.ports ?? [22], authorizedKeys: [clientKey.publicKey, encryptedKey.publicKey], netns: ns[n].name, hostname, allowTcpForwarding: extra.allowTcpForwarding, sftp: extra.sftp, passwordAuthentication: extra.passwordAuthentication, extraConfig: extra.extraConfig });
    sshds[n] = s;
    return s;
  };
  await Promise.all([
    start('cp', 't-cp', { ports: [22, 6443] }),
    start('w1', 't-w1', { allowTcpForwarding: false, sftp: false }), // a locked-down sshd: no forwarding, no sftp
    // w2's clock runs 5 s ahead: its sessions find a `date` that adds 5 s first in PATH.
    start('w2', 'T-W1', { passwordAuthentication: true, extraConfig: [`SetEnv PATH=${fastClock}:/usr/sbin:/usr/bin:/sbin:/bin`] }),
    start('w3', 't-w3'),
  ]);
  nft(ns.w2, 179);
  nft(ns.dead, 22);
  w3OldKey = makeKey(join(dir, 'w3-old-hostkey'));
});

after(async () => {
  await Promise.all(Object.values(sshds).map((s) => s.stop()));
  lan?.destroy();
  for (const u of usersCreated) u.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('five nodes: filtered port, changed host key, unreachable node, forwarding fallback, per-node JSON report', async () => {
  const kh = join(dir, 'known_hosts');
  const { cp, w1, w2, w3 } = sshds as Record<'cp' | 'w1' | 'w2' | 'w3', Sshd>;
  writeFileSync(kh, [cp.knownHostsLine(22), w1.knownHostsLine(22), w2.knownHostsLine(22), `${w3.address} ${w3OldKey.publicKey.split(' ').slice(0, 2).join(' ')}`, ''].join('\n'));
  const khBefore = readFileSync(kh, 'utf8');
  const site = join(dir, 'site.yaml');
  siteFile(site, kh, ['cp', 'w1', 'w2', 'w3', 'dead']);
  const out = join(dir, 'report.json');
  // A generous per-check timeout: CI runs this beside other heavy tests on two cores.
  const r = await runBinary(['--site', site, '--format', 'json', '--output', out, '--timeout', '10s', '--accept-new-host-keys'], { env: env(), timeoutMs: 120_000 });
  assert.equal(r.code, 1, `exit 1 (checks fail); stderr: ${r.stderr}`);
  const report = parseReport(readFileSync(out, 'utf8'));

  // Results carry node names; every node of the site is listed, the dead one as unreachable.
  assert.deepEqual(new Set(report.nodes?.map((n) => n.name)), new Set(['cp', 'w1', 'w2', 'w3', 'dead']));
  assert.equal(report.nodes?.find((n) => n.name === 'dead')?.reachable, false);
  assert.equal(report.nodes?.find((n) => n.name === 'cp')?.reachable, true);
  for (const x of report.results) assert.ok(['cp', 'w1', 'w2', 'w3', 'dead', 'site'].includes(x.node), `result ${x.id} names node ${x.node}`);

  // Reached nodes: SSH checks pass, the probes ran over the connection (hostname read from the node's UTS namespace).
  for (const n of ['cp', 'w1', 'w2']) {
    assert.equal(one(report, 'ssh.reachable', n).status, 'pass');
    assert.equal(one(report, 'ssh.auth', n).status, 'pass');
    assert.equal(one(report, 'ssh.hostkey', n).status, 'pass');
  }
  assert.equal(one(report, 'os.hostname', 'cp').facts.hostname, 't-cp');
  // Files read over SFTP (cp) and with head -c where sshd has no sftp (w1) give the same facts.
  for (const id of ['os.release', 'kernel.version']) {
    const [a, b] = [one(report, id, 'cp'), one(report, id, 'w1')];
    assert.notEqual(a.status, 'error', a.message);
    assert.deepEqual(b.facts, a.facts, id);
  }
  const cpSudo = one(report, 'ssh.sudo', 'cp');
  assert.equal(cpSudo.status, 'pass', `root needs no sudo: ${cpSudo.message}`);
  const sudo = one(report, 'ssh.sudo', 'w1');
  assert.equal(sudo.status, 'fail', `the test user has no passwordless sudo: ${sudo.message}`);

  // The node that never answers: reachable fails, every other check of it is skipped as unreachable.
  const dead = one(report, 'ssh.reachable', 'dead');
  assert.equal(dead.status, 'fail');
  assert.match(dead.message, /no answer/);
  // (site.port-matrix results about dead are about its other ports, which answer: only 22 is dropped.)
  const deadOthers = report.results.filter((x) => x.node === 'dead' && x.id !== 'ssh.reachable' && !x.id.startsWith('site.'));
  assert.ok(deadOthers.length > 5);
  for (const x of deadOthers) assert.equal(x.status, 'skip', `${x.id} on dead: ${x.message}`);
  assert.ok(deadOthers.filter((x) => !x.id.startsWith('ssh.')).every((x) => /node unreachable/.test(x.message)));

  // The changed host key: refused although --accept-new-host-keys, naming node and both fingerprints.
  const hk = one(report, 'ssh.hostkey', 'w3');
  assert.equal(hk.status, 'fail');
  assert.match(hk.message, /CHANGED for w3/);
  assert.ok(hk.message.includes(w3.hostKeyFingerprint), 'presented fingerprint');
  const oldFp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${w3OldKey.privateKeyFile}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  assert.ok(hk.message.includes(oldFp), 'expected fingerprint');
  assert.equal(one(report, 'ssh.auth', 'w3').status, 'skip');
  // w3 answers SSH (ssh.reachable passes): its unchecked checks say the host key was refused, not "unreachable".
  assert.equal(one(report, 'ssh.reachable', 'w3').status, 'pass');
  const w3Release = one(report, 'os.release', 'w3');
  assert.equal(w3Release.status, 'skip');
  assert.equal(w3Release.message, 'not checked: not logged in: the host key was refused (changed; see ssh.hostkey)');
  assert.equal(w3Release.facts.notChecked, 'not logged in: the host key was refused (changed; see ssh.hostkey)');
  assert.equal(readFileSync(kh, 'utf8'), khBefore, 'known_hosts untouched: nothing new was accepted, the changed key not recorded');

  // Port matrix, each source dialling its peers itself in one batch (w1 too, although its sshd
  // forbids forwarding): 179 on w2 is dropped -> filtered from cp and w1; 6443 on cp answers
  // (sshd listens there) -> open from w1 and w2.
  const bgp = one(report, `site.port-matrix[w2:179]`, 'w2');
  assert.equal(bgp.status, 'fail');
  assert.equal((bgp.facts.from as Record<string, string>).cp, 'filtered');
  assert.equal((bgp.facts.from as Record<string, string>).w1, 'filtered');
  assert.equal(bgp.facts.via, undefined, 'no shell probe one by one: every source ran the batch');
  assert.match(bgp.message, /filtered/);
  const api = one(report, `site.port-matrix[cp:6443]`, 'cp');
  assert.equal(api.status, 'pass', api.message);
  assert.equal((api.facts.from as Record<string, string>).w1, 'open');
  assert.equal((api.facts.from as Record<string, string>).w2, 'open');
  assert.equal((api.facts.from as Record<string, string>).w3, 'untested', 'w3 was refused: it tests nothing');
  // Nothing listens on 179 of cp: refused, then open while a temporary listener held it -> pass.
  const cpBgp = one(report, `site.port-matrix[cp:179]`, 'cp');
  assert.equal(cpBgp.status, 'pass', cpBgp.message);
  assert.equal((cpBgp.facts.from as Record<string, string>).w2, 'refused');
  assert.equal((cpBgp.facts.withListener as Record<string, string>).w2, 'open');
  // w1 logs in without root or sudo: no temporary listener on 179 there, so refused proves nothing.
  const w1Bgp = one(report, `site.port-matrix[w1:179]`, 'w1');
  assert.equal(w1Bgp.status, 'warn', w1Bgp.message);
  assert.match(w1Bgp.message, /path not proven .*no temporary listener could prove it \(Permission denied\)/);
  // dead's other ports refuse, but nothing on dead could be read: not proven, never a pass.
  const deadBgp = one(report, `site.port-matrix[dead:179]`, 'dead');
  assert.equal(deadBgp.status, 'warn', deadBgp.message);
  assert.match(deadBgp.message, /path not proven/);

  // Site checks: w1 and w2 share a hostname (case-insensitively); w2's clock is 5 s ahead.
  const dup = report.results.filter((x) => x.id.startsWith('site.hostnames'));
  assert.equal(dup.length, 1);
  assert.equal(dup[0]!.status, 'fail', JSON.stringify(dup[0]));
  assert.match(dup[0]!.message, /w1, w2 share the hostname 't-w1'/);
  const skew = one(report, 'site.clock-skew', 'site');
  assert.equal(skew.status, 'fail', skew.message);
  assert.match(skew.message, /between w2 \(ahead\) and (cp|w1)/);
  assert.ok((skew.facts.skewMs as number) >= 3000 && (skew.facts.skewMs as number) < 7000, `skew ${skew.facts.skewMs}`);

  // Every SSH/site result maps to a checklist item.
  for (const x of report.results.filter((x) => x.id.startsWith('ssh.') || x.id.startsWith('site.'))) assert.notEqual(x.checklist, '-', x.id);
});

test('--accept-new-host-keys records an unknown key (as OpenSSH accept-new); without it the run fails closed', async () => {
  const cp = sshds.cp!;
  // Fails closed: unknown key, nothing written.
  const kh1 = join(dir, 'kh-strict', 'known_hosts');
  const site1 = join(dir, 'site-strict.yaml');
  siteFile(site1, kh1, ['cp', 'w1']);
  const r1 = await runBinary(['--site', site1, '--node', 'cp', '--only', 'ssh.', '--format', 'json'], { env: env() });
  assert.equal(r1.code, 1, r1.stderr);
  const rep1 = parseReport(r1.stdout);
  assert.deepEqual(new Set(rep1.results.map((x) => x.node)), new Set(['cp']), '--node limits the run');
  const hk1 = one(rep1, 'ssh.hostkey', 'cp');
  assert.equal(hk1.status, 'fail');
  assert.match(hk1.message, /not in/);
  assert.ok(hk1.message.includes(cp.hostKeyFingerprint), hk1.message);
  assert.equal(existsSync(kh1), false);

  // Accept-new: recorded, and OpenSSH's ssh-keygen finds it.
  const kh2 = join(dir, 'kh-accept');
  writeFileSync(kh2, '# existing comment\n');
  const site2 = join(dir, 'site-accept.yaml');
  siteFile(site2, kh2, ['cp']);
  const r2 = await runBinary(['--site', site2, '--accept-new-host-keys', '--only', 'ssh.', '--format', 'json'], { env: env() });
  assert.equal(r2.code, 0, r2.stdout + r2.stderr);
  const hk2 = one(parseReport(r2.stdout), 'ssh.hostkey', 'cp');
  assert.equal(hk2.status, 'pass');
  assert.match(hk2.message, /recorded/);
  const found = execFileSync('ssh-keygen', ['-F', cp.address, '-f', kh2], { encoding: 'utf8' });
  assert.ok(found.includes(cp.hostKey.publicKey.split(' ')[1]!));
  assert.match(readFileSync(kh2, 'utf8'), /^# existing comment\n/);

  // A known_hosts that cannot be read (here: a directory) verifies nothing and records nothing.
  const khDir = join(dir, 'kh-is-a-dir');
  execFileSync('mkdir', ['-p', khDir]);
  const siteDir = join(dir, 'site-khdir.yaml');
  siteFile(siteDir, khDir, ['cp']);
  const rd = await runBinary(['--site', siteDir, '--accept-new-host-keys', '--only', 'ssh.', '--format', 'json'], { env: env() });
  assert.equal(rd.code, 1);
  const hkd = one(parseReport(rd.stdout), 'ssh.hostkey', 'cp');
  assert.equal(hkd.status, 'fail');
  assert.match(hkd.message, /cannot read .*kh-is-a-dir: EISDIR/);

  // The next run knows it without the flag.
  const r3 = await runBinary(['--site', site2, '--only', 'ssh.hostkey', '--format', 'json'], { env: env() });
  assert.equal(r3.code, 0, r3.stdout + r3.stderr);
  assert.match(one(parseReport(r3.stdout), 'ssh.hostkey', 'cp').message, /matches/);
});

test('secrets by reference: password from passwordEnv, key passphrase from passphraseEnv; wrong ones fail without leaking', async () => {
  const { cp, w2 } = sshds as Record<'cp' | 'w2', Sshd>;
  const kh = join(dir, 'kh-secrets');
  writeFileSync(kh, [cp.knownHostsLine(22), w2.knownHostsLine(22), ''].join('\n'));
  const write = (file: string, nodes: object[]) =>
    writeFileSync(file, stringify({ apiVersion: 'astrago.io/v1', kind: 'Site', metadata: { name: 'secrets' }, nodes }));
  const site = join(dir, 'site-secrets.yaml');
  write(site, [
    { name: 'cp', address: cp.address, roles: ['control-plane'], ssh: { user: rootUser, keyFile: encryptedKey.privateKeyFile, passphraseEnv: 'AC_KEY_PASS', knownHostsFile: kh } },
    { name: 'w2', address: w2.address, roles: ['worker'], ssh: { user, passwordEnv: 'AC_SSH_PASS', knownHostsFile: kh } },
  ]);
  const args = ['--site', site, '--only', 'ssh.', '--format', 'json'];
  const good = await runBinary(args, { env: { ...env(), AC_KEY_PASS: KEY_PASSPHRASE, AC_SSH_PASS: USER_PASSWORD } });
  const rep = parseReport(good.stdout);
  assert.equal(one(rep, 'ssh.auth', 'cp').status, 'pass', one(rep, 'ssh.auth', 'cp').message);
  assert.match(one(rep, 'ssh.auth', 'cp').message, /publickey/);
  assert.equal(one(rep, 'ssh.auth', 'w2').status, 'pass', one(rep, 'ssh.auth', 'w2').message);
  assert.match(one(rep, 'ssh.auth', 'w2').message, /password/);

  const bad = await runBinary(args, { env: { ...env(), AC_KEY_PASS: 'wrong-passphrase-value', AC_SSH_PASS: 'wrong-password-value' } });
  assert.equal(bad.code, 1);
  const badRep = parseReport(bad.stdout);
  const cpAuth = one(badRep, 'ssh.auth', 'cp');
  assert.equal(cpAuth.status, 'fail');
  assert.match(cpAuth.message, /passphrase in AC_KEY_PASS does not decrypt it/);
  assert.equal(one(badRep, 'ssh.auth', 'w2').status, 'fail');
  for (const secret of ['wrong-passphrase-value', 'wrong-password-value', KEY_PASSPHRASE, USER_PASSWORD]) {
    assert.ok(!bad.stdout.includes(secret) && !bad.stderr.includes(secret), 'no secret in the report or on stderr');
  }

  // ssh-agent (SSH_AUTH_SOCK): no key file in the site, the agent holds the key.
  const sock = join(dir, 'agent.sock');
  const agent = execFileSync('ssh-agent', ['-a', sock, '-s'], { encoding: 'utf8' });
  const agentPid = /SSH_AGENT_PID=(\d+)/.exec(agent)![1]!;
  try {
    execFileSync('ssh-add', ['-q', clientKey.privateKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
    const agentSite = join(dir, 'site-agent.yaml');
    write(agentSite, [{ name: 'w2', address: w2.address, roles: ['worker'], ssh: { user, knownHostsFile: kh } }]);
    const viaAgent = await runBinary(['--site', agentSite, '--only', 'ssh.auth', '--format', 'json'], { env: { ...env(), SSH_AUTH_SOCK: sock } });
    const a = one(parseReport(viaAgent.stdout), 'ssh.auth', 'w2');
    assert.equal(a.status, 'pass', a.message);
    assert.match(a.message, /agent/);
  } finally {
    process.kill(Number(agentPid));
  }

  // No passphrase variable at all: the error says what to set.
  const none = await runBinary(args, { env: env() });
  const unset = one(parseReport(none.stdout), 'ssh.auth', 'cp');
  assert.match(unset.message, /encrypted.*AC_KEY_PASS.*not set|AC_KEY_PASS, which is not set/);
  // The fix is here (export the variable), not in the node's authorized_keys.
  assert.match(unset.remediation ?? '', /set AC_KEY_PASS to the key's passphrase in the environment of astrago-check/);
});

test('--local adds this machine: checked locally, a source in the port matrix, listed among the nodes', async () => {
  const kh = join(dir, 'kh-local');
  const { cp, w2 } = sshds as Record<'cp' | 'w2', Sshd>;
  writeFileSync(kh, [cp.knownHostsLine(22), w2.knownHostsLine(22), ''].join('\n'));
  const site = join(dir, 'site-local.yaml');
  siteFile(site, kh, ['cp', 'w2']);
  const me = execFileSync('hostname', { encoding: 'utf8' }).trim();
  const r = await runBinary(['--site', site, '--local', '--role', 'worker', '--only', 'site.,os.hostname', '--format', 'json'], { env: env() });
  const rep = parseReport(r.stdout);
  assert.deepEqual(new Set(rep.nodes?.map((n) => n.name)), new Set([me, 'cp', 'w2']));
  assert.equal(one(rep, 'os.hostname', me).facts.hostname, me);
  const api = one(rep, 'site.port-matrix[cp:6443]', 'cp');
  assert.equal((api.facts.from as Record<string, string>)[me], 'open', 'this machine dialled cp:6443 itself');
  assert.ok(!rep.results.some((x) => x.id === `site.port-matrix[${me}:179]`), 'this machine has no address: never a target');
});
