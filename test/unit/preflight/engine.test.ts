// The engine on synthetic checks: timeouts, exceptions, concurrency, --only/--skip,
// applicability, unreachable nodes and site checks. No machine facts needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChecks, isSelected } from '../../../src/preflight/engine.ts';
import { loadProfile } from '../../../src/preflight/profile.ts';
import { defineCheck, defineSiteCheck, type CheckDef, type Host } from '../../../src/preflight/types.ts';
import type { CheckResult } from '../../../src/schema/report.ts';

const profile = loadProfile();

function fakeHost(uid = 1000): Host {
  const no = () => Promise.reject(new Error('not used'));
  return { name: 'n1', kind: 'local', exec: no, readFile: no, readDir: no, statFs: no, connectTcp: no, uid: async () => uid, close: async () => {} };
}
const node = (name: string, host: Host | null = fakeHost()) => ({ info: { name, roles: ['worker' as const] }, host });

function passing(id: string, extra: Partial<CheckDef> = {}): CheckDef {
  return defineCheck({
    id,
    category: 'os',
    title: id,
    probe: async () => ({ ok: true }),
    judge: () => ({ status: 'pass', message: `${id} ok` }),
    ...extra,
  });
}

test('a hanging check and a throwing check become error; the others finish first', async () => {
  const order: string[] = [];
  const hanging = defineCheck({ id: 'x.hang', category: 'os', title: 'hang', probe: () => new Promise(() => {}), judge: () => ({ status: 'pass', message: '' }) });
  const throwing = defineCheck({
    id: 'x.throw',
    category: 'os',
    title: 'throw',
    probe: async () => {
      throw new Error('boom: /proc/foo unreadable');
    },
    judge: () => ({ status: 'pass', message: '' }),
  });
  const badJudge = defineCheck({ id: 'x.judge', category: 'os', title: 'j', probe: async () => ({}), judge: () => { throw new TypeError('bad facts'); } });
  const results = await runChecks({
    nodes: [node('n1')],
    checks: [hanging, throwing, badJudge, passing('x.a'), passing('x.b')],
    profile,
    timeoutMs: 300,
    concurrency: 4,
    lang: 'en',
    onResult: (r) => order.push(r.id),
  });
  const by = Object.fromEntries(results.map((r) => [r.id, r]));
  assert.equal(by['x.hang']!.status, 'error');
  assert.match(by['x.hang']!.message, /timed out after 300 ms/);
  assert.ok(by['x.hang']!.remediation, 'a timeout says what to do');
  assert.equal(by['x.throw']!.status, 'error');
  assert.match(by['x.throw']!.message, /boom: \/proc\/foo unreadable/);
  assert.equal(by['x.judge']!.status, 'error');
  assert.match(by['x.judge']!.message, /judge failed: bad facts/);
  assert.equal(by['x.a']!.status, 'pass');
  assert.equal(by['x.b']!.status, 'pass');
  // The hanging check is reported last: nothing waited for it.
  assert.equal(order.at(-1), 'x.hang');
  // Stable order in the returned list: as the checks were given.
  assert.deepEqual(results.map((r) => r.id), ['x.hang', 'x.throw', 'x.judge', 'x.a', 'x.b']);
});

test('the probe receives a signal that aborts at the timeout', async () => {
  let sawAbort = false;
  const check = defineCheck({
    id: 'x.signal',
    category: 'os',
    title: 's',
    probe: (ctx) =>
      new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => {
          sawAbort = true;
          reject(ctx.signal.reason);
        });
      }),
    judge: () => ({ status: 'pass', message: '' }),
  });
  const [r] = await runChecks({ nodes: [node('n1')], checks: [check], profile, timeoutMs: 50, concurrency: 1, lang: 'en' });
  assert.equal(r!.status, 'error');
  assert.ok(sawAbort);
});

