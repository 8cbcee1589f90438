// Crash safety: `bundle install` and `bundle create` are killed with SIGKILL
// at seeded random moments and run again. The second run finishes, the result
// is whole (tags point at the right digests / the tar verifies), and nothing
// completed before the kill is uploaded or fetched again — counted by the
// fault proxy standing between the tool and the real registry.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLayout, singlePlatformImage, type Layout } from '../support/images.ts';
import { buildBundle, makeChart, type BuiltBundle } from '../support/bundle-fixture.ts';
import { startFaultProxy, seededRandom, completedBlobUploads, completedBlobFetches, type FaultProxy, type FaultRule } from '../support/fault-proxy.ts';
import { runCli, scratchDir, storedTag, repositoryBlobs, seededRegistry, writeSpec, filesBelow, type SourceRegistry } from '../support/hardening.ts';
import { createHash } from 'node:crypto';

/** Kills that must land mid-run; a run that ends before its kill is replaced by another trial, up to MAX_TRIALS. */
const MIN_INTERRUPTED = 10;
const MAX_TRIALS = 20;

/** Slows each upload a little, so a random kill lands mid-push rather than before or after it. */
const PACING: FaultRule[] = [
  { name: 'pace uploads', method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'stall', ms: 150 } },
  { name: 'pace manifests', method: 'PUT', path: /\/manifests\//, fault: { kind: 'stall', ms: 150 } },
];

