// Preflight with many unreachable endpoints: every target sits behind an
// nftables drop rule in a network namespace this bench creates, so each probe
// waits out its timeout. Run once with the default concurrency and once with
// --concurrency 1 (the serial peer, measured in the same run): the parallel
// run should take about one timeout, whatever the number of targets.
// Prints wall time, the per-check timeout, the target count, the ratios and
// peak RSS. BENCH_TARGETS (default 24) scales the targets.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createNamespace, nsExec } from '../test/support/netns.ts';
import { ensureBinary } from '../test/support/run-binary.ts';

const TARGETS = Number(process.env.BENCH_TARGETS ?? 24);
const TIMEOUT_S = 2;
const bin = ensureBinary();
const work = mkdtempSync(join(tmpdir(), 'ac-bench-net-'));
chmodSync(work, 0o755);
const ns = createNamespace(`ac${process.pid}b`, `10.201.${(process.pid % 60) * 4 + 1}`);

function run(label: string, args: string[]): { seconds: number; rssMiB: number; results: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', bin, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, env: { PATH: process.env.PATH, HOME: '/tmp' } });
  if (r.status !== 0 && r.status !== 1) throw new Error(`${label} failed (${r.status}):\n${r.stderr}`);
  const [secs, kib] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  const report = JSON.parse(r.stdout) as { results: { status: string; facts: { state?: string } }[] };
  const filtered = report.results.filter((x) => x.facts.state === 'filtered').length;
  if (filtered < TARGETS) throw new Error(`${label}: only ${filtered} of ${TARGETS} targets reported filtered`);
  return { seconds: secs!, rssMiB: kib! / 1024, results: report.results.length };
}

try {
  // Drop everything to the namespace address: every port filtered.
  nsExec(ns, ['nft', 'add', 'table', 'inet', 'b']);
  nsExec(ns, ['nft', 'add', 'chain', 'inet', 'b', 'input', '{ type filter hook input priority 0; policy accept; }']);
  nsExec(ns, ['nft', 'add', 'rule', 'inet', 'b', 'input', 'iifname', '!=', 'lo', 'drop']);
  const targets = Array.from({ length: TARGETS }, (_, i) => `${ns.address}:${20000 + i}`);
  const site = join(work, 'site.yaml');
  writeFileSync(
    site,
    stringify({
      apiVersion: 'astrago.io/v1',
      kind: 'Site',
      metadata: { name: 'bench' },
      network: { targets },
      registry: { url: `https://${ns.address}:5443` },
      storage: { nfs: { server: ns.address, path: '/export' } },
    }),
  );
  const args = ['--site', site, '--only', 'network.targets,storage.nfs,registry.tcp,registry.tls,registry.api', '--format', 'json', '--timeout', `${TIMEOUT_S}s`];
  const parallel = run('parallel', args);
  const serial = run('serial (--concurrency 1)', [...args, '--concurrency', '1']);
  const checks = 5;
  console.log(`targets: ${TARGETS} filtered host:port + registry + NFS (${checks} checks, ${parallel.results} results), per-check timeout ${TIMEOUT_S} s`);
  console.log(`parallel: ${parallel.seconds.toFixed(2)} s wall = ${(parallel.seconds / TIMEOUT_S).toFixed(2)} x timeout, peak RSS ${parallel.rssMiB.toFixed(0)} MiB`);
  console.log(`serial:   ${serial.seconds.toFixed(2)} s wall = ${(serial.seconds / TIMEOUT_S).toFixed(2)} x timeout, peak RSS ${serial.rssMiB.toFixed(0)} MiB`);
  console.log(`serial / parallel: ${(serial.seconds / parallel.seconds).toFixed(1)} x (targets probed at once inside network.targets; checks at once across the engine)`);
  console.log(`if every target were probed one after another: ${(TARGETS * TIMEOUT_S * 0.7).toFixed(0)} s; parallel run is ${((TARGETS * TIMEOUT_S * 0.7) / parallel.seconds).toFixed(1)} x faster`);
} finally {
  ns.destroy();
  rmSync(work, { recursive: true, force: true });
}
