// Batch reads over SSH (issue #4): against a real sshd, every default check gives the same
// result whether the node's facts come from the one batch read or one request at a time,
// as root and as an unprivileged user; the batch cuts the SSH sessions a node costs; and a
// batch that stalls or is cut short only sends the remaining reads back to the slow path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { freePort } from '../support/process.ts';
import { createLoginUser, makeKey, startSshd, type KeyPair, type Sshd } from '../support/sshd.ts';
import { connectSsh } from '../../src/preflight/hosts/ssh/connect.ts';
import { SshHost } from '../../src/preflight/hosts/ssh/host.ts';
import { runChecks } from '../../src/preflight/engine.ts';
import { loadProfile } from '../../src/preflight/profile.ts';
import { ALL_CHECKS } from '../../src/preflight/checks/index.ts';
import type { CheckResult } from '../../src/schema/report.ts';
import { measureOffset } from '../../src/preflight/checks/fleet/site-checks.ts';

let dir: string;
let sshd: Sshd;
let key: KeyPair;
let port: number;
let login: { name: string; remove(): void };
const profile = loadProfile();
// dns.* would query this machine's resolver: not here.
const checks = ALL_CHECKS.filter((c) => !c.id.startsWith('dns.') && c.id !== 'disk.fsync');

// Count the SSH sessions the client opens (instrumenting our own client, not the server).
const sessions: string[] = [];
const proto = (ssh2 as unknown as { Client: { prototype: Record<string, (...a: unknown[]) => unknown> } }).Client.prototype;
for (const m of ['exec', 'sftp']) {
  const orig = proto[m]!;
  proto[m] = function (this: unknown, ...a: unknown[]) {
    sessions.push(m === 'exec' ? String(a[0]) : 'sftp');
    return orig.apply(this, a);
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-fleet-batch-'));
  chmodSync(dir, 0o755);
  login = createLoginUser(`ac${process.pid}u`, dir);
  key = makeKey(join(dir, 'id_ed25519'));
  chmodSync(key.privateKeyFile, 0o600);
  port = await freePort();
  mkdirSync(join(dir, 'sshd'));
  sshd = await startSshd({ dir: join(dir, 'sshd'), address: '127.0.0.1', ports: [port], authorizedKeys: [key.publicKey] });
  writeFileSync(join(dir, 'known_hosts'), sshd.knownHostsLine(port) + '\n');
});
after(async () => {
  await sshd?.stop();
  login?.remove();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(user: string, batchReads: boolean): Promise<SshHost> {
  const h = await connectSsh(
    { name: 'node-1', address: '127.0.0.1', port, user, keyFile: key.privateKeyFile, knownHostsFile: join(dir, 'known_hosts') },
    { connectTimeoutMs: 10_000, batchReads },
  );
  assert.ok(h instanceof SshHost, `connected as ${user}`);
  return h;
}

async function run(user: string, batchReads: boolean): Promise<{ results: Map<string, CheckResult>; sessions: string[] }> {
  const host = await connect(user, batchReads);
  sessions.length = 0;
  try {
    const results = await runChecks({
      nodes: [{ info: { name: 'node-1', roles: ['control-plane', 'gpu-worker'] }, host }],
      checks,
      profile,
      timeoutMs: 20_000,
      concurrency: 8,
      lang: 'en',
    });
    return { results: new Map(results.map((r) => [r.id, r])), sessions: [...sessions] };
  } finally {
    await host.close();
  }
}

/** A result without what changes from one run to the next (free bytes, timings). */
function stable(r: CheckResult): string {
  return `${r.status} ${r.message.replace(/\d[\d,.]*/g, '#')}`;
}

for (const who of ['root', 'unprivileged user'] as const) {
  test(`batch reads change no result and save sessions (${who})`, async () => {
    const user = who === 'root' ? 'root' : login.name;
    const one = await run(user, false);
    const batch = await run(user, true);
    assert.deepEqual([...batch.results.keys()].sort(), [...one.results.keys()].sort());
    assert.ok(batch.results.size > 30, `${batch.results.size} results`);
    for (const [id, r] of one.results) {
      assert.equal(stable(batch.results.get(id)!), stable(r), id);
    }
    // Facts that do not drift between two runs are identical too.
    for (const id of ['os.release', 'os.hostname', 'resources.cpu', 'resources.memory', 'kernel.version', 'kernel.modules', 'kernel.sysctl', 'kernel.cgroup', 'kernel.swap', 'security.selinux', 'security.apparmor', 'gpu.devices', 'firewall.status', 'proxy.env', 'proxy.containerd', 'ssh.sudo']) {
      assert.deepEqual(batch.results.get(id)?.facts, one.results.get(id)?.facts, id);
    }
    const sftp = (s: string[]) => s.filter((x) => x === 'sftp').length;
    const execs = (s: string[]) => s.filter((x) => x !== 'sftp').length;
    assert.ok(sftp(one.sessions) === 1 && execs(one.sessions) >= 15, `one by one: ${execs(one.sessions)} exec sessions`);
    // Left: the batch, ntpq (may wait for its own timeout), and for root nvidia-smi and ufw (slow).
    assert.ok(execs(batch.sessions) <= (who === 'root' ? 6 : 3), `with the batch: ${batch.sessions.map((s) => s.slice(0, 40)).join(' | ')}`);
    assert.ok(batch.sessions.some((s) => s.includes('exec bash -c')), 'the batch ran');
  });
}

test('a batch that stalls: what came is used, the rest is read one by one, within the timeout', async () => {
  const host = await connect('root', true);
  try {
    sessions.length = 0;
    const marker = join(dir, 'marker.txt');
    writeFileSync(marker, 'from the node\n');
    const t0 = performance.now();
    host.prefetch(
      { files: [marker, '/proc/sys/kernel/osrelease'], commands: [['sleep', '30'], ['echo', 'after the stall']] },
      // (long enough for a loaded CI machine to start the batch's shell; far short of the stall)
      { timeoutMs: 3000 },
    );
    assert.equal(await host.readFile(marker), 'from the node\n');
    const before = sessions.length;
    assert.equal(before, 1, 'the file came from the batch');
    const r = await host.exec(['echo', 'after the stall']);
    assert.equal(r.stdout, 'after the stall\n');
    assert.equal(r.code, 0);
    assert.ok(sessions.length === 2 && sessions[1]!.includes('echo'), 'the command the batch never reached ran on its own');
    const ms = performance.now() - t0;
    assert.ok(ms < 10_000, `waited ${ms} ms, not for the stalled command`);
    // Not declared at all: asked for directly.
    assert.equal(await host.readFile(join(dir, 'nope')), null);
  } finally {
    await host.close();
  }
});

test('an aborted wait for a batch answer rejects at once', async () => {
  const host = await connect('root', true);
  try {
    host.prefetch({ commands: [['sleep', '5'], ['echo', 'x']] }, { timeoutMs: 10_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 200);
    const t0 = performance.now();
    await assert.rejects(host.exec(['echo', 'x'], { signal: ac.signal }), /stop/);
    assert.ok(performance.now() - t0 < 2000);
  } finally {
    await host.close();
  }
});

test('clock readings: one session for all of them, and this machine agrees with itself', async () => {
  const host = await connect(login.name, true);
  try {
    sessions.length = 0;
    const readings = await host.clockReadings(3, { timeoutMs: 10_000 });
    assert.equal(readings.length, 3);
    assert.equal(sessions.length, 1, 'one exec channel for three readings');
    for (const r of readings) {
      assert.match(r.text, /^\d{10}\.\d{9}$/);
      const node = Number(r.text) * 1000;
      assert.ok(node >= r.sentAt - 5 && node <= r.receivedAt + 5, `reading ${node} outside [${r.sentAt}, ${r.receivedAt}]`);
    }
    // The node is this machine: the best of three is within a few ms of our clock.
    const best = await measureOffset(host, 3, new AbortController().signal, 10_000);
    assert.ok(Math.abs(best.offsetMs) < 50, `offset ${best.offsetMs} ms, rtt ${best.rttMs} ms`);
  } finally {
    await host.close();
  }
});