describe('bundle install killed at random moments', () => {
  let dir: string;
  let layout: Layout;
  let bundle: BuiltBundle;
  let target: TestRegistry;
  let proxy: FaultProxy;
  const images = [0, 1, 2].map((i) => ({ name: `img-${i}`, ref: `docker.io/crash/app-${i}:2.${i}`, repo: `docker.io/crash/app-${i}`, tag: `2.${i}`, digest: '', blobs: [] as string[] }));

  before(async () => {
    dir = scratchDir('crash-install');
    layout = createLayout();
    const shared = await layout.addLayer(64 * 1024);
    for (const img of images) {
      const d = await singlePlatformImage(layout, img.name, { layerSizes: [128 * 1024, 64 * 1024, 32 * 1024], sharedLayers: [shared] });
      img.digest = d.digest;
      const m = JSON.parse(readFileSync(join(layout.dir, 'blobs', 'sha256', d.digest.slice(7)), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
      img.blobs = [m.config.digest, ...m.layers.map((l) => l.digest)];
    }
    bundle = await buildBundle({
      out: join(dir, 'bundle.tar'),
      layout: layout.dir,
      images: images.map(({ ref, name }) => ({ ref, name })),
      charts: [await makeChart('crashy', '0.2.0', { image: images[0]!.ref })],
    });
    target = await startRegistry();
    proxy = await startFaultProxy({ upstream: target.url, seed: 99, rules: PACING });
  });

  after(async () => {
    await proxy?.close();
    await target?.stop();
    layout?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const install = (prefix: string, killAfterMs?: number) =>
    runCli(['bundle', 'install', bundle.file, '--registry', `${proxy.hostPort}/${prefix}`, '--charts-dir', join(dir, `charts-${prefix}`), '--concurrency', '2'], { killAfterMs });

  test(`${MIN_INTERRUPTED} kills at seeded moments: run again, every image whole, no blob uploaded twice`, async (t) => {
    // How long an uninterrupted install takes here, to spread the kills over it.
    const t0 = performance.now();
    const clean = await install('clean');
    const duration = performance.now() - t0;
    assert.equal(clean.code, 0, clean.stderr);

    const random = seededRandom(2026);
    let interrupted = 0;
    /** kills that left some blobs pushed and others not: the resume path really ran */
    let midPush = 0;
    let trial = 0;
    for (; interrupted < MIN_INTERRUPTED && trial < MAX_TRIALS; trial++) {
      const prefix = `trial-${trial}`;
      // Verification comes first: spread the kills over the later part of the run, where pushes happen.
      const killAt = Math.round(duration * (0.2 + 0.75 * random()));
      proxy.resetCounters();
      const first = await install(prefix, killAt);
      if (first.killed) interrupted++;
      else assert.equal(first.code, 0, `trial ${trial}: a run that was not killed succeeds (signal ${first.signal}, killed ${first.killed}):\n${first.stderr}`);
      const heldCount = images.reduce((n, img) => n + repositoryBlobs(target, `${prefix}/${img.repo}`).size, 0);
      if (first.killed && heldCount > 0 && heldCount < images.reduce((n, img) => n + img.blobs.length, 0)) midPush++;
      const uploadedBeforeKill = completedBlobUploads(proxy.records);
      const held = new Map(images.map((img) => [img.repo, repositoryBlobs(target, `${prefix}/${img.repo}`)]));
      const charts = join(dir, `charts-${prefix}`);
      const afterKill = new Map(existsSync(charts) ? filesBelow(charts).map((f) => relative(charts, f)).filter((f) => !/\.tmp-\d+$/.test(f)).map((f) => [f, readFileSync(join(charts, f))]) : []);

      proxy.resetCounters();
      const second = await install(prefix);
      assert.equal(second.code, 0, `trial ${trial} (killed at ${killAt} ms): the second run finishes:\n${second.stdout}\n${second.stderr}`);
      for (const img of images) {
        assert.equal(storedTag(target, `${prefix}/${img.repo}`, img.tag), img.digest, `trial ${trial}: ${img.repo}:${img.tag} has the bundle's digest`);
        const blobs = repositoryBlobs(target, `${prefix}/${img.repo}`);
        for (const b of img.blobs) assert.ok(blobs.has(b), `trial ${trial}: ${prefix}/${img.repo} holds ${b}`);
      }
      // Nothing the registry already held in a repository is uploaded there again.
      const again = completedBlobUploads(proxy.records);
      for (const u of again) {
        const repo = u.repository.slice(prefix.length + 1);
        assert.ok(!held.get(repo)?.has(u.digest), `trial ${trial}: ${u.digest} was in ${u.repository} after the kill and was uploaded again`);
      }
      const seen = new Set<string>();
      for (const u of [...uploadedBeforeKill, ...again]) {
        const key = `${u.repository} ${u.digest}`;
        assert.ok(!seen.has(key), `trial ${trial}: ${key} was uploaded twice`);
        seen.add(key);
      }
      // After the kill, the charts directory held only whole files under their final names.
      for (const [f, bytes] of afterKill) assert.ok(bytes.equals(readFileSync(join(charts, f))), `trial ${trial}: ${f} was whole after the kill`);
      assert.deepEqual(filesBelow(charts).map((f) => relative(charts, f)).filter((f) => !/\.tmp-\d+$/.test(f)).sort(), filesBelow(join(dir, 'charts-clean')).map((f) => relative(join(dir, 'charts-clean'), f)).filter((f) => !/\.tmp-\d+$/.test(f)).sort());
    }
    t.diagnostic(`clean run ${Math.round(duration)} ms; ${interrupted} of ${trial} runs killed, ${midPush} of them mid-push`);
    assert.ok(midPush >= 2, `some kills landed mid-push (got ${midPush})`);
    assert.ok(interrupted >= MIN_INTERRUPTED, `at least ${MIN_INTERRUPTED} of ${trial} runs were killed mid-way (got ${interrupted}; clean run ${Math.round(duration)} ms)`);
  });
});

describe('bundle create killed at random moments', () => {
  let dir: string;
  let source: SourceRegistry;
  let proxy: FaultProxy;
  let spec: string;

  before(async () => {
    dir = scratchDir('crash-create');
    source = await seededRegistry({ count: 3, layerSizes: [160 * 1024, 96 * 1024, 48 * 1024], prefix: 'cc' });
    // Paced like a slow link, so kills land while blobs stream in.
    proxy = await startFaultProxy({
      upstream: source.registry.url,
      seed: 7,
      rules: [{ name: 'pace blobs', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'stall', ms: 150, afterBytes: 16 * 1024 } }],
    });
    spec = writeSpec(dir, source.images.map((i) => `${proxy.hostPort}/${i.repoTag}`));
  });

  after(async () => {
    await proxy?.close();
    await source?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const create = (k: string, killAfterMs?: number) =>
    runCli(['bundle', 'create', '--spec', spec, '--output', join(dir, `out-${k}`, 'bundle.tar'), '--cache-dir', join(dir, `cache-${k}`), '--concurrency', '2'], { killAfterMs });

  /** Blobs under their final names in a cache, each checked against its name. */
  function cachedBlobs(cache: string): Set<string> {
    const out = new Set<string>();
    for (const f of filesBelow(join(cache, 'blobs', 'sha256'))) {
      const name = f.split('/').pop()!;
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      assert.equal(createHash('sha256').update(readFileSync(f)).digest('hex'), name, `cache file ${name} holds what its name says`);
      out.add(`sha256:${name}`);
    }
    return out;
  }

  test(`${MIN_INTERRUPTED} kills at seeded moments: run again, the same verified bundle, no cached blob fetched again`, async (t) => {
    const t0 = performance.now();
    const clean = await create('clean');
    const duration = performance.now() - t0;
    assert.equal(clean.code, 0, clean.stderr);
    const cleanTar = readFileSync(join(dir, 'out-clean', 'bundle.tar'));

    const random = seededRandom(4242);
    let interrupted = 0;
    let midFetch = 0;
    let trial = 0;
    for (; interrupted < MIN_INTERRUPTED && trial < MAX_TRIALS; trial++) {
      const k = `t${trial}`;
      const killAt = Math.round(duration * (0.05 + 0.8 * random()));
      const first = await create(k, killAt);
      if (first.killed) interrupted++;
      else assert.equal(first.code, 0, `trial ${trial}: a run that was not killed succeeds:\n${first.stderr}`);
      const held = cachedBlobs(join(dir, `cache-${k}`));
      if (first.killed && held.size > 0 && held.size < source.blobs.length + source.images.length) midFetch++;
      const out = join(dir, `out-${k}`, 'bundle.tar');
      if (existsSync(out)) assert.ok(readFileSync(out).equals(cleanTar), `trial ${trial}: a tar under the final name after the kill is complete`);

      proxy.resetCounters();
      const second = await create(k);
      assert.equal(second.code, 0, `trial ${trial} (killed at ${killAt} ms): the second run finishes:\n${second.stderr}`);
      assert.ok(readFileSync(out).equals(cleanTar), `trial ${trial}: the resumed bundle is byte-identical to an undisturbed one`);
      const v = await runCli(['bundle', 'verify', out]);
      assert.equal(v.code, 0, `trial ${trial}: the resumed bundle verifies:\n${v.stdout}`);
      for (const [digest, times] of completedBlobFetches(proxy.records)) {
        assert.ok(!held.has(digest), `trial ${trial}: ${digest} was complete in the cache and was fetched again (${times}x)`);
      }
      cachedBlobs(join(dir, `cache-${k}`));
    }
    t.diagnostic(`clean run ${Math.round(duration)} ms; ${interrupted} of ${trial} runs killed, ${midFetch} of them mid-download`);
    assert.ok(midFetch >= 2, `some kills landed mid-download (got ${midFetch})`);
    assert.ok(interrupted >= MIN_INTERRUPTED, `at least ${MIN_INTERRUPTED} of ${trial} runs were killed mid-way (got ${interrupted}; clean run ${Math.round(duration)} ms)`);
  });
});
