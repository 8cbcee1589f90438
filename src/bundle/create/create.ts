// bundle create: spec -> content store (cache) -> one reproducible tar.
//
// 1. load the spec (bad input: exit 2 before any download); local charts packaged
// 2. in parallel: the files, the charts (and the images they deploy), then
//    every image's manifests; any failure: each named, exit 1, no tar
// 3. the layers start (layers.ts: each once, into the content store, which
//    verifies it and renames it to its digest) while the images' configs
//    are fetched and their platforms judged
// 4. bundle.yaml and the tar layout follow (bundle-layout.ts: every size is
//    known now); as each layer is verified it is copied into its tar entry at
//    its precomputed offset (tar.ts), while the rest download. Blobs from an
//    earlier run's cache are re-hashed as they are copied. A worker hashes
//    the finished prefix of the tar for FILE.tar.sha256. The first failure
//    stops the rest (each keeps what it has in the cache). Temp names,
//    renamed at the end.
import { selectDelta } from '../delta/select.ts';
import type { BaseInventory } from '../delta/base-inventory.ts';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { errorMessage, InterruptedError, OperationError } from '../../errors.ts';
import { inFlight } from '../../in-flight.ts';
import type { BundleManifest } from '../../schema/bundle-manifest.ts';
import type { FetchedChart } from '../charts/fetch.ts';
import { fetchSpecCharts } from '../charts/fetch.ts';
import { planGuessed } from '../charts/guessed.ts';
import { findHelm } from '../charts/render.ts';
import { carriedImages } from '../charts/spec-images.ts';
import { fetchFile, type FetchedFile } from './file-fetch.ts';
import { followHash, type FollowHash } from '../store/follow-hash.ts';
import { tempTarName, writeTar } from './tar.ts';
import { HttpSource } from './http-source.ts';
import { finishImage, planImage, type PlannedImage, type PullContext, type PulledImage } from './image-pull.ts';
import { isAbort, startLayers, type LayerDownloads } from './layers.ts';
import { buildManifest, deltaItems, layoutEntries } from './bundle-layout.ts';
import { formatBytes, Progress, type ProgressSink } from './progress.ts';
import { plural } from '../inspect/format.ts';
import { RegistryClient } from '../../oci/registry/client.ts';
import { loadBundleSpec } from '../spec/spec.ts';
import { ContentStore } from '../store/store.ts';

export interface CreateOptions {
  specFile: string;
  output: string;
  /** overrides the spec's platforms */
  platforms?: string[];
  cacheDir?: string;
  concurrency?: number;
  /** the largest byte range a layer request asks for (default layers.ts PIECE_BYTES); 0: no pieces (see layers.ts) */
  pieceBytes?: number;
  env?: NodeJS.ProcessEnv;
  stderr: ProgressSink;
  /** the helm binary (else $ASTRAGO_HELM, else helm on PATH; none: the charts' values are walked) */
  helm?: string;
  /** aborted (with the signal's name) to stop: downloads stop, what they have stays in the cache, no tar */
  signal?: AbortSignal;
  /** make a delta against this bundle (OLD.tar, its first part, or its bundle.yaml): what it holds is left out */
  base?: string;
}

export interface CreateResult {
  file: string;
  sha256: string;
  size: number;
  manifest: BundleManifest;
  warnings: string[];
}

export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(base, 'astrago-check');
}

/** SOURCE_DATE_EPOCH (reproducible-builds.org) or 0. */
export function bundleMtime(env: NodeJS.ProcessEnv): number {
  const v = env.SOURCE_DATE_EPOCH;
  return v && /^\d+$/.test(v) ? Number(v) : 0;
}

/** What a run shares between its steps. */
interface Run {
  opts: CreateOptions;
  loaded: ReturnType<typeof loadBundleSpec>;
  platforms: string[];
  mtime: number;
  concurrency: number;
  store: ContentStore;
  progress: Progress;
  client: RegistryClient;
  http: HttpSource;
  itemLimit: ReturnType<typeof pLimit>;
  onBytes: (n: number) => void;
  /** every item that could not be fetched, named */
  failures: string[];
  fail: (err: unknown) => undefined;
}

