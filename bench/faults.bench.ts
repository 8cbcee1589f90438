// Hardening figures, measured on the built binary against real registries with
// test/support/fault-proxy.ts in between (seeded, so a run can be replayed):
//   1. transient faults survived per 1000 injected: `bundle create` fetching and
//      `bundle install` pushing many small blobs while the proxy hits a share of
//      the requests with resets mid-body, 500/503/429 (Retry-After) and stalls.
//      A fault counts as survived when the run it hit still succeeded.
//   2. corrupted bundles detected: one random byte flipped in a real bundle,
//      N times, `bundle verify` run on each copy, with and without the .sha256
//      sidecar. Flips that change no content (tar padding) are counted apart:
//      they leave a correct bundle; a miss is a content change that verifies.
//   3. crash-and-resume trials passed: create and install killed with SIGKILL at
//      seeded random moments, run again: finished, verified, nothing refetched
//      or re-uploaded that was complete before the kill.
// BENCH_FAULTS (default 1000), BENCH_FLIPS (default 300), BENCH_CRASHES (default 20) scale it.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startRegistry } from '../test/support/registry.ts';
import { startFaultProxy, seededRandom, completedBlobFetches, completedBlobUploads, type FaultRule } from '../test/support/fault-proxy.ts';
import { runCli, scratchDir, seededRegistry, writeSpec, filesBelow, storedTag, repositoryBlobs } from '../test/support/hardening.ts';
import { ensureBinary } from '../test/support/run-binary.ts';
import { verifyBundle } from '../src/bundle/verify/verify.ts';
import { walkTar } from '../src/archive/tar-walk.ts';
import { parseSha256Sums } from '../src/bundle/verify/sums.ts';

const FAULTS = Number(process.env.BENCH_FAULTS ?? 1000);
const FLIPS = Number(process.env.BENCH_FLIPS ?? 300);
const CRASHES = Number(process.env.BENCH_CRASHES ?? 20);
ensureBinary();
const work = scratchDir('bench-faults');
const rows: Array<[string, string, string]> = [];
const t0 = performance.now();

/** A transient-fault mix hitting `share` of the matching requests. */
function transientMix(method: string, path: RegExp, share: number, phase: 'request' | 'response'): FaultRule[] {
  const p = share / 5;
  // Each rule sees what the rules before it let pass: scale so each kind gets about share/5 overall.
  const kinds: FaultRule['fault'][] = [
    phase === 'response' ? { kind: 'reset', afterBytes: 2000 } : { kind: 'reset', phase: 'request', afterBytes: 2000 },
    { kind: 'status', status: 503, retryAfter: 0 },
    { kind: 'status', status: 429, retryAfter: 0 },
    { kind: 'status', status: 500 },
    { kind: 'stall', ms: 200 },
  ];
  return kinds.map((fault, i) => ({ name: `${fault.kind}-${i}`, method, path, fault, probability: p / (1 - p * i) }));
}

