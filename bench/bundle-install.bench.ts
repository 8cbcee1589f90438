// bundle install throughput against skopeo, in one run, into fresh registries:
// the same images (5 images x 3 layers, one layer shared by all) pushed
//   - by `astrago-check bundle install` from a bundle tar (verification pass included), and
//   - by `skopeo copy --all` from the same OCI layout, one image after another,
// each into its own fresh distribution registry on loopback. Prints wall time,
// throughput, the ratio (target: at least as fast as skopeo) and peak RSS.
// BENCH_LAYER_MB (default 50) scales the layers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLayout, singlePlatformImage, type Descriptor } from '../test/support/images.ts';
import { buildBundle } from '../test/support/bundle-fixture.ts';
import { startRegistry } from '../test/support/registry.ts';
import { ensureBinary } from '../test/support/run-binary.ts';

const LAYER = Number(process.env.BENCH_LAYER_MB ?? 50) << 20;
const IMAGES = 5;
const bin = ensureBinary();
const work = mkdtempSync(join(tmpdir(), 'ac-bench-install-'));

function run(label: string, argv: string[]): { seconds: number; rssMiB: number } {
  // GNU time: wall seconds and peak RSS (KiB) of the whole command.
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  const [secs, kib] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { seconds: secs!, rssMiB: kib! / 1024 };
}

try {
  console.log(`generating ${IMAGES} images x 3 layers of ${LAYER >> 20} MiB (one layer shared) ...`);
  const lay = createLayout(join(work, 'layout'));
  const shared: Descriptor = await lay.addLayer(LAYER);
  const images = [];
  for (let i = 0; i < IMAGES; i++) {
    await singlePlatformImage(lay, `img${i}`, { sharedLayers: [shared], layerSizes: [LAYER, LAYER] });
    images.push({ ref: `docker.io/bench/img${i}:1.0`, name: `img${i}` });
  }
  const bundle = await buildBundle({ out: join(work, 'bench.tar'), layout: lay.dir, images });
  const tarBytes = statSync(bundle.file).size;
  const unique = tarBytes; // blobs dominate the tar
  console.log(`bundle ${(tarBytes / 2 ** 20).toFixed(0)} MiB`);

  // Warm the page cache for both peers alike (they read the same bytes: tar vs layout).
  spawnSync('cat', [bundle.file], { stdio: ['ignore', 'ignore', 'ignore'] });
  spawnSync('sh', ['-c', `cat ${lay.dir}/blobs/sha256/* > /dev/null`]);

  const regA = await startRegistry();
  const regB = await startRegistry();
  try {
    const ours = run('bundle install', [bin, 'bundle', 'install', bundle.file, '--registry', `${regA.host}/bench`, '--charts-dir', join(work, 'charts')]);
    // skopeo copies one image per invocation: run them one after another, as a script would.
    const peer = { seconds: 0, rssMiB: 0 };
    for (const i of images) {
      const one = run('skopeo copy', ['skopeo', 'copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${lay.dir}:${i.name}`, `docker://${regB.host}/bench/${i.name}:1.0`]);
      peer.seconds += one.seconds;
      peer.rssMiB = Math.max(peer.rssMiB, one.rssMiB);
    }
    const again = run('bundle install (second run)', [bin, 'bundle', 'install', bundle.file, '--registry', `${regA.host}/bench`, '--charts-dir', join(work, 'charts')]);
    const verifyOnly = run('bundle verify', [bin, 'bundle', 'verify', bundle.file]);
    const mbps = (s: number) => `${(unique / 2 ** 20 / s).toFixed(0)} MiB/s`;
    console.log(`  astrago-check bundle install   ${ours.seconds.toFixed(2)} s  ${mbps(ours.seconds)}  peak RSS ${ours.rssMiB.toFixed(0)} MiB`);
    console.log(`  skopeo copy --all (per image)  ${peer.seconds.toFixed(2)} s  ${mbps(peer.seconds)}  peak RSS ${peer.rssMiB.toFixed(0)} MiB (largest of the runs)`);
    console.log(`  (bundle verify alone           ${verifyOnly.seconds.toFixed(2)} s, part of install)`);
    console.log(`  (second install, all skipped   ${again.seconds.toFixed(2)} s)`);
    const ratio = peer.seconds / ours.seconds;
    console.log(`  speed vs skopeo: ${ratio.toFixed(2)}x  target >= 1.0x: ${ratio >= 1 ? 'MET' : 'MISSED'}`);
  } finally {
    await regA.stop();
    await regB.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
