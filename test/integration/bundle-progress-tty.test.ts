// On a terminal, bundle create and bundle install show bytes done of the total, percent, rate
// and time left; off a terminal they stay line-based. The terminal is a real pty (util-linux
// `script`); the registries sit behind a slow link (bench/support/wan-link.ts) so the status
// line is drawn while blobs are still moving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLayout, pushImage } from '../support/images.ts';
import { startCountingProxy, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startStaticServer } from '../support/helm-repo.ts';
import { createHash, randomBytes } from 'node:crypto';
import { ensureBinary, runBinary } from '../support/run-binary.ts';
import { startWanLink, type WanLink } from '../../bench/support/wan-link.ts';

const MB = 1e6;
const slow = { rttMs: 10, perConnBytesPerSec: 2 * MB, totalBytesPerSec: 4 * MB };
let work: string;
let source: TestRegistry;
let sourceLink: WanLink;
let spec: string;
/** the 6 MB layer's digest and its first 3 MB (what an interrupted run leaves in the cache) */
let bigLayer: { hex: string; head: Buffer };

/** Runs the binary on a pty; returns all it wrote there (stdout and stderr, control codes kept). */
function onTerminal(args: string[]): Promise<{ code: number | null; text: string }> {
  const quoted = [ensureBinary(), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qefc', quoted, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: work, TERM: 'xterm' } });
  let text = '';
  child.stdout.on('data', (d) => (text += d));
  child.stderr.on('data', (d) => (text += d));
  return new Promise((r) => child.on('close', (code) => r({ code, text })));
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ac-progress-tty-'));
  source = await startRegistry();
  sourceLink = await startWanLink({ port: source.port }, slow);
  const lay = createLayout(join(work, 'layout'));
  const layers = [await lay.addLayer(6 * MB), await lay.addLayer(4 * MB)];
  lay.tag('p', await lay.addImage({ layers }));
  const hex = layers[0]!.digest.slice(7);
  bigLayer = { hex, head: readFileSync(join(lay.dir, 'blobs', 'sha256', hex)).subarray(0, 3 * MB) };
  await pushImage(lay, 'p', source, 'progress/p:1');
  lay.cleanup();
  spec = join(work, 'spec.yaml');
  writeFileSync(spec, `apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: progress, version: "1"}\nplatforms: [linux/amd64]\nimages:\n  - ${sourceLink.host}/progress/p:1\n`);
});

after(async () => {
  await sourceLink?.stop();
  await source?.stop();
  rmSync(work, { recursive: true, force: true });
});

const transferLine = /\d+(\.\d)? [KMG]iB of (9\.\d|10\.\d) MiB[, ]+\d{1,3} %[, ]+[\d.]+ [KMG]?i?B\/s[, ]+(\d+ s|\d+ min \d+ s|\?) left/;

test('create and install on a terminal: bytes of the total, percent, rate, time left', async () => {
  const tar = join(work, 'tty.tar');
  const c = await onTerminal(['bundle', 'create', '--spec', spec, '--output', tar, '--cache-dir', join(work, 'cache-tty')]);
  assert.equal(c.code, 0, c.text);
  assert.match(c.text, /\r\x1b\[2K/, 'a rewritten status line');
  assert.match(c.text, new RegExp(`blobs \\d/2 {2}${transferLine.source}`), c.text);

  const target = await startRegistry();
  const link = await startWanLink({ port: target.port }, slow);
  try {
    const r = await onTerminal(['bundle', 'install', tar, '--registry', `${link.host}/site`, '--charts-dir', join(work, 'charts-tty')]);
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, new RegExp(`pushing: \\d/\\d blobs, ${transferLine.source}`), r.text);
  } finally {
    await link.stop();
    await target.stop();
  }
});

test('a resumed create on a terminal: the total is what is still to come, from the first status line', async () => {
  const cache = join(work, 'cache-resumed');
  mkdirSync(join(cache, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(cache, 'blobs', 'sha256', `${bigLayer.hex}.partial`), bigLayer.head);
  const c = await onTerminal(['bundle', 'create', '--spec', spec, '--output', join(work, 'resumed.tar'), '--cache-dir', cache]);
  assert.equal(c.code, 0, c.text);
  assert.match(c.text, /1 of them resumed where an interrupted run stopped: 2\.9 MiB not downloaded again/);
  // 10 MB of layers less the 3 MB in the cache: 7 MB = 6.7 MiB, in every status line of the layers.
  const totals = [...c.text.matchAll(/blobs \d\/2 {2}[\d.]+ [KMG]?i?B of ([\d.]+ [KMG]iB)/g)].map((m) => m[1]);
  assert.ok(totals.length > 0, c.text);
  assert.deepEqual([...new Set(totals)], ['6.7 MiB'], c.text);
});

test('a file still downloading when the layers start is in the total from its first answer on', async () => {
  const big = randomBytes(4 * MB);
  mkdirSync(join(work, 'web'), { recursive: true });
  writeFileSync(join(work, 'web', 'big.bin'), big);
  const web = await startStaticServer(join(work, 'web'));
  const slow = await startCountingProxy(web.url, { bytesPerSecond: 2 * MB });
  try {
    const withFile = join(work, 'spec-file.yaml');
    writeFileSync(withFile, `${readFileSync(spec, 'utf8')}files:\n  - {name: big, url: ${slow.url}/big.bin, sha256: ${createHash('sha256').update(big).digest('hex')}}\n`);
    const c = await onTerminal(['bundle', 'create', '--spec', withFile, '--output', join(work, 'file.tar'), '--cache-dir', join(work, 'cache-file')]);
    assert.equal(c.code, 0, c.text);
    // 10 MB of layers and the 4 MB file: 14 MB = 13.4 MiB, in every status line of the layers.
    const totals = [...c.text.matchAll(/blobs \d\/2 {2}[\d.]+ [KMG]?i?B of ([\d.]+ [KMG]iB)/g)].map((m) => m[1]);
    assert.ok(totals.length > 0, c.text);
    assert.deepEqual([...new Set(totals)], ['13.4 MiB'], c.text);
  } finally {
    await slow.stop();
    await web.stop();
  }
});

test('off a terminal: plain lines, no status line', async () => {
  const tar = join(work, 'plain.tar');
  const c = await runBinary(['bundle', 'create', '--spec', spec, '--output', tar, '--cache-dir', join(work, 'cache-plain')], { env: { HOME: work } });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /^image .*progress\/p:1 sha256:/m);
  assert.doesNotMatch(c.stderr, /\r|\x1b\[| % /);
  const target = await startRegistry();
  try {
    const r = await runBinary(['bundle', 'install', tar, '--registry', `${target.host}/site`, '--charts-dir', join(work, 'charts-plain')], { env: { HOME: work } });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /\r|\x1b\[|pushing:/);
  } finally {
    await target.stop();
  }
});
