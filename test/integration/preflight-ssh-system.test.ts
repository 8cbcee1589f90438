// The system probes are Host-generic: run over SSH to this same machine (a real
// sshd on 127.0.0.1), they must find the same facts as the local run. The
// SSH host takes other paths (dd oflag=dsync for fsync). The GPU probes: preflight-gpu.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { sshToSelf, type SelfSsh } from '../support/ssh-self.ts';
import { createLocalHost } from '../../src/preflight/hosts/local.ts';
import { runChecks } from '../../src/preflight/engine.ts';
import { loadProfile } from '../../src/preflight/profile.ts';
import { systemChecks } from '../../src/preflight/checks/system/index.ts';
import type { Host } from '../../src/preflight/types.ts';
import type { CheckResult } from '../../src/schema/report.ts';

let self: SelfSsh;
let ssh: Host;
const profile = loadProfile();
profile.disk = { fsyncP99WarnMs: 10000, fsyncP99FailMs: 20000, fsyncSamples: 20 };

before(async () => {
  self = await sshToSelf('ac-sshsys-');
  ssh = self.host;
});
after(() => self?.close());

async function run(host: Host): Promise<Map<string, CheckResult>> {
  const results = await runChecks({
    nodes: [{ info: { name: host.name, roles: ['control-plane', 'gpu-worker'] }, host }],
    checks: systemChecks,
    profile,
    timeoutMs: 20_000,
    concurrency: 8,
    lang: 'en',
  });
  return new Map(results.map((r) => [r.id, r]));
}

test('over SSH the system probes see the same machine as locally', async () => {
  assert.equal(ssh.kind, 'ssh');
  const [local, remote] = [await run(createLocalHost({ name: 'self' })), await run(ssh)];
  for (const [id, r] of remote) assert.notEqual(r.status, 'error', `${id}: ${r.message}`);
  const same = (id: string, keys: string[]) => {
    const pick = (m: Map<string, CheckResult>) => Object.fromEntries(keys.map((k) => [k, m.get(id)?.facts[k]]));
    assert.deepEqual(pick(remote), pick(local), id);
    assert.equal(remote.get(id)!.status, local.get(id)!.status, id);
  };
  same('os.release', ['id', 'versionId', 'prettyName']);
  same('os.hostname', ['hostname']);
  same('resources.cpu', ['cpus', 'model']);
  same('resources.memory', ['memTotalKiB']);
  same('disk.filesystem[/var/lib/etcd]', ['measuredPath', 'fsType', 'mountPoint']);
  same('disk.inodes[/]', ['totalInodes']);
  assert.equal(remote.get('disk.free[/]')!.facts.totalBytes, local.get('disk.free[/]')!.facts.totalBytes);
  // host.privileges is for this machine; over SSH, ssh.sudo reports it.
  assert.ok(local.has('host.privileges') && !remote.has('host.privileges'));
  // fsync: natively timed samples locally, one dd oflag=dsync run over SSH (mean only, said so).
  const lf = local.get('disk.fsync')!;
  const rf = remote.get('disk.fsync')!;
  assert.equal(lf.facts.method, 'fdatasync');
  assert.equal(rf.facts.method, 'dd-dsync');
  assert.equal(rf.status, 'pass', rf.message);
  assert.ok((rf.facts.meanMs as number) > 0);
  assert.match(rf.message, /p99 needs a local run/);
  assert.deepEqual(readdirSync(String(rf.facts.measuredPath)).filter((f) => f.startsWith('.astrago-check-fsync-')), [], 'dd test file removed');
});

test('exec over SSH honours timeoutMs and AbortSignal as the local host does', async () => {
  for (const host of [createLocalHost({ name: 'self' }), ssh]) {
    const t0 = performance.now();
    const t = await host.exec(['sleep', '30'], { timeoutMs: 300 });
    assert.equal(t.code, null, host.kind);
    assert.match(t.stderr, /\(killed after 300 ms\)$/, host.kind);
    const ac = new AbortController();
    const p = host.exec(['sleep', '30'], { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop now')), 300);
    await assert.rejects(p, /stop now/, host.kind);
    assert.ok(performance.now() - t0 < 5000, `${host.kind}: ${Math.round(performance.now() - t0)} ms`);
    // The killed commands left nothing behind that blocks the next one.
    assert.deepEqual(await host.exec(['echo', 'next'], { timeoutMs: 5000 }), { code: 0, stdout: 'next\n', stderr: '' }, host.kind);
  }
});