test('concurrency is honoured per node; nodes run side by side', async () => {
  let active = 0;
  let maxActive = 0;
  const activePerNode = new Map<string, number>();
  let maxPerNode = 0;
  const slow = (id: string) =>
    passing(id, {
      probe: async (ctx: { node: { name: string } }) => {
        active++;
        maxActive = Math.max(maxActive, active);
        const n = (activePerNode.get(ctx.node.name) ?? 0) + 1;
        activePerNode.set(ctx.node.name, n);
        maxPerNode = Math.max(maxPerNode, n);
        await new Promise((r) => setTimeout(r, 20));
        activePerNode.set(ctx.node.name, activePerNode.get(ctx.node.name)! - 1);
        active--;
        return {};
      },
    });
  const checks = ['c.1', 'c.2', 'c.3', 'c.4'].map(slow);
  const results = await runChecks({ nodes: [node('n1'), node('n2')], checks, profile, timeoutMs: 5000, concurrency: 3, lang: 'en' });
  assert.equal(results.length, 8);
  assert.equal(maxPerNode, 3);
  // A slow node does not queue the other's checks behind its own.
  assert.equal(maxActive, 6);
  const one = await runChecks({ nodes: [node('n1')], checks: checks.slice(0, 3), profile, timeoutMs: 5000, concurrency: 1, lang: 'en' });
  assert.equal(one.length, 3);
  maxActive = 0;
  await runChecks({ nodes: [node('n1')], checks, profile, timeoutMs: 5000, concurrency: 1, lang: 'en' });
  assert.equal(maxActive, 1);
});

test('--only and --skip select by id, prefix and result id', async () => {
  const probed: string[] = [];
  const multi = defineCheck({
    id: 'disk.free',
    category: 'storage',
    title: 'free',
    probe: async () => {
      probed.push('disk.free');
      return {};
    },
    judge: () => [
      { id: 'disk.free[/]', status: 'pass', message: '' },
      { id: 'disk.free[/var/lib/etcd]', status: 'fail', message: '' },
    ],
  });
  const checks = [multi, passing('disk.inodes'), passing('os.release'), passing('os.hostname')];
  const run = async (only: string[], skip: string[]) =>
    (await runChecks({ nodes: [node('n1')], checks, profile, timeoutMs: 1000, concurrency: 4, lang: 'en', only, skip })).map((r) => r.id);
  assert.deepEqual(await run(['disk.'], []), ['disk.free[/]', 'disk.free[/var/lib/etcd]', 'disk.inodes']);
  assert.deepEqual(await run(['disk'], []), ['disk.free[/]', 'disk.free[/var/lib/etcd]', 'disk.inodes']);
  assert.deepEqual(await run(['os.release', 'disk.free[/]'], []), ['disk.free[/]', 'os.release']);
  assert.deepEqual(await run([], ['disk', 'os.hostname']), ['os.release']);
  assert.deepEqual(await run([], ['disk.free[/]']), ['disk.free[/var/lib/etcd]', 'disk.inodes', 'os.release', 'os.hostname']);
  probed.length = 0;
  await run(['os.'], []);
  assert.deepEqual(probed, [], 'a check not selected is not probed');
  assert.equal(isSelected('disk.fsync', ['disk.fs']), false, 'a prefix must end at a dot');
});

test('results carry checklist item, category, facts, remediation and duration', async () => {
  const check = defineCheck({
    id: 'resources.cpu',
    category: 'resources',
    title: 'CPU',
    probe: async () => ({ cpus: 1 }),
    judge: (f) => ({ status: 'fail', message: `${(f as { cpus: number }).cpus} CPU`, remediation: 'add CPUs' }),
  });
  const pass = defineCheck({ id: 'os.release', category: 'os', title: 'OS', probe: async () => ({ id: 'x' }), judge: () => ({ status: 'pass', message: 'ok', remediation: 'never shown' }) });
  const unknown = passing('custom.thing');
  const results = await runChecks({ nodes: [node('w1')], checks: [check, pass, unknown], profile, timeoutMs: 1000, concurrency: 2, lang: 'en' });
  const [cpu, os, custom] = results as [CheckResult, CheckResult, CheckResult];
  assert.deepEqual(
    { id: cpu.id, node: cpu.node, checklist: cpu.checklist, category: cpu.category, status: cpu.status, facts: cpu.facts, remediation: cpu.remediation },
    { id: 'resources.cpu', node: 'w1', checklist: 'RES-01', category: 'resources', status: 'fail', facts: { cpus: 1 }, remediation: 'add CPUs' },
  );
  assert.equal(typeof cpu.durationMs, 'number');
  assert.equal(os.checklist, 'OS-01');
  assert.equal(os.remediation, undefined, 'a pass carries no remediation');
  assert.equal(custom.checklist, '-', 'a check in no checklist item is marked so');
  assert.equal(custom.category, 'os');
});