try {
  // ---- 1. transient faults survived ------------------------------------------
  const source = await seededRegistry({ count: 12, layerSizes: [6000, 5000, 4000, 3000], sharedLayerSize: 8000, prefix: 'bench' });
  const target = await startRegistry();
  try {
    for (const side of ['create (pull)', 'install (push)'] as const) {
      const upstream = side.startsWith('create') ? source.registry.url : target.url;
      const proxy = await startFaultProxy({ upstream, seed: side.startsWith('create') ? 1 : 2 });
      const spec = writeSpec(work, source.images.map((i) => `${side.startsWith('create') ? proxy.hostPort : source.registry.host}/${i.repoTag}`), {}, `spec-${side.slice(0, 6)}.yaml`);
      // install needs a bundle: made once, without faults, from the source registry directly.
      const bundle = join(work, 'faults-bundle.tar');
      if (side.startsWith('install')) {
        const made = await runCli(['bundle', 'create', '--spec', spec, '--output', bundle, '--cache-dir', join(work, 'cache-bundle')]);
        if (made.code !== 0) throw new Error(`bundle for the install runs: ${made.stderr}`);
      }
      let injected = 0;
      let survived = 0;
      let runs = 0;
      let failedRuns = 0;
      const started = performance.now();
      while (injected < FAULTS) {
        const rules = side.startsWith('create')
          ? transientMix('GET', /\/blobs\/sha256:/, 0.25, 'response')
          : [...transientMix('PUT', /\/blobs\/uploads\//, 0.2, 'request'), ...transientMix('HEAD', /\/blobs\/sha256:/, 0.1, 'response')];
        proxy.setRules(rules);
        proxy.resetCounters();
        const k = runs++;
        const r = side.startsWith('create')
          ? await runCli(['bundle', 'create', '--spec', spec, '--output', join(work, `f-${k}.tar`), '--cache-dir', join(work, `f-cache-${k}`)])
          : await runCli(['bundle', 'install', bundle, '--registry', `${proxy.hostPort}/run${k}`, '--charts-dir', join(work, `f-charts-${k}`)]);
        const s = proxy.stats();
        const n = s.injected.reset + s.injected.status + s.injected.stall;
        injected += n;
        if (r.code === 0) survived += n;
        else {
          failedRuns++;
          console.log(`  run ${k} failed (${n} faults injected): ${r.stderr.trim().split('\n').slice(-2).join(' / ').slice(0, 400)}`);
        }
        rmSync(join(work, `f-cache-${k}`), { recursive: true, force: true });
        rmSync(join(work, `f-${k}.tar`), { force: true });
      }
      await proxy.close();
      const perK = injected ? (1000 * survived) / injected : NaN;
      rows.push([`${side}: transient faults survived`, `${perK.toFixed(1)} per 1000`, `${injected} faults over ${runs} runs (${failedRuns} runs failed), ${((performance.now() - started) / 1000).toFixed(0)} s`]);
      console.log(`${side}: ${survived}/${injected} injected faults survived (${runs} runs, ${failedRuns} failed)`);
    }

    // ---- 2. corrupted bundles detected ----------------------------------------
    const good = join(work, 'faults-bundle.tar');
    const goodBytes = readFileSync(good);
    const content = async (file: string): Promise<string> => {
      // What the bundle holds: every entry's path, type, size and data hash (or why it is unreadable).
      // SHA256SUMS by what it says, not its bytes: a hex digit flipped to upper case says the same.
      const parts: string[] = [];
      try {
        await walkTar(file, {
          onEntry: (e) => {
            parts.push(`${e.path}|${e.type}|${e.size}`);
            if (e.path === 'SHA256SUMS') {
              const chunks: Buffer[] = [];
              return { write: (c) => void chunks.push(c), end: () => void parts.push(JSON.stringify([...parseSha256Sums(Buffer.concat(chunks).toString('utf8')).sums].sort())) };
            }
            const h = createHash('sha256');
            return { write: (c) => void h.update(c), end: () => void parts.push(h.digest('hex')) };
          },
        });
      } catch (err) {
        return `unreadable: ${(err as Error).message}`;
      }
      return parts.join('\n');
    };
    const goodContent = await content(good);
    const random = seededRandom(77);
    const flipped = join(work, 'flipped.tar');
    const tally = { withSidecar: { detected: 0, changed: 0 }, noSidecar: { detected: 0, changed: 0, missed: 0 }, harmless: 0, harmlessFlagged: 0 };
    for (let i = 0; i < FLIPS; i++) {
      const buf = Buffer.from(goodBytes);
      const at = Math.floor(random() * buf.length);
      buf[at] ^= 1 << Math.floor(random() * 8);
      writeFileSync(flipped, buf);
      const changed = (await content(flipped)) !== goodContent;
      // Without the sidecar: only the bundle's own sums and digests can catch it.
      rmSync(`${flipped}.sha256`, { force: true });
      const bare = await verifyBundle(flipped);
      const bareDetected = bare.problems.length > 0;
      writeFileSync(`${flipped}.sha256`, readFileSync(`${good}.sha256`, 'utf8').replace('faults-bundle.tar', 'flipped.tar'));
      const withSidecar = await verifyBundle(flipped);
      if (changed) {
        tally.noSidecar.changed++;
        tally.withSidecar.changed++;
        if (bareDetected) tally.noSidecar.detected++;
        else tally.noSidecar.missed++;
        if (withSidecar.problems.length > 0) tally.withSidecar.detected++;
      } else {
        tally.harmless++;
        if (withSidecar.problems.length > 0) tally.harmlessFlagged++;
      }
    }
    // The CLI agrees with the in-process verify on a sample (exit 1 for a damaged copy).
    const cli = await runCli(['bundle', 'verify', flipped]);
    console.log(`last flipped copy: bundle verify exit ${cli.code}`);
    rows.push(['corrupted bundles detected (with .sha256)', `${tally.withSidecar.detected} / ${tally.withSidecar.changed}`, `${FLIPS} single-bit flips; ${tally.harmless} changed nothing the bundle says (tar padding, hex case in SHA256SUMS), ${tally.harmlessFlagged} of those flagged by the whole-file hash`]);
    rows.push(['corrupted bundles detected (no .sha256)', `${tally.noSidecar.detected} / ${tally.noSidecar.changed}`, `missed (verifies but wrong): ${tally.noSidecar.missed}`]);

    // ---- 3. crash and resume -------------------------------------------------
    for (const side of ['create', 'install'] as const) {
      const upstream = side === 'create' ? source.registry.url : target.url;
      const pace: FaultRule[] = side === 'create'
        ? [{ method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'stall', ms: 40 } }]
        : [{ method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'stall', ms: 40 } }];
      const proxy = await startFaultProxy({ upstream, seed: 3, rules: pace });
      const spec = writeSpec(work, source.images.map((i) => `${proxy.hostPort}/${i.repoTag}`), {}, `spec-crash-${side}.yaml`);
      const run = (k: string, killAfterMs?: number) =>
        side === 'create'
          ? runCli(['bundle', 'create', '--spec', spec, '--output', join(work, `c-${k}`, 'b.tar'), '--cache-dir', join(work, `c-cache-${k}`), '--concurrency', '2'], { killAfterMs })
          // --flat: the trials look the images up at PREFIX/<path> (the by-registry layout adds the source host)
          : runCli(['bundle', 'install', good, '--registry', `${proxy.hostPort}/crash-${k}`, '--flat', '--charts-dir', join(work, `c-charts-${k}`), '--concurrency', '2'], { killAfterMs });
      const s0 = performance.now();
      const clean = await run('clean');
      const duration = performance.now() - s0;
      if (clean.code !== 0) throw new Error(`clean ${side}: ${clean.stderr}`);
      const rnd = seededRandom(side === 'create' ? 5 : 6);
      let passed = 0;
      let killed = 0;
      for (let trial = 0; trial < CRASHES; trial++) {
        const k = `${trial}`;
        const first = await run(k, Math.round(duration * (0.05 + 0.85 * rnd())));
        if (first.killed) killed++;
        let held = new Set<string>();
        if (side === 'create') {
          held = new Set(filesBelow(join(work, `c-cache-${k}`, 'blobs', 'sha256')).map((f) => f.split('/').pop()!).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`));
        } else {
          for (const img of source.images) for (const d of repositoryBlobs(target, `crash-${k}/${img.repository}`)) held.add(`${img.repository} ${d}`);
        }
        proxy.resetCounters();
        const second = await run(k);
        const why: string[] = [];
        if (second.code !== 0) why.push(`second run exit ${second.code}: ${second.stderr.trim().split('\n').slice(-2).join(' / ')}`);
        if (!why.length && side === 'create') {
          const v = await runCli(['bundle', 'verify', join(work, `c-${k}`, 'b.tar')]);
          if (v.code !== 0) why.push(`verify exit ${v.code}: ${v.stdout.trim().split('\n').slice(-2).join(' / ')}`);
          for (const d of completedBlobFetches(proxy.records).keys()) if (held.has(d)) why.push(`${d} was cached and fetched again`);
        }
        if (!why.length && side === 'install') {
          for (const img of source.images) if (storedTag(target, `crash-${k}/${img.repository}`, img.repoTag.split(':')[1]!) !== img.digest) why.push(`${img.repository} not tagged right`);
          for (const u of completedBlobUploads(proxy.records)) if (held.has(`${u.repository.replace(`crash-${k}/`, '')} ${u.digest}`)) why.push(`${u.digest} uploaded again to ${u.repository}`);
        }
        if (why.length === 0) passed++;
        else console.log(`  ${side} trial ${trial} (first run: exit ${first.code}, ${first.killed ? 'killed' : 'not killed'}) failed: ${why.join('; ').slice(0, 600)}`);
        rmSync(join(work, `c-cache-${k}`), { recursive: true, force: true });
        rmSync(join(work, `c-${k}`), { recursive: true, force: true });
      }
      await proxy.close();
      rows.push([`${side}: crash-and-resume trials passed`, `${passed} / ${CRASHES}`, `${killed} killed mid-run (SIGKILL at seeded moments over a ${Math.round(duration)} ms run)`]);
      console.log(`${side}: ${passed}/${CRASHES} crash trials passed (${killed} killed mid-run)`);
    }
  } finally {
    await source.stop();
    await target.stop();
  }

  const width = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
  console.log(`\nHardening figures (${((performance.now() - t0) / 1000).toFixed(0)} s, peak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB)`);
  console.log(`${'measure'.padEnd(width[0]!)}  ${'result'.padEnd(width[1]!)}  notes`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(width[0]!)}  ${b.padEnd(width[1]!)}  ${c}`);
  console.log('\nMarkdown:\n| measure | result | notes |\n|---|---|---|');
  for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
