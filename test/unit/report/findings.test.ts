import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abbreviateNodes, groupFindings } from '../../../src/report/findings.ts';
import { fleetReport, profile, sampleReport } from '../../support/report-fixture.ts';

test('findings: the same check and cause on several nodes is one finding naming the nodes', () => {
  const report = fleetReport(5);
  const findings = groupFindings(report.results, profile);
  const sysctl = findings.filter((f) => f.check === 'kernel.sysctl');
  assert.equal(sysctl.length, 1);
  assert.equal(sysctl[0]!.nodes.length, 5);
  assert.deepEqual(sysctl[0]!.nodes, report.nodes!.map((n) => n.name));
  assert.match(sysctl[0]!.remediation!, /sysctl -w net.ipv4.ip_forward=1/);
  // Widest fail first; no pass ever; every non-pass result in exactly one finding.
  assert.equal(findings[0], sysctl[0]);
  assert.ok(findings.every((f) => f.status !== 'pass'));
  assert.equal(findings.reduce((n, f) => n + f.results.length, 0), report.results.filter((r) => r.status !== 'pass').length);
});

test('findings: worst status first, different messages stay apart', () => {
  const findings = groupFindings(sampleReport().results, profile);
  assert.deepEqual(findings.map((f) => [f.status, f.check]), [
    ['fail', 'kernel.modules'],
    ['error', 'registry.tls'],
    ['warn', 'disk.free[/var/lib/etcd]'],
    ['skip', 'ssh.sudo'],
  ]);
});

test('node lists past ten are abbreviated', () => {
  const names = Array.from({ length: 13 }, (_, i) => `n${i + 1}`);
  assert.equal(abbreviateNodes(names.slice(0, 10)), names.slice(0, 10).join(', '));
  assert.equal(abbreviateNodes(names), `${names.slice(0, 10).join(', ')} +3`);
});
