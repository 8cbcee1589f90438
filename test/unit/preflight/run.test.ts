// runPreflight's choice of nodes and roles, and its input errors. Remote nodes
// come through the remoteHostFactory hook (here: this machine under another name).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPreflight, type PreflightOptions } from '../../../src/preflight/run.ts';
import { createLocalHost } from '../../../src/preflight/hosts/local.ts';
import { defineCheck } from '../../../src/preflight/types.ts';
import { UsageError, InputErrors } from '../../../src/errors.ts';

let dir: string;
const me = hostname();
const whoami = defineCheck({
  id: 'test.whoami',
  category: 'os',
  title: 'who',
  probe: async ({ host, node }) => ({ kind: host.kind, roles: node.roles }),
  judge: (f) => ({ status: 'pass', message: JSON.stringify(f) }),
});
const base = (o: Partial<PreflightOptions> = {}): PreflightOptions => ({
  timeoutMs: 2000,
  concurrency: 4,
  lang: 'en',
  env: {},
  cwd: dir,
  checks: [whoami],
  siteChecks: [],
  ...o,
});

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ac-run-'));
  const node = (name: string, roles: string) => `  - {name: ${name}, address: 127.0.0.1, roles: [${roles}]}`;
  writeFileSync(join(dir, 'site.yaml'), ['apiVersion: astrago.io/v1', 'kind: Site', 'metadata: {name: lab}', 'nodes:', node(me, 'worker, gpu-worker'), node('other-1', 'worker'), node('other-2', 'control-plane'), ''].join('\n'));
  writeFileSync(join(dir, 'empty.yaml'), 'apiVersion: astrago.io/v1\nkind: Site\nmetadata: {name: empty}\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('no site: this machine, as control-plane unless --role says otherwise', async () => {
  const r = await runPreflight(base());
  assert.deepEqual(r.nodes.map(({ durationMs, ...n }) => (assert.ok(durationMs! >= 0), n)), [{ name: me, address: undefined, roles: ['control-plane'], reachable: true }]);
  assert.equal(r.results[0]!.message, '{"kind":"local","roles":["control-plane"]}');
  const w = await runPreflight(base({ roles: ['worker', 'gpu-worker'] }));
  assert.deepEqual(w.nodes[0]!.roles, ['worker', 'gpu-worker']);
  const empty = await runPreflight(base({ sitePath: 'empty.yaml' }));
  assert.deepEqual(empty.nodes.map((n) => n.name), [me], 'a site without nodes checks this machine');
  assert.equal(empty.site?.metadata.name, 'empty');
});

test('a site with nodes: each over the remote factory; --local adds this machine with its site roles', async () => {
  const asked: string[] = [];
  const factory = async (n: { name: string }) => {
    asked.push(n.name);
    const h = createLocalHost({ name: n.name });
    return { ...h, kind: 'ssh' as const, exec: h.exec.bind(h), readFile: h.readFile.bind(h), readDir: h.readDir.bind(h), statFs: h.statFs.bind(h), connectTcp: h.connectTcp.bind(h), uid: h.uid.bind(h), close: h.close.bind(h) };
  };
  const all = await runPreflight(base({ sitePath: 'site.yaml', remoteHostFactory: factory }));
  assert.deepEqual(asked.sort(), [me, 'other-1', 'other-2'].sort());
  assert.equal(all.results.length, 3);

  asked.length = 0;
  const withLocal = await runPreflight(base({ sitePath: 'site.yaml', local: true, nodeNames: ['other-2'], remoteHostFactory: factory }));
  assert.deepEqual(asked, ['other-2'], 'this machine is not reached over SSH as well');
  const byNode = Object.fromEntries(withLocal.results.map((r) => [r.node, JSON.parse(r.message)]));
  assert.deepEqual(byNode[me], { kind: 'local', roles: ['worker', 'gpu-worker'] });
  assert.deepEqual(byNode['other-2'], { kind: 'ssh', roles: ['control-plane'] });
  assert.equal(withLocal.siteDir, dir);
});

test('usage and input errors', async () => {
  await assert.rejects(runPreflight(base({ sitePath: 'site.yaml', nodeNames: ['nope'] })), (e: Error) => e instanceof UsageError && /--node 'nope' is not a node of site\.yaml \(nodes: /.test(e.message));
  await assert.rejects(runPreflight(base({ nodeNames: ['x'] })), /no --site given/);
  await assert.rejects(runPreflight(base({ sitePath: 'site.yaml', roles: ['worker'] })), /--role sets the roles of this machine/);
  await assert.rejects(runPreflight(base({ only: ['disk.'] })), (e: Error) => e instanceof UsageError && /--only 'disk\.' names no check \(checks: test\.whoami\)/.test(e.message));
  await assert.rejects(runPreflight(base({ sitePath: 'missing.yaml' })), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /missing\.yaml.*file not found/.test(e.message));
  writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: astrago.io/v1\nkind: Site\nmetadata: {name: x}\nnodes:\n  - {name: a, address: b, roles: [boss]}\n');
  await assert.rejects(runPreflight(base({ sitePath: 'bad.yaml' })), (e: Error) => e instanceof InputErrors && /bad\.yaml:5: field 'nodes\[0\]\.roles\[0\]'/.test(e.message));
});

test('--ssh-concurrency: no more connections are being opened at once than asked', async () => {
  const nodes = Array.from({ length: 9 }, (_, i) => `  - {name: n${i}, address: 127.0.0.1, roles: [worker]}`);
  writeFileSync(join(dir, 'nine.yaml'), ['apiVersion: astrago.io/v1', 'kind: Site', 'metadata: {name: nine}', 'nodes:', ...nodes, ''].join('\n'));
  const measure = async (sshConcurrency?: number) => {
    let open = 0;
    let peak = 0;
    const factory = async (n: { name: string }) => {
      peak = Math.max(peak, ++open);
      await new Promise((r) => setTimeout(r, 30)); // a handshake takes a while
      open--;
      const h = createLocalHost({ name: n.name });
      return { ...h, kind: 'ssh' as const, exec: h.exec.bind(h), readFile: h.readFile.bind(h), readDir: h.readDir.bind(h), statFs: h.statFs.bind(h), connectTcp: h.connectTcp.bind(h), uid: h.uid.bind(h), close: h.close.bind(h) };
    };
    const r = await runPreflight(base({ sitePath: 'nine.yaml', remoteHostFactory: factory, sshConcurrency }));
    assert.equal(r.nodes.length, 9);
    return peak;
  };
  assert.equal(await measure(2), 2);
  assert.equal(await measure(1), 1);
  assert.equal(await measure(), 9, 'the default allows more than nine at once');
});
