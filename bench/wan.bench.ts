// bundle create and bundle install over a WAN-like link, where users pull and push bundles:
// each registry sits behind bench/support/wan-link.ts (40 ms round trip, 25 MB/s per
// connection, 100 MB/s in all, both directions), the peer is skopeo over the same kind of link,
// and the link limit is the unique bytes divided by the total rate.
//
//   shared set: 5 images, one 40 MB layer shared by all, plus 30 MB and 8 MB of their own (~230 MB unique)
//   large layer: one image whose 200 MB layer is most of it, as GPU images (CUDA, PyTorch) are
//
// Targets (shared set): create and install each reach at least 85 % of the link limit and 2x skopeo.
// Each set also times bundle create --piece-size 0 (one stream per layer), to show what the
// byte-range pieces of large layers pay; an upload is one stream per blob by the protocol.
// BENCH_WAN_RTT_MS, BENCH_WAN_CONN_MBPS, BENCH_WAN_TOTAL_MBPS change the link (MB = 10^6 bytes);
// BENCH_ROUNDS the repetitions (default 2, best kept).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLayout, pushImage, skopeo, type Descriptor } from '../test/support/images.ts';
import { startRegistry, type TestRegistry } from '../test/support/registry.ts';
import { ensureBinary } from '../test/support/run-binary.ts';
import { startWanLink, type WanLink } from './support/wan-link.ts';

const MB = 1e6;
const link = {
  rttMs: Number(process.env.BENCH_WAN_RTT_MS ?? 40),
  perConnBytesPerSec: Number(process.env.BENCH_WAN_CONN_MBPS ?? 25) * MB,
  totalBytesPerSec: Number(process.env.BENCH_WAN_TOTAL_MBPS ?? 100) * MB,
};
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const work = mkdtempSync(join(tmpdir(), 'ac-bench-wan-'));
const bin = ensureBinary();

/** Runs a command under GNU time; returns wall seconds and peak RSS in MiB. */
async function timed(argv: string[]): Promise<{ s: number; rssMiB: number }> {
  const t = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%M', ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, HOME: work } });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const s = (performance.now() - t) / 1000;
  if (code !== 0) throw new Error(`${argv.slice(0, 3).join(' ')} failed (${code}):\n${err}`);
  return { s, rssMiB: Number(err.trim().split('\n').at(-1)) / 1024 };
}

/** A fresh registry behind its own link (install targets must start empty each round). */
async function linkedRegistry(): Promise<{ reg: TestRegistry; link: WanLink; stop(): Promise<void> }> {
  const reg = await startRegistry();
  const l = await startWanLink({ port: reg.port }, link);
  return { reg, link: l, stop: async () => (await l.stop(), await reg.stop()) };
}

const source = await startRegistry();
const sourceLink = await startWanLink({ port: source.port }, link);

/** Pushes `images` (each a list of layers, a shared one given once as the same descriptor) to the source. */
async function makeSet(name: string, build: (layer: (mb: number) => Promise<Descriptor>) => Promise<Descriptor[][]>): Promise<{ names: string[]; unique: number }> {
  const lay = createLayout(join(work, `layout-${name}`));
  const images = await build((mb) => lay.addLayer(mb * MB));
  const seen = new Map<string, number>();
  const names: string[] = [];
  for (const [i, layers] of images.entries()) {
    lay.tag(`${name}${i}`, await lay.addImage({ layers }));
    await pushImage(lay, `${name}${i}`, source, `bench/${name}${i}:1`);
    for (const l of layers) seen.set(l.digest, l.size);
    names.push(`bench/${name}${i}:1`);
  }
  lay.cleanup();
  return { names, unique: [...seen.values()].reduce((a, b) => a + b, 0) };
}

