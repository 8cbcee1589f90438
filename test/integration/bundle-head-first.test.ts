// Head-first pacing of parallel blob downloads (src/bundle/head-first.ts) on the
// whole create path, against a real registry: told that the process is busy,
// only the download earliest in the tar reads, blobs complete in tar order, no
// byte is taken out of turn, and the bundle is byte-for-byte the one made with
// every download reading at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBundle } from '../../src/bundle/create.ts';
import { HeadFirst, type ReadTurn } from '../../src/bundle/head-first.ts';
import { verifyBundle } from '../../src/bundle/verify.ts';
import { seededRegistry, writeSpec, type SourceRegistry } from '../support/hardening.ts';
import { tempDir } from '../support/temp.ts';

let src: SourceRegistry;
let work: string;
let spec: string;

before(async () => {
  // Layers large enough that several downloads overlap for a while.
  src = await seededRegistry({ count: 2, layerSizes: [6 << 20, 6 << 20, 6 << 20], sharedLayerSize: 6 << 20, prefix: 'pace' });
  work = tempDir('ac-pace-');
  spec = writeSpec(work, src.images.map((i) => `${src.registry.host}/${i.repoTag}`));
});

after(async () => {
  await src?.stop();
});

/** A HeadFirst that records the tar rank of each download as it ends. */
class Watched extends HeadFirst {
  readonly ended: number[] = [];
  override join(rank: number): ReadTurn {
    const turn = super.join(rank);
    let left = false;
    // (leave() may be called again: by the store when the body is in, by create when the blob is sealed)
    return { ...turn, leave: () => (left || this.ended.push(rank), (left = true), turn.leave()) };
  }
}

async function create(name: string, pace: Watched): Promise<string> {
  const out = join(work, `${name}.tar`);
  await createBundle({ specFile: spec, output: out, cacheDir: join(work, `cache-${name}`), concurrency: 8, stderr: { write: () => true }, pace });
  return out;
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('a busy process reads the blob earliest in the tar first; the bundle is the same as with all reading at once', async () => {
  const busy = new Watched({ utilisation: () => 1, sampleMs: 1 });
  const serialTar = await create('serial', busy);
  const idle = new Watched({ utilisation: () => 0, sampleMs: 1 });
  const parallelTar = await create('parallel', idle);

  // 7 layers (6 own, 1 shared) downloaded in each run.
  assert.equal(busy.ended.length, 7);
  assert.ok(busy.serialSpells >= 1, 'went head-first');
  assert.equal(busy.outOfTurnBytes, 0, 'no download read while it was not its turn');
  assert.deepEqual(busy.ended, [...busy.ended].sort((a, b) => a - b), `completed in tar order: ${busy.ended}`);
  assert.equal(idle.serialSpells, 0);

  assert.equal(sha(serialTar), sha(parallelTar));
  assert.equal(readFileSync(`${serialTar}.sha256`, 'utf8').split(' ')[0], sha(serialTar));
  const v = await verifyBundle(serialTar);
  assert.deepEqual(v.problems, []);
  assert.equal(v.sidecar.status, 'ok');
  assert.equal(v.counts.images, 2);
});
