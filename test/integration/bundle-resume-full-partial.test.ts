// A run killed after a blob's last byte reached its .partial but before the rename leaves a
// partial as long as the blob: the next run asks for `Range: bytes=<size>-`, the registry
// answers 416, and create must start that blob over and finish (found by the crash suite
// under load; this pins it down deterministically). Real registry behind the fault proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { runCli, scratchDir, seededRegistry, writeSpec } from '../support/hardening.ts';

test('partials as long as their blobs (killed before the rename): the next run starts them over and gives the same tar', async () => {
  const dir = scratchDir('full-partial');
  const source = await seededRegistry({ count: 2, layerSizes: [96 * 1024, 48 * 1024], prefix: 'fp' });
  const proxy = await startFaultProxy({ upstream: source.registry.url, seed: 7, rules: [] });
  try {
    const spec = writeSpec(dir, source.images.map((i) => `${proxy.hostPort}/${i.repoTag}`));
    const cache = join(dir, 'cache');
    const create = (k: string) => runCli(['bundle', 'create', '--spec', spec, '--output', join(dir, k, 'bundle.tar'), '--cache-dir', cache]);
    const first = await create('a');
    assert.equal(first.code, 0, first.stderr);
    const blobs = join(cache, 'blobs', 'sha256');
    const names = readdirSync(blobs).filter((f) => /^[0-9a-f]{64}$/.test(f));
    assert.ok(names.length >= 4);
    for (const b of names) renameSync(join(blobs, b), join(blobs, `${b}.partial`));
    proxy.resetCounters();
    const second = await create('b');
    assert.equal(second.code, 0, second.stderr);
    assert.ok(proxy.records.some((r) => r.status === 416), 'the registry was asked for the bytes after the end');
    assert.ok(readFileSync(join(dir, 'b', 'bundle.tar')).equals(readFileSync(join(dir, 'a', 'bundle.tar'))), 'the same tar');
  } finally {
    await proxy.close();
    await source.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