export async function createBundle(opts: CreateOptions): Promise<CreateResult> {
  const env = opts.env ?? process.env;
  const loaded = loadBundleSpec(opts.specFile, env);
  const { spec } = loaded;
  const concurrency = opts.concurrency ?? 8;
  // Read before any download: a bad base is an input error at once.
  const baseInventory = opts.base ? await (await import('../delta/base-inventory.ts')).readBaseInventory(opts.base) : undefined;
  const progress = new Progress(opts.stderr);
  const store = new ContentStore(resolve(opts.cacheDir ?? defaultCacheDir(env)), {
    onWait: (what, holder) => progress.log(`waiting for ${what}: another run (pid ${holder.pid} on ${holder.host}) is downloading it into this cache`),
  });
  // The tar-hash worker starts now: its start-up overlaps the manifest round trips.
  const hasher = followHash(tempTarName(resolve(opts.output)));
  const client = new RegistryClient({
    registries: loaded.registries,
    env,
    connections: concurrency,
    onRetry: (what, attempt, reason) => progress.log(`retry ${attempt}: ${what} (${reason})`),
  });
  const failures: string[] = [];
  const run: Run = {
    opts,
    loaded,
    platforms: opts.platforms?.length ? opts.platforms : spec.platforms,
    mtime: bundleMtime(env),
    concurrency,
    store,
    progress,
    client,
    http: new HttpSource(client.transport),
    itemLimit: pLimit(Math.max(concurrency, 4)),
    onBytes: (n) => progress.addBytes(n),
    failures,
    fail: (err) => (failures.push(errorMessage(err)), undefined),
  };
  progress.total('images', loaded.images.length);
  progress.total('charts', loaded.charts.length);
  progress.total('files', spec.files.length);
  progress.log(`bundle ${spec.metadata.name} ${spec.metadata.version}: ${plural(loaded.images.length, 'listed image')}, ${plural(loaded.charts.length, 'chart')}, ${plural(spec.files.length, 'file')}; platforms ${run.platforms.join(', ')}; cache ${store.root}`);
  try {
    return await fetchAndWrite(run, baseInventory, hasher);
  } finally {
    hasher.cancel();
    progress.stop();
    await client.close();
  }
}

async function fetchAndWrite(run: Run, baseInventory: BaseInventory | undefined, hasher: FollowHash): Promise<CreateResult> {
  const { opts, loaded, store, progress, failures } = run;
  const pullCtx: PullContext = { client: run.client, store, platforms: run.platforms, onBytes: run.onBytes, ...(opts.signal ? { signal: opts.signal } : {}) };
  // The files start now; the charts come first among the rest: the images they deploy
  // (rendered with helm, else walked from their values) join the spec's images (charts/spec-images.ts).
  const filesDone = fetchFiles(run);
  const chartCtx = { client: run.client, http: run.http, store, mtime: run.mtime, specFile: opts.specFile, onBytes: run.onBytes };
  const okCharts = (await fetchSpecCharts(loaded.charts, chartCtx, {
    limit: (c, fn) => run.itemLimit(() => inFlight(`fetching chart ${c.name}`, fn)),
    onChart: (c, r) => progress.item('charts', `chart ${r.metadata.name} ${r.metadata.version} ${r.digest}${c.dir ? ` (packaged from ${c.path})` : ''}`),
    failures,
  })) as FetchedChart[];
  const carried = failures.length ? undefined : await carriedImages(loaded, okCharts, (d) => store.path(d), findHelm(opts.helm, opts.env ?? process.env));
  if (carried) progress.total('images', carried.images.length);
  const planned = await planImages(run, carried?.images ?? [], pullCtx);
  let layers: LayerDownloads | undefined;
  if (!failures.length && !opts.signal?.aborted) {
    // What came so far without saying its size (charts), the configs still to come, then the
    // layers (startLayers adds theirs); the files said theirs when they began.
    const configs = new Map(planned.images.flatMap((i) => i.configs).map((d) => [d.digest, d])); // (one download per digest)
    progress.expectBytes(progress.unannouncedBytes + [...configs.values()].reduce((n, d) => n + (store.sizeOf(d.digest) === d.size ? 0 : d.size), 0));
    layers = await startLayers(planned.images, pullCtx, { concurrency: run.concurrency, ...(opts.pieceBytes !== undefined ? { pieceBytes: opts.pieceBytes } : {}), ...(baseInventory ? { skip: (d: string) => baseInventory.blobs.has(d) } : {}), progress });
  }
  const [images, files] = await Promise.all([layers ? finishImages(run, planned, pullCtx) : [], filesDone]);
  let made: ReturnType<typeof assemble>;
  try {
    // (interrupted: the files' downloads were aborted, which is not their failure)
    if (opts.signal?.aborted) throw interrupted(opts.signal, store);
    if (failures.length) throw new OperationError(`bundle not written; ${failures.length} item(s) could not be fetched:\n  ${failures.join('\n  ')}`);
    made = assemble(run, { carried: carried!, planned, images, okCharts, okFiles: files as FetchedFile[], baseInventory });
  } catch (err) {
    // (the layers still downloading are stopped, or the client's close would wait for them)
    layers?.stop();
    await Promise.allSettled(layers?.downloads.values() ?? []);
    progress.stop();
    throw err;
  }
  const { manifest, entries, warnings } = made;
  const out = resolve(opts.output);
  const written = await writeBundleTar(run, out, [...entries.first, ...entries.rest], layers!, hasher);
  const { fetched, cached, resumed } = layers!.counts;
  const resumedText = resumed.blobs ? ` (${resumed.blobs === 1 ? '1 of them' : `${resumed.blobs} of them`} resumed where an interrupted run stopped: ${formatBytes(resumed.bytes)} not downloaded again)` : '';
  progress.log(`wrote ${out} (${formatBytes(written.size)}, sha256 ${written.sha256}); ${plural(layers!.downloads.size, 'layer')}: ${fetched} downloaded${resumedText}, ${cached} from the cache; ${formatBytes(progress.bytes)} over the network`);
  if (written.staleSignature) progress.log(`removed ${out}.sig: it signed the tar this run replaced (sign the new one with bundle sign)`);
  return { file: out, sha256: written.sha256, size: written.size, manifest, warnings };
}

