// Site checks judged again from per-node reports (report merge): recomputed where the node
// results carry the facts, skipped with the reason where they need live probes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeMergedSite } from '../../../../../src/preflight/checks/fleet/merged-site.ts';
import { SITE_CHECKS } from '../../../../../src/preflight/checks/index.ts';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import type { CheckResult } from '../../../../../src/schema/report.ts';
import type { NodeInfo } from '../../../../../src/preflight/types.ts';

const profile = loadProfile();
const r = (node: string, id: string, facts: Record<string, unknown>): CheckResult => ({ id, node, checklist: '-', category: 'os', status: 'pass', message: '', facts, durationMs: 1 });
const nodes: NodeInfo[] = [
  { name: 'g1', roles: ['gpu-worker'] },
  { name: 'g2', roles: ['gpu-worker'] },
  { name: 'cp', roles: ['control-plane'] },
];
const results = [
  ...nodes.map((n) => r(n.name, 'os.hostname', { hostname: n.name === 'cp' ? 'G1' : n.name })),
  r('g1', 'os.release', { id: 'ubuntu', versionId: '22.04' }),
  r('g2', 'os.release', { id: 'ubuntu', versionId: '22.04' }),
  r('g1', 'kernel.version', { release: '5.15.0-100-generic' }),
  r('g2', 'kernel.version', { release: '5.15.0-105-generic' }),
  r('g1', 'gpu.driver', { module: { loaded: true, version: '550.90.07' }, smi: { state: 'ok' } }),
  r('g2', 'gpu.driver', { module: { loaded: false }, smi: { state: 'ok', driverVersion: '550.90.07' } }),
];
const by = (id: string) => judgeMergedSite(SITE_CHECKS, results, nodes, profile).find((m) => m.check.id === id)!.judgements;

test('hostnames, OS/kernel and driver sameness are judged again from the node facts', () => {
  const hn = by('site.hostnames');
  assert.equal(hn[0]!.status, 'fail', 'cp says G1: it collides with g1');
  assert.match(hn[0]!.message, /g1, cp share the hostname 'g1'/);
  const os = by('gpu.site.os');
  assert.equal(os[0]!.status, 'warn');
  assert.match(os[0]!.message, /ubuntu 22\.04, kernel 5\.15\.0-100-generic on g1; ubuntu 22\.04, kernel 5\.15\.0-105-generic on g2|105-generic on g2; .*100-generic on g1/);
  const drv = by('gpu.site.driver');
  assert.equal(drv[0]!.status, 'pass', drv[0]!.message);
  assert.match(drv[0]!.message, /550\.90\.07 on all 2 GPU nodes/);
});

test('live-probe site checks are skipped with the reason', () => {
  for (const id of ['site.port-matrix', 'site.clock-skew']) {
    const [j] = by(id);
    assert.equal(j!.status, 'skip');
    assert.match(j!.message, /probes between the nodes at run time/);
  }
});
