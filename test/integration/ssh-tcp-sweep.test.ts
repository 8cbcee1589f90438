// The port-matrix batch (SshHost.tcpSweep) against a real sshd: the node dials every
// target itself over ONE exec channel, and each target gets the state a direct probe
// gives: open, refused, filtered (nft drops it in a namespace), unreachable (a blackholed
// route); stuck dials are cut at the probe timeout while the other workers go on; a node
// without bash says so (null) and nothing is guessed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { freePort } from '../support/process.ts';
import { createNamespace, nsExec, type Namespace } from '../support/netns.ts';
import { createLoginUser, makeKey, startSshd, type KeyPair, type Sshd } from '../support/sshd.ts';
import { connectSsh } from '../../src/preflight/hosts/ssh/connect.ts';
import { SshHost } from '../../src/preflight/hosts/ssh/host.ts';

const pid = process.pid;
let dir: string;
let sshd: Sshd;
let noBash: Sshd;
let key: KeyPair;
let port: number;
let noBashPort: number;
let ns: Namespace;
let login: { name: string; remove(): void };

const sessions: string[] = [];
const proto = (ssh2 as unknown as { Client: { prototype: Record<string, (...a: unknown[]) => unknown> } }).Client.prototype;
const origExec = proto.exec!;
proto.exec = function (this: unknown, ...a: unknown[]) {
  sessions.push(String(a[0]));
  return origExec.apply(this, a);
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-fleet-sweep-'));
  chmodSync(dir, 0o755);
  login = createLoginUser(`ac${pid}u`, dir);
  key = makeKey(join(dir, 'id_ed25519'));
  [port, noBashPort] = [await freePort(), await freePort()];
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  sshd = await startSshd({ dir: join(dir, 'a'), address: '127.0.0.1', ports: [port], authorizedKeys: [key.publicKey] });
  // Sessions of this one find no bash (nor anything else) on their PATH.
  noBash = await startSshd({ dir: join(dir, 'b'), address: '127.0.0.1', ports: [noBashPort], authorizedKeys: [key.publicKey], extraConfig: [`SetEnv PATH=${dir}/empty`] });
  writeFileSync(join(dir, 'known_hosts'), `${sshd.knownHostsLine(port)}\n${noBash.knownHostsLine(noBashPort)}\n`);
  ns = createNamespace(`i21w${pid % 100000}`, `10.206.${pid % 200}`);
  nsExec(ns, ['nft', 'add', 'table', 'inet', 'actest']);
  nsExec(ns, ['nft', 'add', 'chain', 'inet', 'actest', 'input', '{ type filter hook input priority 0; policy accept; }']);
  nsExec(ns, ['nft', 'add', 'rule', 'inet', 'actest', 'input', 'tcp', 'dport', '9', 'drop']);
});
after(async () => {
  await sshd?.stop();
  await noBash?.stop();
  ns?.destroy();
  login?.remove();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(p: number): Promise<SshHost> {
  const h = await connectSsh(
    { name: 'node-1', address: '127.0.0.1', port: p, user: login.name, keyFile: key.privateKeyFile, knownHostsFile: join(dir, 'known_hosts') },
    { connectTimeoutMs: 10_000 },
  );
  assert.ok(h instanceof SshHost, 'connected');
  return h;
}

test('one channel dials every target on the node: open, refused, filtered, unreachable', async () => {
  const host = await connect(port);
  try {
    const refusedPort = await freePort();
    const targets = [
      { host: '127.0.0.1', port }, // sshd itself
      { host: '127.0.0.1', port: refusedPort },
      { host: ns.address, port: 9 }, // dropped by nft: no answer
      { host: '10.206.250.1', port: 80 }, // inside the blackholed 10.200.0.0/13, no such LAN: no route
      { host: '127.0.0.1', port },
      { host: ns.address, port: 9 },
      { host: ns.address, port: 9 },
      { host: '127.0.0.1', port: refusedPort },
    ];
    const before = sessions.length;
    const t0 = performance.now();
    // Two workers (0: targets 0 2 4 6, 1: 1 3 5 7), three stuck dials: a stuck worker is
    // replaced at the probe timeout and the rest still answer.
    const swept = await host.tcpSweep(targets, { probeTimeoutMs: 800, workers: 2 });
    const wall = performance.now() - t0;
    assert.equal(sessions.length - before, 1, `one exec channel for ${targets.length} probes: ${sessions.slice(before).join(' | ')}`);
    assert.ok(swept, 'bash is there');
    const r = swept.results;
    // The node's own listening ports come with the batch: sshd's among them, the refused one not.
    assert.ok(swept.listening?.includes(port), `listening: ${swept.listening}`);
    assert.ok(!swept.listening?.includes(refusedPort));
    assert.deepEqual(
      r.map((x) => x?.state),
      ['open', 'refused', 'filtered', 'unreachable', 'open', 'filtered', 'filtered', 'refused'],
      JSON.stringify(r),
    );
    for (const x of r) assert.equal(x!.via, 'ssh-batch');
    assert.match(r[1]!.error!, /Connection refused/);
    assert.match(r[3]!.error!, /No route to host|unreachable/i);
    // Worker 0 waits out two probe timeouts, worker 1 one at the same time: two rounds, not three.
    assert.ok(wall < 800 * 3 - 200, `wall ${Math.round(wall)} ms`);
  } finally {
    await host.close();
  }
});

test('many targets, few workers: every result present and in target order', async () => {
  const host = await connect(port);
  try {
    const refusedPort = await freePort();
    const targets = Array.from({ length: 300 }, (_, i) => ({ host: '127.0.0.1', port: i % 3 === 0 ? port : refusedPort }));
    const r = (await host.tcpSweep(targets, { probeTimeoutMs: 2000, workers: 4 }))?.results;
    assert.ok(r);
    assert.equal(r.length, 300);
    r.forEach((x, i) => assert.equal(x?.state, i % 3 === 0 ? 'open' : 'refused', `target ${i}`));
  } finally {
    await host.close();
  }
});

test('an abort returns what came back so far; a node without bash answers null', async () => {
  const host = await connect(port);
  try {
    const targets = [{ host: '127.0.0.1', port }, ...Array.from({ length: 4 }, () => ({ host: ns.address, port: 9 }))];
    const r = (await host.tcpSweep(targets, { probeTimeoutMs: 30_000, workers: 8, signal: AbortSignal.timeout(1000) }))?.results;
    assert.ok(r);
    assert.equal(r[0]?.state, 'open');
    assert.deepEqual(r.slice(1), [undefined, undefined, undefined, undefined], 'stuck dials are not guessed');
  } finally {
    await host.close();
  }
  const bare = await connect(noBashPort);
  try {
    assert.equal(await bare.tcpSweep([{ host: '127.0.0.1', port }], { probeTimeoutMs: 1000, workers: 2 }), null);
  } finally {
    await bare.close();
  }
});