/** bundle.yaml and the tar's entries, from what was fetched (a delta leaves out what its base holds). */
function assemble(
  run: Run,
  got: { carried: NonNullable<Awaited<ReturnType<typeof carriedImages>>>; planned: PlannedImages; images: PulledImage[]; okCharts: FetchedChart[]; okFiles: FetchedFile[]; baseInventory: BaseInventory | undefined },
) {
  const { carried, planned, images, okCharts, okFiles, baseInventory } = got;
  const { progress } = run;
  const { chartImages, sources } = carried;
  const warnings = [...carried.warnings, ...planned.guessMisses];
  const pulled = new Set(images.map((i) => i.name));
  for (const [from, to] of planned.renamed) sources.set(to, sources.get(from) ?? []);
  for (const [c, refs] of chartImages) chartImages.set(c, refs.map((r) => planned.renamed.get(r) ?? r).filter((r) => pulled.has(r)));
  for (const w of warnings) progress.log(`warning: ${w}`);
  const delta = baseInventory ? selectDelta(baseInventory, deltaItems(images, okCharts, okFiles)) : undefined;
  if (delta) progress.log(`delta against ${delta.base.name} ${delta.base.version} (${delta.base.manifestDigest}): leaves out ${plural(delta.blobs.size, 'layer')}, ${plural(delta.base.omitted.charts.length, 'chart')}, ${plural(delta.base.omitted.files.length, 'file')} (${formatBytes(delta.savedBytes)})`);
  const manifest = buildManifest(run.loaded.spec, run.platforms, images, okCharts, okFiles, chartImages, warnings, sources, delta?.base);
  return { manifest, entries: layoutEntries(manifest, images, okCharts, okFiles, run.mtime, delta), warnings };
}

/** The spec's files, each into the store (a failure is named in run.failures). */
function fetchFiles(run: Run): Promise<(FetchedFile | undefined)[]> {
  // A file whose server says its size is in the progress total from its first answer on.
  const fileProgress = { onLength: (n: number) => run.progress.expectBytes(n), onBytes: (n: number, announced: boolean) => run.progress.addBytes(n, announced) };
  const p = Promise.all(
    run.loaded.spec.files.map((f) =>
      run.itemLimit(() => inFlight(`fetching file ${f.name} (${f.url})`, () => fetchFile(f, run.http, run.store, fileProgress, run.opts.signal))).then((r) => {
        run.progress.item('files', `file ${r.name} ${r.digest}`);
        return r;
      }, run.fail),
    ),
  );
  p.catch(() => undefined); // awaited later; no unhandled rejection meanwhile
  return p;
}

