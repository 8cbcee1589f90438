// Faults between the tool and a real registry (Debian docker-registry), put
// there by test/support/fault-proxy.ts: `bundle install` and `bundle create`
// ride out transient faults (connection resets mid-body, 500/503/429 with
// Retry-After, short stalls), refuse corrupted content every time, and after
// persistent faults fail naming the image, the blob and the last error —
// leaving nothing under the final name.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLayout, singlePlatformImage, type Layout } from '../support/images.ts';
import { buildBundle, type BuiltBundle } from '../support/bundle-fixture.ts';
import { startFaultProxy, completedBlobUploads, type FaultProxy, type FaultRule } from '../support/fault-proxy.ts';
import { runCli, scratchDir, storedTag, repositoryBlobs, seededRegistry, writeSpec, filesBelow, mountTmpfs, type CliRun, type SourceRegistry } from '../support/hardening.ts';

const DIGEST = /sha256:[0-9a-f]{64}/;

describe('bundle install through faults', () => {
  let dir: string;
  let layout: Layout;
  let bundle: BuiltBundle;
  let target: TestRegistry;
  let proxy: FaultProxy;
  /** image name in the layout -> the reference the bundle gives it */
  const refs = [0, 1, 2].map((i) => ({ name: `img-${i}`, ref: `docker.io/hard/app-${i}:1.${i}`, repo: `docker.io/hard/app-${i}`, tag: `1.${i}` }));
  const rootDigests = new Map<string, string>();

  before(async () => {
    dir = scratchDir('faults-install');
    layout = createLayout();
    const shared = await layout.addLayer(48 * 1024);
    for (const r of refs) {
      const d = await singlePlatformImage(layout, r.name, { layerSizes: [160 * 1024, 96 * 1024], sharedLayers: [shared] });
      rootDigests.set(r.ref, d.digest);
    }
    bundle = await buildBundle({ out: join(dir, 'bundle.tar'), layout: layout.dir, images: refs.map(({ ref, name }) => ({ ref, name })) });
    target = await startRegistry();
    proxy = await startFaultProxy({ upstream: target.url, seed: 7 });
  });

  after(async () => {
    await proxy?.close();
    await target?.stop();
    layout?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function install(prefix: string, rules: FaultRule[]): Promise<CliRun> {
    proxy.setRules(rules);
    proxy.resetCounters();
    return await runCli(['bundle', 'install', bundle.file, '--registry', `${proxy.hostPort}/${prefix}`, '--charts-dir', join(dir, `charts-${prefix}`)]);
  }

  /** Every image landed whole: its tag points at the bundle's digest and its repository links its blobs. */
  function assertInstalled(prefix: string): void {
    for (const r of refs) {
      assert.equal(storedTag(target, `${prefix}/${r.repo}`, r.tag), rootDigests.get(r.ref), `${prefix}/${r.repo}:${r.tag} points at the bundle's manifest`);
      assert.ok(repositoryBlobs(target, `${prefix}/${r.repo}`).size >= 4, `${prefix}/${r.repo} holds its config and 3 layers`);
    }
  }

  test('survives resets mid-upload, 500/503/429 with Retry-After and short stalls', async () => {
    const rules: FaultRule[] = [
      { name: 'ping 503', method: 'GET', path: /^\/v2\/$/, fault: { kind: 'status', status: 503, retryAfter: 1 }, times: 1 },
      { name: 'HEAD blob 503', method: 'HEAD', path: /\/blobs\/sha256:/, fault: { kind: 'status', status: 503, retryAfter: 1 }, times: 2 },
      { name: 'start upload 429', method: 'POST', path: /\/blobs\/uploads\/$/, fault: { kind: 'status', status: 429, retryAfter: 1 }, times: 2 },
      { name: 'upload reset mid-body', method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'reset', phase: 'request', afterBytes: 40_000 }, times: 2 },
      { name: 'upload 500', method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'status', status: 500 }, times: 1 },
      { name: 'manifest HEAD stall', method: 'HEAD', path: /\/manifests\//, fault: { kind: 'stall', ms: 400 }, times: 2 },
      { name: 'manifest PUT 503', method: 'PUT', path: /\/manifests\//, fault: { kind: 'status', status: 503, retryAfter: 0 }, times: 1 },
    ];
    const r = await install('transient', rules);
    assert.equal(r.code, 0, `install survives transient faults:\n${r.stdout}\n${r.stderr}`);
    const s = proxy.stats();
    assert.equal(s.injected.status, 1 + 2 + 2 + 1 + 1, 'every error answer was served');
    assert.equal(s.injected.reset, 2);
    assert.equal(s.injected.stall, 2);
    assertInstalled('transient');
  });

  test('corrupted uploads are refused every time: the install fails and no tag is written', async () => {
    const r = await install('corrupt', [{ method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'corrupt', phase: 'request' } }]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(proxy.stats().injected.corrupt > 0);
    // The registry checked every digest and refused: no image is tagged.
    for (const x of refs) assert.equal(storedTag(target, `corrupt/${x.repo}`, x.tag), undefined, `no tag for ${x.repo}`);
    assert.match(r.stderr, /image docker\.io\/hard\/app-\d:1\.\d/, 'names the image');
    assert.match(r.stderr, DIGEST, 'names the blob');
    assert.match(r.stderr, /HTTP 400|DIGEST_INVALID|digest/i, 'gives the last error');
  });

  test('a blob that keeps failing ends the run with the image, the blob and the last error; no tag for it', async () => {
    // A layer of one image (160 KiB ones are not shared).
    const victimEntry = [...bundle.entries].find(([p, e]) => p.startsWith('images/blobs/') && e.size > 100_000)!;
    const victim = `sha256:${victimEntry[0].slice(-64)}`;
    const hex = victim.slice(7);
    const r = await install('persistent', [
      { name: 'victim HEAD', method: 'HEAD', path: new RegExp(`/blobs/sha256:${hex}$`), fault: { kind: 'status', status: 404 } },
      { name: 'victim upload', method: 'PUT', path: new RegExp(`digest=sha256(:|%3A)${hex}`), fault: { kind: 'status', status: 503, retryAfter: 0 } },
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(victim), `stderr names blob ${victim}:\n${r.stderr}`);
    assert.match(r.stderr, /image docker\.io\/hard\/app-\d:1\.\d/, 'names the image');
    assert.match(r.stderr, /503/, 'gives the last error');
    const attempts = proxy.records.filter((x) => x.rule === 'victim upload').length;
    assert.ok(attempts >= 2 && attempts <= 10, `retried a bounded number of times (${attempts})`);
    // Images holding the victim blob are not tagged; nothing is half-pushed under a final name.
    for (const x of refs) {
      const tagged = storedTag(target, `persistent/${x.repo}`, x.tag);
      const blobs = repositoryBlobs(target, `persistent/${x.repo}`);
      if (tagged) assert.ok(!blobs.has(victim) || blobs.size >= 4, `${x.repo} is tagged only when complete`);
    }
    assert.ok(refs.some((x) => storedTag(target, `persistent/${x.repo}`, x.tag) === undefined), 'the image holding the failing blob is not tagged');
    // Resuming without the fault completes, uploading nothing that is already there.
    const before = new Map(refs.map((x) => [x.repo, repositoryBlobs(target, `persistent/${x.repo}`)]));
    const again = await install('persistent', []);
    assert.equal(again.code, 0, again.stderr);
    assertInstalled('persistent');
    for (const u of completedBlobUploads(proxy.records)) {
      const repo = u.repository.replace(/^persistent\//, '');
      assert.ok(!before.get(repo)?.has(u.digest), `${u.digest} was already in ${u.repository} and was uploaded again`);
    }
  });

  test('uploads of a blob that keep being cut off end the run naming the image, the blob and the reset', async () => {
    const victimEntry = [...bundle.entries].find(([p, e]) => p.startsWith('images/blobs/') && e.size > 100_000)!;
    const victim = `sha256:${victimEntry[0].slice(-64)}`;
    const r = await install('resets', [{ name: 'victim reset', method: 'PUT', path: new RegExp(`digest=sha256(:|%3A)${victim.slice(7)}`), fault: { kind: 'reset', phase: 'request', afterBytes: 20_000 } }]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(victim), `names blob ${victim}:\n${r.stderr}`);
    assert.match(r.stderr, /image docker\.io\/hard\/app-\d:1\.\d/, 'names the image');
    assert.match(r.stderr, /ECONNRESET|socket|closed|reset/i, 'gives the last error');
    const tries = proxy.records.filter((x) => x.rule === 'victim reset').length;
    assert.ok(tries >= 2 && tries <= 10, `retried a bounded number of times (${tries})`);
  });

  test('a corrupted bundle is refused before anything is pushed', async () => {
    const bad = join(dir, 'bad.tar');
    const buf = Buffer.from(readFileSync(bundle.file));
    const layer = [...bundle.entries].find(([p, e]) => p.startsWith('images/blobs/') && e.size > 50_000)!;
    buf[layer[1].offset + 1234] ^= 0x01;
    writeFileSync(bad, buf);
    proxy.resetCounters();
    const r = await runCli(['bundle', 'install', bad, '--registry', `${proxy.hostPort}/badbundle`, '--charts-dir', join(dir, 'charts-bad')]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(layer[0]) || r.stderr.includes(layer[0].slice(-64)), `names the damaged blob:\n${r.stderr}`);
    // Install checks the registry (GET /v2/) before it verifies; nothing else reaches it.
    assert.deepEqual(proxy.records.map((x) => `${x.method} ${x.path}`).filter((x) => x !== 'GET /v2/'), [], 'nothing but the registry check reached the registry');
    assert.equal(existsSync(join(dir, 'charts-bad')), false, 'no charts directory was written');
  });
});

describe('bundle create through faults', () => {
  let dir: string;
  let source: SourceRegistry;
  let proxy: FaultProxy;
  let spec: string;
  /** the bundle an undisturbed run makes: every faulty run that succeeds must make exactly these bytes */
  let cleanTar: Buffer;
  /** the cache that clean run filled */
  let cleanCache: string;
  let n = 0;

  before(async () => {
    dir = scratchDir('faults-create');
    source = await seededRegistry({ count: 3, layerSizes: [200 * 1024, 100 * 1024], prefix: 'fc' });
    proxy = await startFaultProxy({ upstream: source.registry.url, seed: 11 });
    spec = writeSpec(dir, source.images.map((i) => `${proxy.hostPort}/${i.repoTag}`));
    const clean = await create([]);
    assert.equal(clean.run.code, 0, clean.run.stderr);
    cleanTar = readFileSync(clean.out);
    cleanCache = clean.cache;
  });

  after(async () => {
    await proxy?.close();
    await source?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One create with a fresh cache and output directory. */
  async function create(rules: FaultRule[], extra: string[] = []): Promise<{ run: CliRun; out: string; cache: string; outDir: string }> {
    const k = n++;
    const outDir = join(dir, `out-${k}`);
    const cache = join(dir, `cache-${k}`);
    const out = join(outDir, 'bundle.tar');
    proxy.setRules(rules);
    proxy.resetCounters();
    const run = await runCli(['bundle', 'create', '--spec', spec, '--output', out, '--cache-dir', cache, ...extra]);
    return { run, out, cache, outDir };
  }

  /** Every blob in the cache under its final name has the digest it is named after. */
  function assertCacheSound(cache: string): void {
    for (const f of filesBelow(join(cache, 'blobs', 'sha256'))) {
      const name = f.split('/').pop()!;
      if (!/^[0-9a-f]{64}$/.test(name)) continue; // .partial and temp names are not final
      assert.equal(createHash('sha256').update(readFileSync(f)).digest('hex'), name, `cache file ${name} holds what its name says`);
    }
  }

  function assertNoOutput(outDir: string): void {
    const left = existsSync(outDir) ? readdirSync(outDir) : [];
    assert.deepEqual(left.filter((f) => f === 'bundle.tar' || f === 'bundle.tar.sha256'), [], `nothing under the final names in ${outDir} (found ${left.join(', ')})`);
  }

  test('survives resets mid-blob, 500/503/429 with Retry-After and short stalls, and makes the same bytes', async () => {
    const r = await create([
      { name: 'blob reset', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'reset', afterBytes: 50_000 }, times: 3 },
      { name: 'blob 503', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'status', status: 503, retryAfter: 1 }, times: 2 },
      { name: 'blob 500', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'status', status: 500 }, times: 1 },
      { name: 'manifest 429', method: 'GET', path: /\/manifests\//, fault: { kind: 'status', status: 429, retryAfter: 1 }, times: 1 },
      { name: 'blob stall', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'stall', ms: 300, afterBytes: 10_000 }, times: 2 },
      { name: 'manifest stall', method: 'GET', path: /\/manifests\//, fault: { kind: 'stall', ms: 300 }, times: 1 },
    ]);
    assert.equal(r.run.code, 0, `create survives transient faults:\n${r.run.stderr}`);
    const s = proxy.stats();
    assert.deepEqual(s.injected, { reset: 3, status: 4, stall: 3, corrupt: 0, redirect: 0 }, 'every planned fault was served');
    assert.ok(readFileSync(r.out).equals(cleanTar), 'the bundle is byte-identical to an undisturbed run');
    const v = await runCli(['bundle', 'verify', r.out]);
    assert.equal(v.code, 0, v.stdout);
    assertCacheSound(r.cache);
  });

  test('in byte-range pieces (--piece-size 64KiB): survives resets mid-piece, 503/500, stalls, and makes the same bytes', async () => {
    const r = await create(
      [
        { name: 'piece reset', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'reset', afterBytes: 20_000 }, skip: 2, times: 3 },
        { name: 'piece 503', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'status', status: 503, retryAfter: 1 }, skip: 4, times: 2 },
        { name: 'piece 500', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'status', status: 500 }, skip: 6, times: 1 },
        { name: 'piece stall', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'stall', ms: 300, afterBytes: 10_000 }, skip: 3, times: 2 },
      ],
      ['--piece-size', '64KiB'],
    );
    assert.equal(r.run.code, 0, `create in pieces survives transient faults:\n${r.run.stderr}`);
    assert.deepEqual(proxy.stats().injected, { reset: 3, status: 3, stall: 2, corrupt: 0, redirect: 0 }, 'every planned fault was served');
    assert.ok(proxy.records.filter((x) => x.status === 206).length > 6, 'the layers came in pieces');
    assert.ok(readFileSync(r.out).equals(cleanTar), 'the bundle is byte-identical to an undisturbed run');
    assertCacheSound(r.cache);
    assert.deepEqual(filesBelow(join(r.cache, 'blobs', 'sha256')).filter((f) => /\.partial/.test(f)), [], 'no partial or extents record left');
  });

  test('a changed byte in bundle.yaml is found without the sidecar (SHA256SUMS covers bundle.yaml)', async () => {
    // The metadata name is checked by nothing else: only the sum can catch this.
    const at = cleanTar.indexOf('name: hardening', 512);
    assert.ok(at > 512 && at < 512 + 64 * 1024, 'bundle.yaml (the first entry) names the spec');
    const bad = Buffer.from(cleanTar);
    bad[at + 'name: '.length] = 'H'.charCodeAt(0);
    const file = join(dir, 'renamed.tar');
    writeFileSync(file, bad);
    const v = await runCli(['bundle', 'verify', file]);
    assert.equal(v.code, 1, `verify refuses it:\n${v.stdout}`);
    assert.match(v.stdout, /bundle\.yaml/, 'and names bundle.yaml');
  });

  test('a cache file changed on disk after it was verified is caught while the tar is written: exit 1, no tar', async () => {
    // Damage the biggest blob of the earlier run's cache, keeping its name and size.
    const blobs = filesBelow(join(cleanCache, 'blobs', 'sha256')).filter((f) => /\/[0-9a-f]{64}$/.test(f));
    const victim = blobs.sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0]!;
    const bytes = readFileSync(victim);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(victim, bytes);
    proxy.setRules([]);
    const outDir = join(dir, 'out-tampered');
    const run = await runCli(['bundle', 'create', '--spec', spec, '--output', join(outDir, 'bundle.tar'), '--cache-dir', cleanCache]);
    assert.equal(run.code, 1, run.stderr);
    assert.ok(run.stderr.includes(victim), `names the cache file ${victim}:\n${run.stderr}`);
    assertNoOutput(outDir);
  });

  test('corrupted blobs are refused every time: no tar, nothing bad in the cache', async () => {
    const r = await create([{ name: 'corrupt', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'corrupt' } }]);
    assert.equal(r.run.code, 1, r.run.stderr);
    assert.ok(proxy.stats().injected.corrupt > 0);
    assertNoOutput(r.outDir);
    assertCacheSound(r.cache);
    assert.match(r.run.stderr, /hard|fc\/app-\d/, 'names the image');
    assert.match(r.run.stderr, DIGEST, 'names the blob');
    assert.match(r.run.stderr, /sha256|digest|mismatch|refused/i, 'says the content did not match');
  });

  test('a blob corrupted once is never kept: the run fails, or fetches it again and makes the same bytes', async () => {
    for (const offset of [0, 77_777]) {
      const r = await create([{ name: 'corrupt once', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'corrupt', offset }, skip: 2, times: 1 }]);
      assert.equal(proxy.stats().injected.corrupt, 1);
      assertCacheSound(r.cache);
      if (r.run.code === 0) assert.ok(readFileSync(r.out).equals(cleanTar), 'a bundle made despite the corruption is the right one');
      else {
        assert.equal(r.run.code, 1, r.run.stderr);
        assertNoOutput(r.outDir);
      }
    }
  });

  test('a blob that keeps failing ends the run with the image, the blob and the last error; no tar', async () => {
    const victim = source.images[1]!;
    const layers = JSON.parse(readFileSync(join(source.layout.dir, 'blobs', 'sha256', victim.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string; size: number }> };
    const blob = layers.layers.find((l) => l.size > 150_000)!.digest;
    const r = await create([{ name: 'victim', method: 'GET', path: new RegExp(`/blobs/${blob}$`), fault: { kind: 'status', status: 503, retryAfter: 0 } }]);
    assert.equal(r.run.code, 1, r.run.stderr);
    assert.ok(r.run.stderr.includes(blob), `names blob ${blob}:\n${r.run.stderr}`);
    assert.ok(r.run.stderr.includes(`${proxy.hostPort}/${victim.repository}`), `names image ${victim.repository}:\n${r.run.stderr}`);
    assert.match(r.run.stderr, /503/, 'gives the last error');
    const attempts = proxy.records.filter((x) => x.rule === 'victim').length;
    assert.ok(attempts >= 2 && attempts <= 12, `retried a bounded number of times (${attempts})`);
    assertNoOutput(r.outDir);
    assertCacheSound(r.cache);
  });

  test('resets that never stop (every blob, every try) end the run cleanly: exit 1, no tar', async () => {
    const r = await create([{ name: 'always reset', method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'reset', afterBytes: 1000 } }]);
    assert.equal(r.run.code, 1, r.run.stderr);
    assert.match(r.run.stderr, DIGEST);
    assertNoOutput(r.outDir);
    assertCacheSound(r.cache);
  });

  test('a full disk (2 MiB tmpfs) stops create cleanly: exit 1, a clear message, nothing under the final name', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
    // Cache on the small disk: it fills while blobs are stored.
    for (const where of ['cache', 'output'] as const) {
      const fs = mountTmpfs(where === 'cache' ? '512k' : '2m');
      try {
        const k = n++;
        const cache = where === 'cache' ? join(fs.dir, 'cache') : join(dir, `cache-${k}`);
        const outDir = where === 'output' ? join(fs.dir, 'out') : join(dir, `out-${k}`);
        const out = join(outDir, 'bundle.tar');
        // 2 MiB holds the tar alone (~1 MiB) but not tar + a filler: fill it first.
        if (where === 'output') {
          mkdirSync(outDir, { recursive: true });
          writeFileSync(join(fs.dir, 'filler'), Buffer.alloc(1536 * 1024));
        }
        proxy.setRules([]);
        const run = await runCli(['bundle', 'create', '--spec', spec, '--output', out, '--cache-dir', cache]);
        t.diagnostic(`${where} on a full disk: ${run.stderr.trim().split("\n").slice(-2).join(" / ")}`);
        assert.equal(run.code, 1, `${where} on a full disk: exit 1:\n${run.stderr}`);
        assert.match(run.stderr, /no space|disk full|ENOSPC|not enough (disk )?space/i, `a clear message:\n${run.stderr}`);
        assert.doesNotMatch(run.stderr, /^\s+at |triggerUncaughtException|^Node\.js v\d/m, 'a handled stop, not a crash');
        assert.match(run.stderr, /^astrago-check: error: /m, 'the error goes through the CLI edge');
        assertNoOutput(outDir);
        if (where === 'output') assert.deepEqual(readdirSync(outDir), [], 'a clean stop removes its temp file too');
        if (where === 'cache') assertCacheSound(cache);
      } finally {
        fs.unmount();
      }
    }
  });
});
