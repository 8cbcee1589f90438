// A small, fixed report for the renderer tests (not a test file itself).
import { buildReport } from '../../src/report/build.ts';
import { loadProfile } from '../../src/preflight/profile.ts';
import type { CheckResult } from '../../src/schema/report.ts';

export const profile = loadProfile();

const r = (x: Partial<CheckResult> & Pick<CheckResult, 'id' | 'node' | 'status' | 'message'>): CheckResult => {
  const item = profile.checklist.find((c) => c.checks.some((p) => x.id.startsWith(p)));
  return { checklist: item?.id ?? '-', category: item?.category ?? 'os', facts: {}, durationMs: 3, ...x };
};

export const results: CheckResult[] = [
  r({ id: 'kernel.modules', node: 'worker-1', status: 'fail', message: 'br_netfilter is not loaded', remediation: 'modprobe br_netfilter\necho br_netfilter > /etc/modules-load.d/k8s.conf', facts: { missing: ['br_netfilter'] } }),
  r({ id: 'os.release', node: 'master-1', status: 'pass', message: 'Ubuntu 22.04 is supported', facts: { id: 'ubuntu', version: '22.04' } }),
  r({ id: 'disk.free[/var/lib/etcd]', node: 'master-1', status: 'warn', message: '15 GiB free < 20 GiB recommended', remediation: 'Free space on /var/lib/etcd', durationMs: 12 }),
  r({ id: 'registry.tls', node: 'master-1', status: 'error', message: 'timed out after 5000 ms <&"\'> | pipe', remediation: 'Check that "harbor" answers on <443> & retry' }),
  r({ id: 'ssh.sudo', node: 'worker-1', status: 'skip', message: 'needs root', remediation: 'sudo astrago-check --only ssh.sudo' }),
  r({ id: 'resources.cpu', node: 'worker-1', status: 'pass', message: '8 cores >= 2' }),
  r({ id: 'custom.thing', node: 'master-1', status: 'pass', message: 'not mapped to a checklist item', checklist: '-', category: 'network' }),
];

export function sampleReport() {
  return buildReport({
    results: structuredClone(results),
    siteName: 'acme-lab',
    host: 'jump-1',
    profileName: 'checks/default.yaml (built in)',
    lang: 'en',
    nodes: [
      { name: 'master-1', address: '192.0.2.11', roles: ['control-plane'] },
      { name: 'worker-1', address: '192.0.2.21', roles: ['worker'] },
    ],
    startedAt: new Date('2026-11-23T07:00:00.000Z'),
    durationMs: 1234.4,
    profile,
  });
}

/**
 * A site report of `count` nodes: every check of every checklist item on every
 * node, statuses varied by a fixed rule, plus hostile text in one node's name
 * and messages (report content comes from nodes); the last `unreachable` nodes not checked.
 */
export function fleetReport(count: number, lang: 'en' | 'ko' = 'en', unreachable = 0) {
  const statuses = ['pass', 'pass', 'pass', 'warn', 'pass', 'fail', 'pass', 'skip', 'pass', 'error'] as const;
  const nodes = Array.from({ length: count }, (_, i) => ({
    name: i === 1 ? HOSTILE_NODE : `node-${String(i + 1).padStart(2, '0')}`,
    address: `192.0.2.${i + 10}`,
    roles: i === 0 ? ['control-plane'] : i % 3 === 0 ? ['worker', 'gpu-worker'] : ['worker'],
  }));
  const out: CheckResult[] = [];
  let k = 0;
  for (const [i, n] of nodes.entries()) {
    for (const item of profile.checklist) {
      for (const id of item.checks) {
        // The last `unreachable` nodes could not be reached: every check skips with one reason, as the engine writes it.
        if (i >= count - unreachable) {
          const why = `no SSH answer from ${n.address}:22 within 5000 ms`;
          out.push({ id, node: n.name, checklist: item.id, category: item.category, status: 'skip', message: `not checked: ${why}`, facts: { notChecked: why }, durationMs: 0 });
          continue;
        }
        // The same sysctl finding on every node: it must group into one finding.
        const status = id === 'kernel.sysctl' ? 'fail' : statuses[(k++ * 7 + n.name.length) % statuses.length]!;
        const hostile = n.name === HOSTILE_NODE && id === 'os.release';
        out.push({
          id, node: n.name, checklist: item.id, category: item.category, status,
          message: id === 'kernel.sysctl' ? 'net.ipv4.ip_forward = 0 (expected 1)' : hostile ? HOSTILE_TEXT : `${id} on ${n.name}: ${status}`,
          facts: hostile ? { banner: HOSTILE_TEXT } : {},
          remediation: status === 'pass' ? undefined : id === 'kernel.sysctl' ? 'sysctl -w net.ipv4.ip_forward=1\necho net.ipv4.ip_forward=1 > /etc/sysctl.d/99-k8s.conf' : hostile ? HOSTILE_TEXT : `fix ${id}`,
          durationMs: 2,
        });
      }
    }
  }
  return buildReport({ results: out, siteName: 'acme-lab', host: 'jump-1', profileName: 'checks/default.yaml (built in)', lang, nodes, startedAt: new Date('2026-11-23T07:00:00.000Z'), durationMs: 8000, profile });
}

/** Markup and URLs that would make a request or run a script if they reached the page unescaped. */
export const HOSTILE_TEXT = `</td></tr></table><script>fetch("http://leak.invalid/script")</script><img src="http://leak.invalid/img" onerror="alert(1)"><style>@import url(http://leak.invalid/css);</style>' " & <`;
export const HOSTILE_NODE = `gpu-"><img src=http://leak.invalid/node>`;