async function runSet(label: string, set: { names: string[]; unique: number }, targets: boolean): Promise<number> {
  const { names, unique } = set;
  const limitS = unique / link.totalBytesPerSec;
  console.log(`${label}: ${names.length} image(s), ${(unique / MB).toFixed(0)} MB unique; link limit ${limitS.toFixed(2)} s`);
  const spec = join(work, `${label}.yaml`);
  writeFileSync(spec, `apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: wan, version: "1"}\nplatforms: [linux/amd64]\nimages:\n${names.map((n) => `  - ${sourceLink.host}/${n}`).join('\n')}\n`);
  const tar = join(work, 'wan.tar');
  const skopeoLayout = join(work, 'skopeo-layout');
  const best = { create: Infinity, createOneStream: Infinity, skopeoPull: Infinity, install: Infinity, skopeoPush: Infinity };
  let rss = 0;
  for (let round = 0; round < ROUNDS; round++) {
    rmSync(skopeoLayout, { recursive: true, force: true });
    let t = performance.now();
    for (const n of names) await skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${sourceLink.host}/${n}`, `oci:${skopeoLayout}:${n.replace(/[/:]/g, '-')}`]);
    best.skopeoPull = Math.min(best.skopeoPull, (performance.now() - t) / 1000);

    const cache = join(work, `cache-${round}`);
    const oneTar = join(work, 'one-stream.tar');
    const one = await timed([bin, 'bundle', 'create', '--spec', spec, '--output', oneTar, '--cache-dir', cache, '--piece-size', '0']);
    rmSync(cache, { recursive: true, force: true });
    rmSync(oneTar, { force: true });
    best.createOneStream = Math.min(best.createOneStream, one.s);
    rmSync(tar, { force: true });
    const c = await timed([bin, 'bundle', 'create', '--spec', spec, '--output', tar, '--cache-dir', cache]);
    rmSync(cache, { recursive: true, force: true });
    best.create = Math.min(best.create, c.s);
    rss = Math.max(rss, c.rssMiB);

    const ours = await linkedRegistry();
    try {
      const r = await timed([bin, 'bundle', 'install', tar, '--registry', `${ours.link.host}/site`, '--charts-dir', join(work, `charts-${label}-${round}`)]);
      best.install = Math.min(best.install, r.s);
      rss = Math.max(rss, r.rssMiB);
    } finally {
      await ours.stop();
    }
    const peer = await linkedRegistry();
    try {
      t = performance.now();
      for (const n of names) await skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${skopeoLayout}:${n.replace(/[/:]/g, '-')}`, `docker://${peer.link.host}/site/${n}`]);
      best.skopeoPush = Math.min(best.skopeoPush, (performance.now() - t) / 1000);
    } finally {
      await peer.stop();
    }
  }
  const line = (what: string, secs: number, peer: number) => {
    const ofLimit = limitS / secs;
    const vsPeer = peer / secs;
    const verdict = targets ? `  target 85 % and 2x: ${ofLimit >= 0.85 && vsPeer >= 2 ? 'met' : 'NOT met'}` : '';
    console.log(`  ${what.padEnd(16)} ${secs.toFixed(2).padStart(6)} s  ${((unique / MB) / secs).toFixed(0).padStart(4)} MB/s  ${(ofLimit * 100).toFixed(0)} % of the link limit, ${vsPeer.toFixed(2)}x skopeo (${peer.toFixed(2)} s)${verdict}`);
  };
  console.log(`  best of ${ROUNDS} rounds:`);
  line('bundle create', best.create, best.skopeoPull);
  line('bundle install', best.install, best.skopeoPush);
  console.log(`  create with one stream per layer (--piece-size 0): ${best.createOneStream.toFixed(2)} s; the pieces save ${((1 - best.create / best.createOneStream) * 100).toFixed(0)} %`);
  return rss;
}

try {
  console.log(`link: ${link.rttMs} ms round trip, ${link.perConnBytesPerSec / MB} MB/s per connection, ${link.totalBytesPerSec / MB} MB/s in all`);
  const shared = await makeSet('w', async (layer) => {
    const common = await layer(40);
    const out: Descriptor[][] = [];
    for (let i = 0; i < 5; i++) out.push([common, await layer(30), await layer(8)]);
    return out;
  });
  const large = await makeSet('g', async (layer) => [[await layer(200), await layer(10), await layer(5)]]);
  const rss = Math.max(await runSet('shared set', shared, true), await runSet('large layer', large, false));
  console.log(`peak RSS ${rss.toFixed(0)} MiB`);
} finally {
  await sourceLink.stop();
  await source.stop();
  rmSync(work, { recursive: true, force: true });
}
