// Preflight speed and memory with the built binary:
// - a full local preflight (every check, built-in profile, JSON to /dev/null):
//   median wall time and peak RSS, target < 1 s when no check waits on a timeout;
// - start-up: `--version`, median of 20 runs, target < 150 ms;
// peers measured in the same run for context: /usr/bin/true and `node -e 0`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ensureBinary } from '../test/support/run-binary.ts';

const bin = ensureBinary();
const TIME = '/usr/bin/time';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Wall time of one run in ms (spawn to exit), and its stdout. */
function timed(argv: string[]): { ms: number; status: number | null; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: tmpdir(), maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  return { ms, status: r.status, stdout: r.stdout };
}

/** Peak RSS in MiB of one run, via GNU time (absent: undefined). */
function peakRssMiB(argv: string[]): number | undefined {
  if (!existsSync(TIME)) return undefined;
  const r = spawnSync(TIME, ['-f', '%M', ...argv], { encoding: 'utf8', cwd: tmpdir(), maxBuffer: 64 * 1024 * 1024 });
  const kib = Number(r.stderr.trim().split('\n').at(-1));
  return Number.isFinite(kib) ? kib / 1024 : undefined;
}

function series(label: string, argv: string[], runs: number): { median: number; min: number } {
  timed(argv); // warm the page cache
  const ms = Array.from({ length: runs }, () => timed(argv).ms);
  const m = median(ms);
  console.log(`  ${label.padEnd(34)} median ${m.toFixed(1).padStart(7)} ms   min ${Math.min(...ms).toFixed(1).padStart(7)} ms   (${runs} runs)`);
  return { median: m, min: Math.min(...ms) };
}

const fmtRss = (x: number | undefined) => (x === undefined ? 'n/a (no /usr/bin/time)' : `${x.toFixed(1)} MiB`);

console.log('start-up');
const trueRun = series('/usr/bin/true', ['/usr/bin/true'], 20);
const nodeRun = series(`node -e 0 (${process.version})`, [process.execPath, '-e', '0'], 20);
const version = series('astrago-check --version', [bin, '--version'], 20);
console.log(`  --version: ${version.median.toFixed(1)} ms, target < 150 ms: ${version.median < 150 ? 'MET' : 'MISSED'}; ` +
  `${(version.median / nodeRun.median).toFixed(2)}x node -e 0, +${(version.median - trueRun.median).toFixed(1)} ms over /usr/bin/true`);
console.log(`  peak RSS: --version ${fmtRss(peakRssMiB([bin, '--version']))}, node -e 0 ${fmtRss(peakRssMiB([process.execPath, '-e', '0']))}`);

console.log('full local preflight (built-in profile, all checks but dns.resolvers, --format json)');
// dns.resolvers would query this machine's nameservers: traffic off loopback, not allowed here.
const full = [bin, '--format', 'json', '--timeout', '5s', '--skip', 'dns.resolvers'];
const first = timed(full);
const report = JSON.parse(first.stdout) as { summary: Record<string, number>; results: { id: string; status: string; message: string; durationMs: number }[] };
const waited = report.results.filter((r) => r.status === 'error' && /timed out/.test(r.message));
const pre = series('astrago-check (preflight)', full, 7);
const rss = [0, 1, 2].map(() => peakRssMiB(full)).filter((x) => x !== undefined);
console.log(`  ${report.results.length} results ${JSON.stringify(report.summary)}; slowest: ` +
  [...report.results].sort((a, b) => b.durationMs - a.durationMs).slice(0, 3).map((r) => `${r.id} ${r.durationMs} ms`).join(', '));
console.log(`  wall ${pre.median.toFixed(1)} ms, target < 1000 ms: ${pre.median < 1000 ? 'MET' : 'MISSED'}` +
  (waited.length ? ` (but ${waited.length} check(s) waited on a timeout: ${waited.map((r) => r.id).join(', ')})` : ' (no check waited on a timeout)') +
  `; ${(pre.median / nodeRun.median).toFixed(1)}x node -e 0`);
console.log(`  peak RSS: median ${rss.length ? fmtRss(median(rss)) : fmtRss(undefined)}`);