test('appliesTo, isRoot, unreachable nodes and site checks', async () => {
  const seenRoot: boolean[] = [];
  const gpuOnly = passing('gpu.nouveau', { appliesTo: (ctx) => ctx.node.roles.includes('gpu-worker') });
  const rootAware = passing('x.root', { judge: (_f, ctx) => { seenRoot.push(ctx.isRoot); return { status: 'pass', message: '' }; } });
  const nodeDone: string[] = [];
  let siteSawAllNodes = false;
  const site = defineSiteCheck({
    id: 'site.hostnames',
    category: 'network',
    title: 'unique',
    probe: async (ctx) => {
      siteSawAllNodes = nodeDone.length === 3 && ctx.nodes.length === 3;
      return { names: ctx.nodes.map((n) => n.info.name) };
    },
    judge: (f) => [
      { status: 'pass', message: 'ok', node: 'a' },
      { status: 'fail', message: `dup among ${(f as { names: string[] }).names.join(',')}` },
    ],
  });
  const results = await runChecks({
    nodes: [node('a', fakeHost(0)), node('b', fakeHost(1000)), { ...node('c', null), unreachable: 'connection refused' }],
    checks: [gpuOnly, rootAware],
    siteChecks: [site],
    profile,
    timeoutMs: 1000,
    concurrency: 8,
    lang: 'en',
    onResult: (r) => { if (!r.id.startsWith('site.')) nodeDone.push(r.node); },
  });
  assert.ok(!results.some((r) => r.id === 'gpu.nouveau' && r.node !== 'c'), 'gpu check does not apply to workers');
  assert.deepEqual(seenRoot.sort(), [false, true]);
  const c = results.filter((r) => r.node === 'c');
  assert.deepEqual(c.map((r) => r.status), ['skip']);
  assert.match(c[0]!.message, /unreachable \(connection refused\)/);
  assert.ok(siteSawAllNodes, 'site checks run after every node check');
  const siteRes = results.filter((r) => r.id === 'site.hostnames');
  assert.deepEqual(siteRes.map((r) => [r.node, r.status, r.checklist]), [['a', 'pass', 'NET-07'], ['site', 'fail', 'NET-07']]);
  assert.match(siteRes[1]!.message, /a,b,c/);
});

test('a probe failing because the node is unreachable is a skip, not an error', async () => {
  const unreachable = Object.assign(new Error('node unreachable: n1 (connection refused)'), { code: 'ERR_NODE_UNREACHABLE' });
  const check = passing('x.u', { probe: async () => { throw unreachable; } });
  const [r] = await runChecks({ nodes: [node('n1')], checks: [check], profile, timeoutMs: 1000, concurrency: 1, lang: 'en' });
  assert.equal(r!.status, 'skip');
  assert.match(r!.message, /not checked: node unreachable: n1 \(connection refused\)/);
});

test('a node still connecting delays only itself: others report first', async () => {
  const order: string[] = [];
  let release!: (h: Host) => void;
  const late = node('late');
  const pending = { info: late.info, host: new Promise<Host>((r) => (release = r)) };
  const run = runChecks({
    nodes: [node('early'), pending],
    checks: [passing('c.1')],
    profile,
    timeoutMs: 5000,
    concurrency: 2,
    lang: 'en',
    onResult: (r) => {
      order.push(r.node);
      if (r.node === 'early') release(late.host as Host);
    },
  });
  const results = await run;
  assert.deepEqual(order, ['early', 'late']);
  assert.equal(results.length, 2);
});

test('an outer signal (the overall deadline) turns what still runs into error with its reason', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('overall deadline of 1 s reached')), 50);
  const hang = passing('c.hang', { probe: () => new Promise(() => {}) });
  const results = await runChecks({ nodes: [node('n1')], checks: [hang, passing('c.ok')], profile, timeoutMs: 60_000, concurrency: 2, lang: 'en', signal: ac.signal });
  const r = results.find((x) => x.id === 'c.hang')!;
  assert.equal(r.status, 'error');
  assert.match(r.message, /overall deadline/);
  assert.equal(results.find((x) => x.id === 'c.ok')!.status, 'pass');
});
