// Two bundle create runs sharing one --cache-dir (packaging jobs on one
// machine), against a real registry behind a throttled counting proxy: the
// second waits for the blobs the first is downloading and takes them from the
// cache, so each layer comes over the network once and both bundles are
// byte-identical; when the first is killed mid-download, the waiting run
// takes its blob over and resumes the partial it left.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCountingProxy, startRegistry, type CountingProxy, type TestRegistry } from '../support/registry.ts';
import { createLayout, pushImage, type Descriptor } from '../support/images.ts';
import { cliCommand, runBinary, type RunResult } from '../support/run-binary.ts';

let work: string;
let reg: TestRegistry;
let proxy: CountingProxy;
let big: Descriptor;
let small: Descriptor;
let spec: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ac-bcs-'));
  reg = await startRegistry();
  const lay = createLayout(join(work, 'layout'));
  big = await lay.addLayer(1_500_000);
  small = await lay.addLayer(200_000);
  lay.tag('shared', await lay.addImage({ layers: [big, small] }));
  await pushImage(lay, 'shared', reg, 'team/shared:1');
  lay.cleanup();
  proxy = await startCountingProxy(reg.url, { bytesPerSecond: 1_000_000 });
  spec = join(work, 'spec.yaml');
  writeFileSync(spec, ['apiVersion: astrago.io/v1', 'kind: BundleSpec', 'metadata: {name: shared, version: 0.0.1}', 'platforms: [linux/amd64]', 'images:', `  - ${proxy.host}/team/shared:1`, ''].join('\n'));
});

after(async () => {
  await proxy?.stop();
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const blobsOf = (cache: string) => join(cache, 'blobs', 'sha256');

/** Starts a create in the background; resolves when it exits. */
function startCreate(cache: string, out: string): { done: Promise<RunResult>; kill(sig: NodeJS.Signals): void } {
  const [cmd, ...pre] = cliCommand();
  const child = spawn(cmd!, [...pre, 'bundle', 'create', '--spec', spec, '--output', out, '--cache-dir', cache], { env: { PATH: process.env.PATH, HOME: work }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<RunResult>((r) => child.on('close', (code) => r({ code, stdout, stderr })));
  return { done, kill: (sig) => child.kill(sig) };
}

/** Waits until the run holds the big layer's lock and has some of its bytes. */
async function untilDownloading(cache: string): Promise<void> {
  const hex = big.digest.slice(7);
  for (let i = 0; i < 200; i++) {
    let names: string[] = [];
    try {
      names = readdirSync(blobsOf(cache));
    } catch {
      /* not made yet */
    }
    if (names.includes(`${hex}.partial.lock`) && names.includes(`${hex}.partial`)) return;
    await sleep(25);
  }
  throw new Error('the first run never started the big layer');
}

test('a second run on the same cache waits for the blobs the first is downloading: each layer over the network once, byte-identical bundles', async () => {
  const cache = join(work, 'cache-shared');
  const before = { big: proxy.blobGets(big.digest).length, small: proxy.blobGets(small.digest).length };
  const a = startCreate(cache, join(work, 'a.tar'));
  await untilDownloading(cache);
  const b = await runBinary(['bundle', 'create', '--spec', spec, '--output', join(work, 'b.tar'), '--cache-dir', cache], { env: { PATH: process.env.PATH, HOME: work } });
  const ra = await a.done;
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, new RegExp(`waiting for image .*blob ${big.digest}: another run \\(pid \\d+ on [^)]+\\) is downloading it into this cache`));
  assert.match(b.stderr, /2 layers: 0 downloaded, 2 from the cache; 0 B over the network/);
  assert.equal(proxy.blobGets(big.digest).length - before.big, 1, 'the big layer was downloaded once');
  assert.equal(proxy.blobGets(small.digest).length - before.small, 1, 'the small layer was downloaded once');
  assert.ok(readFileSync(join(work, 'a.tar')).equals(readFileSync(join(work, 'b.tar'))), 'byte-identical bundles');
  assert.deepEqual(readdirSync(blobsOf(cache)).filter((n) => /\.(partial|lock)/.test(n)), [], 'no partial or lock left');
  const v = await runBinary(['bundle', 'verify', join(work, 'b.tar')]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test('the run holding a blob is killed (SIGKILL): the waiting run takes the blob over and resumes its partial', async () => {
  const cache = join(work, 'cache-killed');
  const a = startCreate(cache, join(work, 'killed.tar'));
  await untilDownloading(cache);
  const b = startCreate(cache, join(work, 'survivor.tar'));
  await sleep(600);
  a.kill('SIGKILL');
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.equal(ra.code, null, 'the first run was killed');
  assert.equal(rb.code, 0, rb.stderr);
  assert.match(rb.stderr, /waiting for image .*another run/);
  assert.match(rb.stderr, /resumed where an interrupted run stopped/);
  const v = await runBinary(['bundle', 'verify', join(work, 'survivor.tar')]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.deepEqual(readdirSync(blobsOf(cache)).filter((n) => /\.(partial|lock)/.test(n)), [], 'no partial or lock left');
});