interface PlannedImages {
  images: PlannedImage[];
  /** warnings about guessed tags, in the list's order */
  guessMisses: string[];
  renamed: Map<string, string>;
  /** the names (after renaming) of the images whose tag was guessed */
  guessed: Set<string>;
}

/** Every image's manifests; a guessed tag (values walk, no helm) that the registry lacks is a warning, not a failure. */
async function planImages(run: Run, list: Awaited<ReturnType<typeof carriedImages>>['images'], ctx: PullContext): Promise<PlannedImages> {
  // (in the list's order, whichever answer comes first: bundle.yaml holds them)
  const misses: string[] = new Array(list.length);
  const renamed = new Map<string, string>();
  const guessed = new Set<string>();
  const plans = await Promise.all(
    list.map((img, i) =>
      run
        .itemLimit(() =>
          inFlight(`fetching image ${img.ref}`, async () => {
            if (!img.guessed) return planImage(img.reference, img.ref, ctx);
            const g = await planGuessed(img.reference, img.ref, (r, name) => planImage(r, name, ctx));
            if (g.warning) misses[i] = g.warning;
            if (g.name !== img.ref) renamed.set(img.ref, g.name);
            guessed.add(g.name);
            return g.plan;
          }),
        )
        .catch(run.fail),
    ),
  );
  return { images: plans.filter((p): p is PlannedImage => p !== undefined), guessMisses: misses.filter((m) => m !== undefined), renamed, guessed };
}

/**
 * Every image's configs (their platforms judged), while the layers download. An image whose
 * tag was guessed and that fails here (a single-platform image of another platform) is left
 * out with a warning, as a guessed tag the registry lacks is; any other failure fails the run.
 */
async function finishImages(run: Run, planned: PlannedImages, ctx: PullContext): Promise<PulledImage[]> {
  // (in the images' order, whichever answer comes first: bundle.yaml holds them)
  const misses: string[] = new Array(planned.images.length);
  const done = await Promise.all(
    planned.images.map((p, n) =>
      run.itemLimit(() => inFlight(`fetching image ${p.name}`, () => finishImage(p, ctx))).then(
        (i) => {
          run.progress.item('images', `image ${i.name} ${i.root.digest} (${i.platforms.join(', ') || 'no platform'}; ${i.blobs.size} blobs, ${formatBytes([...i.blobs.values()].reduce((x, y) => x + y, 0))})`);
          return i;
        },
        (err: unknown) => {
          if (!planned.guessed.has(p.name)) return run.fail(err);
          misses[n] = `${p.name}: tag guessed from the chart's appVersion (no helm): ${errorMessage(err)}; not carried; helm gives the exact tag`;
          return undefined;
        },
      ),
    ),
  );
  planned.guessMisses.push(...misses.filter((m) => m !== undefined));
  return done.filter((i): i is PulledImage => i !== undefined);
}

/** The tar from the verified layers; when it fails, why (a download's failure before the writer's). */
async function writeBundleTar(run: Run, out: string, entries: Parameters<typeof writeTar>[1], layers: LayerDownloads, hasher: FollowHash): Promise<Awaited<ReturnType<typeof writeTar>>> {
  const { opts, progress } = run;
  try {
    return await writeTar(out, entries, run.store, run.mtime, layers, Math.min(run.concurrency, 3), hasher);
  } catch (err) {
    layers.stop();
    const settled = await Promise.allSettled(layers.downloads.values());
    progress.stop();
    if (opts.signal?.aborted) throw interrupted(opts.signal, run.store);
    // (downloads stopped because another one failed are not reasons)
    const reasons = [...new Set(settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected' && !isAbort(r.reason)).map((r) => errorMessage(r.reason)))];
    if (reasons.length) throw new OperationError(`bundle not written; ${plural(reasons.length, 'blob')} could not be fetched:\n  ${reasons.join('\n  ')}`);
    throw err;
  }
}

function interrupted(signal: AbortSignal, store: ContentStore): InterruptedError {
  const name = (typeof signal.reason === 'string' ? signal.reason : 'SIGINT') as NodeJS.Signals;
  return new InterruptedError(name, `bundle not written: stopped by ${name}; what was downloaded is kept in the cache (${store.root}), and the next run resumes from it`);
}
