// The temporary listener of site.port-matrix, run for real on this machine with python3
// and with perl (a PATH holding only perl, sh and cat): it binds, accepts, exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalHost } from '../../../../../src/preflight/hosts/local.ts';
import { startProofListener } from '../../../../../src/preflight/checks/fleet/proof-listener.ts';
import type { Host } from '../../../../../src/preflight/types.ts';
import { freePort } from '../../../../support/process.ts';

// The interpreter itself, not a wrapper script (pyenv's shims need bash).
const which = (cmd: string) =>
  cmd === 'python3' ? execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim() : execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();

/** This machine, with PATH limited to `tools` (linked into a temp directory). */
function hostWith(tools: string[], dir: string): Host {
  for (const t of tools) symlinkSync(which(t), join(dir, t));
  const local = createLocalHost();
  return Object.assign(Object.create(local) as Host, { exec: (argv: string[], o: Parameters<Host['exec']>[1] = {}) => local.exec(argv, { ...o, env: { ...o.env, PATH: dir } }) });
}

const dial = (port: number) =>
  new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve('open')));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });

for (const [label, tools] of [['python3', ['sh', 'cat', 'python3']], ['perl', ['sh', 'cat', 'perl']]] as const) {
  test(`proof listener (${label}): binds the ports, accepts the expected connections, then exits`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ac-listener-'));
    try {
      const [a, b] = [await freePort(), await freePort()];
      assert.equal(await dial(a), 'ECONNREFUSED');
      const l = await startProofListener(hostWith([...tools], dir), [a, b], { expected: { [a]: 1, [b]: 1 }, holdMs: 5000, readyMs: 3000, signal: AbortSignal.timeout(8000), bindAddress: '127.0.0.1' });
      assert.deepEqual(l.errors, {});
      assert.deepEqual(l.bound.sort(), [a, b].sort());
      assert.equal(await dial(a), 'open');
      assert.equal(await dial(b), 'open');
      const t0 = performance.now();
      await l.done;
      assert.ok(performance.now() - t0 < 3000, 'ends after the expected connections, not its hold time');
      assert.equal(await dial(a), 'ECONNREFUSED', 'gone afterwards');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('proof listener: a node with neither python3 nor perl says why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-listener-'));
  try {
    const none = await startProofListener(hostWith(['sh', 'cat'], dir), [await freePort()], { expected: {}, holdMs: 1000, readyMs: 1000, signal: AbortSignal.timeout(5000) });
    assert.deepEqual(none.bound, []);
    assert.match(Object.values(none.errors)[0]!, /neither python3 nor perl/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('proof listener as a user who may not bind below 1024: the free high port listens, the low one says why, no wait for readiness', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-listener-'));
  try {
    chmodSync(dir, 0o755);
    for (const t of ['sh', 'cat', 'perl', 'setpriv']) symlinkSync(which(t), join(dir, t));
    const local = createLocalHost();
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const host = Object.assign(Object.create(local) as Host, { exec: (argv: string[], o: Parameters<Host['exec']>[1] = {}) => local.exec([...nobody, ...argv], { ...o, env: { ...o.env, PATH: dir } }) });
    const high = await freePort();
    const t0 = performance.now();
    const l = await startProofListener(host, [high, 1], { expected: { [high]: 1, 1: 1 }, holdMs: 4000, readyMs: 3000, signal: AbortSignal.timeout(8000), bindAddress: '127.0.0.1' });
    assert.deepEqual(l.bound, [high]);
    assert.ok(performance.now() - t0 < 2500, 'did not wait out readyMs for the port that cannot bind');
    assert.equal(await dial(high), 'open');
    const final = await l.done;
    assert.match(final[1] ?? '', /Permission denied/);
    assert.equal(final[high], undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
