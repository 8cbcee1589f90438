// Close-delimited HTTP/1.0 servers (`python3 -m http.server` and the like:
// Content-Length or none, then FIN) on every download path of bundle create:
// files, a Helm repository (index.yaml and the chart), and a registry's
// manifests and blobs. A body still held back by a slow reader when the server
// closes its end must arrive whole (undici 7 died there with an uncaught
// `assert(!this.paused)`), and an error nothing caught ends as one line, exit 1,
// no temp tar.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { packageChart } from '../../src/bundle/charts/package.ts';
import { HttpSource } from '../../src/bundle/create/http-source.ts';
import { RegistryClient } from '../../src/oci/registry/client.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLayout, pushImage, singlePlatformImage, type Layout } from '../support/images.ts';
import { makeChartDir, startStaticServer, writeHelmIndex, type StaticServer } from '../support/helm-repo.ts';
import { startHttp10Front, type Http10Front } from '../support/http10.ts';
import { runCli } from '../support/hardening.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { spawn } from 'node:child_process';
import { ROOT } from '../support/run-binary.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let work: string;
let reg: TestRegistry;
let lay: Layout;
let web: StaticServer;
let webFront: Http10Front;
let webFrontNoLength: Http10Front;
let regFront: Http10Front;
let big: Buffer;
let small: Buffer;
let layerDigest = '';
let smallLayer = '';

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ac-h10-'));
  for (const d of ['repo', 'files', 'spec']) mkdirSync(join(work, d));
  reg = await startRegistry();
  lay = createLayout();
  const img = await singlePlatformImage(lay, 'app', { layerSizes: [3 << 20, 32 * 1024] });
  await pushImage(lay, 'app', reg, 'h10/app:1.0');
  const m = JSON.parse(readFileSync(join(lay.dir, 'blobs', 'sha256', img.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
  layerDigest = m.layers[0]!.digest;
  smallLayer = m.layers[1]!.digest;
  const pkg = await packageChart(makeChartDir(join(work, 'src'), { name: 'web', version: '0.1.0' }));
  writeFileSync(join(work, 'repo', pkg.fileName), pkg.data);
  writeHelmIndex(join(work, 'repo'), [{ name: 'web', version: '0.1.0', fileName: pkg.fileName }]);
  big = randomBytes(6 << 20);
  writeFileSync(join(work, 'files', 'tool.bin'), big);
  // Over the body stream's 64 KiB high-water mark, and in at most two socket reads: the
  // reader's back-pressure pauses the parser on the last bytes, right before the FIN.
  small = randomBytes(100 << 10);
  writeFileSync(join(work, 'files', 'small.bin'), small);
  web = await startStaticServer(work);
  [webFront, webFrontNoLength, regFront] = await Promise.all([startHttp10Front({ upstream: web.url }), startHttp10Front({ upstream: web.url, noLength: true }), startHttp10Front({ upstream: reg.url })]);
});

after(async () => {
  await Promise.allSettled([webFront?.close(), webFrontNoLength?.close(), regFront?.close(), web?.stop(), reg?.stop()]);
  lay?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** Reads a stream to its end after `delayMs`: the server has sent everything and closed meanwhile. */
async function readLate(body: Readable, delayMs: number): Promise<Buffer> {
  await sleep(delayMs);
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('a reader slower than a close-delimited HTTP/1.0 server', () => {
  test('files and Helm repositories (HttpSource): with Content-Length and without', async () => {
    const client = new RegistryClient({ env: {} });
    const http = new HttpSource(client.transport);
    try {
      for (const front of [webFront, webFrontNoLength]) {
        for (const want of [small, big]) {
          const { body } = await http.open(`${front.url}/files/${want === small ? 'small' : 'tool'}.bin`, 0, 'file');
          const got = await readLate(body, 300);
          assert.equal(got.length, want.length, front.url);
          assert.equal(sha(got), sha(want));
        }
        const index = await http.text(`${front.url}/repo/index.yaml`, 'index.yaml');
        assert.match(index, /web-0\.1\.0\.tgz/);
      }
    } finally {
      await client.close();
    }
  });

  test('registry manifests and blobs (RegistryClient)', async () => {
    const client = new RegistryClient({ env: {} });
    try {
      const ref = parseReference(`${regFront.hostPort}/h10/app:1.0`);
      const manifest = await client.getManifest(ref);
      assert.match(manifest.bytes.toString('utf8'), new RegExp(layerDigest.slice(7)));
      for (const digest of [smallLayer, layerDigest]) {
        const { body } = await client.getBlob(ref.registry, ref.repository, digest);
        assert.equal(`sha256:${sha(await readLate(body, 300))}`, digest);
      }
      assert.ok(regFront.requests.some((r) => r.startsWith(`GET /v2/h10/app/blobs/${layerDigest} 200`)), regFront.requests.join('\n'));
    } finally {
      await client.close();
    }
  });
});

function spec(name: string, front: Http10Front): string {
  const file = join(work, 'spec', name);
  writeFileSync(
    file,
    [
      'apiVersion: astrago.io/v1',
      'kind: BundleSpec',
      'metadata: {name: h10, version: 0.0.1}',
      'platforms: [linux/amd64]',
      'charts:',
      `  - {name: web, repo: ${front.url}/repo, version: 0.1.0}`,
      'images:',
      `  - ${regFront.hostPort}/h10/app:1.0`,
      'files:',
      `  - {name: tool, url: ${front.url}/files/tool.bin, sha256: ${sha(big)}, mode: 0o755}`,
      '',
    ].join('\n'),
  );
  return file;
}

describe('bundle create from close-delimited HTTP/1.0 servers only', () => {
  test('files, a Helm repository and a registry: every run completes and verifies', async () => {
    for (const [i, front] of [webFront, webFrontNoLength, webFront].entries()) {
      const out = join(work, `out-${i}`, 'b.tar');
      const r = await runCli(['bundle', 'create', '--spec', spec(`s${i}.yaml`, front), '--output', out, '--cache-dir', join(work, `cache-${i}`)], { timeoutMs: 90_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /assert|AssertionError|    at /);
      const v = await runCli(['bundle', 'verify', out]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
    }
  });

  test('an error nothing caught: one line naming the item in flight, exit 1, no temp tar', async () => {
    // A preload that throws from a timer, as a dependency's event callback would, while the
    // image's large layer is stalled (the proxy holds its GET): the tar is being written then.
    // The test creates `go` once the proxy holds that GET.
    const preload = join(work, 'throw-later.mjs');
    const go = join(work, 'go');
    writeFileSync(preload, `import { existsSync } from 'node:fs';\nconst t = setInterval(() => { if (existsSync(${JSON.stringify(go)})) { clearInterval(t); throw new Error('injected failure\\nsecond line'); } }, 20);\n`);
    const proxy = await startFaultProxy({ upstream: reg.url, rules: [{ method: 'GET', path: new RegExp(layerDigest), fault: { kind: 'stall' } }] });
    const outDir = join(work, 'out-fatal');
    mkdirSync(outDir);
    const file = join(work, 'spec', 'fatal.yaml');
    writeFileSync(file, ['apiVersion: astrago.io/v1', 'kind: BundleSpec', 'metadata: {name: f, version: 0.0.1}', 'platforms: [linux/amd64]', 'images:', `  - ${proxy.hostPort}/h10/app:1.0`, ''].join('\n'));
    try {
      const watch = setInterval(() => {
        if (proxy.records.some((x) => x.fault === 'stall')) writeFileSync(go, '');
      }, 20);
      const r = await runNode(['--import', preload, join(ROOT, 'src', 'cli', 'main.ts'), 'bundle', 'create', '--spec', file, '--output', join(outDir, 'b.tar'), '--cache-dir', join(work, 'cache-fatal')]).finally(() => clearInterval(watch));
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('astrago-check: error'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`internal error while fetching image ${proxy.hostPort}/h10/app:1.0 blob sha256:[0-9a-f]{64}( \\(and \\d+ other items?\\))?: injected failure second line; nothing was written`));
      assert.doesNotMatch(r.stderr, /    at /);
      assert.ok(proxy.records.some((x) => x.fault === 'stall'), 'the layer was in flight');
      assert.deepEqual(readdirSync(outDir), [], 'no temp tar, no sidecar');
    } finally {
      await proxy.close();
    }
  });
});

/** Runs this Node with `args`; resolves with the exit code and stderr. */
function runNode(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, HOME: work }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const ceiling = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(ceiling);
      resolve({ code, stderr });
    });
  });
}
