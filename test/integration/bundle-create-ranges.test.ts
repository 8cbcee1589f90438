// bundle create downloading a large layer as byte ranges (--piece-size),
// against a real registry behind a counting proxy: the ranges tile the layer,
// the tar is the one a single-stream run makes; a SIGINT leaves the partial
// and its extents record, and the next run asks only for what the record
// lacks; after a SIGKILL the next run still ends right; a front that ignores
// Range (answers 200 with the whole blob) falls back to one stream.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCountingProxy, startRegistry, type CountingProxy, type ProxiedRequest, type TestRegistry } from '../support/registry.ts';
import { createLayout, pushImage, readBlob, type Descriptor } from '../support/images.ts';
import { cliCommand, runBinary, type RunResult } from '../support/run-binary.ts';

type Span = [number, number];

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let work: string;
let reg: TestRegistry;
let proxy: CountingProxy;
let big: Descriptor;
let small: Descriptor;
let bigBytes: Buffer;
let spec: string;
let clean: Promise<string> | undefined;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ac-bcr-'));
  reg = await startRegistry();
  const lay = createLayout(join(work, 'layout'));
  big = await lay.addLayer(3 << 20);
  small = await lay.addLayer(100 << 10);
  lay.tag('ranges', await lay.addImage({ layers: [big, small] }));
  await pushImage(lay, 'ranges', reg, 'team/ranges:1');
  bigBytes = readBlob(lay.dir, big.digest);
  lay.cleanup();
  proxy = await startCountingProxy(reg.url);
  spec = join(work, 'spec.yaml');
  writeFileSync(spec, ['apiVersion: astrago.io/v1', 'kind: BundleSpec', 'metadata: {name: ranges, version: 0.0.1}', 'platforms: [linux/amd64]', 'charts: []', 'images:', `  - ${proxy.host}/team/ranges:1`, 'files: []', ''].join('\n'));
});

after(async () => {
  await proxy?.stop();
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: work });
const blobsDir = (cache: string) => join(cache, 'blobs', 'sha256');
const partialOf = (cache: string) => join(blobsDir(cache), `${big.digest.slice(7)}.partial`);

async function create(name: string, more: string[]): Promise<RunResult & { tar: string }> {
  const tar = join(work, `${name}.tar`);
  const r = await runBinary(['bundle', 'create', '--spec', spec, '--output', tar, '--cache-dir', join(work, `cache-${name}`), ...more], { env: env(), timeoutMs: 120_000 });
  return { ...r, tar };
}

/** The tar a single-stream run (--piece-size 0) makes with a fresh cache, made once. */
function cleanTar(): Promise<string> {
  clean ??= (async () => {
    proxy.requests.length = 0;
    const r = await create('clean', ['--piece-size', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(proxy.blobGets(big.digest).length, 1, '--piece-size 0: one request for the layer');
    return sha(readFileSync(r.tar));
  })();
  return clean;
}

/** [start, end) of a bounded Range header, or undefined. */
function rangeOf(q: ProxiedRequest): Span | undefined {
  const m = /^bytes=(\d+)-(\d+)$/.exec(q.range ?? '');
  return m ? [Number(m[1]), Number(m[2]) + 1] : undefined;
}

/** Asserts `spans` cover [0, size) exactly once (sorted, each starting where the one before ended). */
function assertTiling(spans: Span[], size: number, msg: string): void {
  const sorted = [...spans].sort((x, y) => x[0] - y[0]);
  let pos = 0;
  for (const [a, b] of sorted) {
    assert.equal(a, pos, `${msg}: ${JSON.stringify(sorted)}`);
    assert.ok(b > a, msg);
    pos = b;
  }
  assert.equal(pos, size, `${msg}: ends at the layer's size`);
}

/** The extents record of the big layer's partial, or undefined. */
function record(cache: string): { size: number; extents: Span[] } | undefined {
  try {
    return JSON.parse(readFileSync(`${partialOf(cache)}.extents`, 'utf8')) as { size: number; extents: Span[] };
  } catch {
    return undefined; // none yet
  }
}

/** Starts bundle create throttled (256 KiB/s a request), waits until `ready`, then sends `signal`. */
async function interrupt(name: string, signal: NodeJS.Signals, ready: (cache: string) => boolean): Promise<{ code: number | null; stderr: string; cache: string }> {
  const cache = join(work, `cache-${name}`);
  const dir = join(work, name);
  mkdirSync(dir);
  proxy.setBytesPerSecond(256 << 10);
  const [cmd, ...args] = cliCommand();
  const child = spawn(cmd!, [...args, 'bundle', 'create', '--spec', spec, '--output', join(dir, 'b.tar'), '--cache-dir', cache, '--piece-size', '256KiB', '--concurrency', '4'], { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  try {
    for (let i = 0; !ready(cache); i++) {
      assert.ok(i < 1200 && child.exitCode === null, `ready before the run ended: ${stderr}`);
      await sleep(25);
    }
    assert.ok(!existsSync(join(blobsDir(cache), big.digest.slice(7))), 'the layer was still downloading');
    child.kill(signal);
    return { code: await exited, stderr, cache };
  } finally {
    child.kill('SIGKILL');
    proxy.setBytesPerSecond(undefined);
  }
}

/** Asserts every span the record lists holds the layer's bytes; returns them. */
function assertRecordTrue(cache: string): Span[] {
  const rec = record(cache);
  assert.ok(rec, 'an extents record is kept');
  assert.equal(rec.size, big.size);
  const file = readFileSync(partialOf(cache));
  for (const [a, b] of rec.extents) assert.ok(file.subarray(a, b).equals(bigBytes.subarray(a, b)), `recorded span ${a}-${b} holds the layer's bytes`);
  return rec.extents;
}

test('--piece-size 512KiB: the layer comes as several 206 answers whose bounded ranges tile it exactly once; the tar equals a single-stream run\'s', async () => {
  const cleanSha = await cleanTar();
  proxy.requests.length = 0;
  const r = await create('pieces', ['--piece-size', '512KiB']);
  assert.equal(r.code, 0, r.stderr);
  const gets = proxy.blobGets(big.digest);
  assert.equal(gets.length, Math.ceil(big.size / (512 << 10)), JSON.stringify(gets));
  assert.deepEqual(new Set(gets.map((g) => g.status)), new Set([206]));
  const spans = gets.map((g) => rangeOf(g));
  assert.ok(spans.every((s) => s && s[1] - s[0] <= 512 << 10), `bounded ranges of at most 512 KiB: ${gets.map((g) => g.range).join(', ')}`);
  assertTiling(spans as Span[], big.size, 'the ranges');
  assert.equal(sha(readFileSync(r.tar)), cleanSha);
  assert.ok(readFileSync(join(blobsDir(join(work, 'cache-pieces')), big.digest.slice(7))).equals(bigBytes));
  assert.ok(!existsSync(partialOf(join(work, 'cache-pieces'))) && !existsSync(`${partialOf(join(work, 'cache-pieces'))}.extents`), 'no partial or record left');
});

test('SIGINT mid-download: exit 130, the partial and its extents record stay; the next run asks only for what the record lacks, and the tar equals a clean run\'s', async () => {
  const cleanSha = await cleanTar();
  // One piece recorded, and 300 ms later the next ones part-way (they start as it ends).
  let firstPiece = 0;
  const ready = (c: string) => {
    firstPiece ||= record(c)?.extents.length ? Date.now() : 0;
    return firstPiece > 0 && Date.now() - firstPiece > 300;
  };
  const { code, stderr, cache } = await interrupt('int', 'SIGINT', ready);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /bundle not written: stopped by SIGINT/);
  assert.deepEqual(readdirSync(join(work, 'int')), [], 'no tar or temp tar');
  const held = assertRecordTrue(cache);
  const heldBytes = held.reduce((n, [a, b]) => n + b - a, 0);
  assert.ok(heldBytes > 0 && heldBytes < big.size, `the record holds ${heldBytes} of ${big.size} bytes`);
  assert.ok(held.some(([, b]) => b % (256 << 10) !== 0), `what the pieces cut short had is recorded too: ${JSON.stringify(held)}`);

  proxy.requests.length = 0;
  const r = await runBinary(['bundle', 'create', '--spec', spec, '--output', join(work, 'int', 'b.tar'), '--cache-dir', cache, '--piece-size', '256KiB'], { env: env(), timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const gets = proxy.blobGets(big.digest);
  assert.deepEqual(new Set(gets.map((g) => g.status)), new Set([206]));
  const asked = gets.map((g) => rangeOf(g));
  assert.ok(asked.every((s) => s), `bounded ranges: ${gets.map((g) => g.range).join(', ')}`);
  for (const [a, b] of asked as Span[]) for (const [c, d] of held) assert.ok(b <= c || a >= d, `range ${a}-${b - 1} overlaps the recorded ${c}-${d - 1}`);
  assertTiling([...held, ...(asked as Span[])], big.size, 'the record and the ranges asked');
  assert.match(r.stderr, /1 of them resumed where an interrupted run stopped/);
  assert.equal(sha(readFileSync(join(work, 'int', 'b.tar'))), cleanSha);
  assert.ok(!existsSync(partialOf(cache)) && !existsSync(`${partialOf(cache)}.extents`), 'no partial or record left');
});

test('SIGKILL once bytes past a hole have landed: a record lists only right bytes, and the next run ends with the clean run\'s tar', async () => {
  const cleanSha = await cleanTar();
  // A piece after the first has written (the partial is longer than a piece), maybe none has finished.
  const { code, cache } = await interrupt('kill', 'SIGKILL', (c) => existsSync(partialOf(c)) && statSync(partialOf(c)).size > 256 << 10);
  assert.equal(code, null);
  assertRecordTrue(cache);

  const r = await runBinary(['bundle', 'create', '--spec', spec, '--output', join(work, 'kill', 'b.tar'), '--cache-dir', cache, '--piece-size', '256KiB'], { env: env(), timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha(readFileSync(join(work, 'kill', 'b.tar'))), cleanSha);
  assert.ok(readFileSync(join(blobsDir(cache), big.digest.slice(7))).equals(bigBytes));
  assert.ok(!existsSync(partialOf(cache)) && !existsSync(`${partialOf(cache)}.extents`), 'no partial or record left');
});

test('the end of the queue comes in quarter pieces (at least 1 MiB): with --piece-size 4MiB and one request slot, the big layer\'s last bytes in pieces of at most 1 MiB', async () => {
  const cleanSha = await cleanTar();
  proxy.requests.length = 0;
  const r = await create('tail', ['--piece-size', '4MiB', '--concurrency', '1']);
  assert.equal(r.code, 0, r.stderr);
  const spans = proxy.blobGets(big.digest).map((g) => rangeOf(g) ?? ([0, big.size] as Span));
  assertTiling(spans, big.size, 'the ranges');
  // The last 4 MiB of the queue (one slot of 4 MiB) hold all of both layers: quarter pieces, floored at 1 MiB.
  assert.ok(spans.every(([a, b]) => b - a <= 1 << 20), `pieces of at most 1 MiB: ${JSON.stringify(spans)}`);
  assert.equal(spans.length, Math.ceil(big.size / (1 << 20)));
  assert.equal(sha(readFileSync(r.tar)), cleanSha);
});

test('a front that ignores Range (200, the whole blob): --piece-size 512KiB falls back to one stream, and the tar equals the clean one', async () => {
  const cleanSha = await cleanTar();
  proxy.requests.length = 0;
  proxy.setIgnoreRanges(true);
  try {
    const r = await create('ignored', ['--piece-size', '512KiB']);
    assert.equal(r.code, 0, r.stderr);
    const gets = proxy.blobGets(big.digest);
    assert.deepEqual(new Set(gets.map((g) => g.status)), new Set([200]));
    assert.equal(gets.filter((g) => g.range === undefined).length, 1, `one request without a range, the one stream: ${gets.map((g) => g.range).join(', ')}`);
    assert.equal(gets.at(-1)!.range, undefined, 'the one stream comes last');
    assert.equal(sha(readFileSync(r.tar)), cleanSha);
  } finally {
    proxy.setIgnoreRanges(false);
  }
});

test('a front that answers a whole-blob range with 200 (as HTTP allows): a layer within one piece is a plain GET, and the large one still comes in ranges', async () => {
  const cleanSha = await cleanTar();
  proxy.requests.length = 0;
  proxy.setIgnoreRanges('whole');
  try {
    const r = await create('whole-200', ['--piece-size', '512KiB']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(proxy.blobGets(small.digest).map((g) => [g.status, g.range]), [[200, undefined]], 'the small layer: one GET without a Range header');
    const gets = proxy.blobGets(big.digest);
    assert.deepEqual(new Set(gets.map((g) => g.status)), new Set([206]), 'the large layer: byte ranges only');
    assertTiling(gets.map((g) => rangeOf(g)!), big.size, 'its ranges');
    assert.equal(sha(readFileSync(r.tar)), cleanSha);
  } finally {
    proxy.setIgnoreRanges(false);
  }
});
