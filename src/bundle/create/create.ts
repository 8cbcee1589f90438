// bundle create: spec -> content store (cache) -> one reproducible tar.
//
// 1. load the spec (bad input: exit 2 before any download); local charts packaged
// 2. phase 1, in parallel: every image's manifests and configs, the charts,
//    the files (all small but files); any failure: each named, exit 1, no tar
// 3. the manifest and the tar layout follow (every size is known now)
// 4. phase 2: each layer downloads once (--concurrency across all images)
//    into the content store, which verifies it and renames it to its digest
//    (store.ts); as each is verified it is copied into its tar entry at its
//    precomputed offset (create-tar.ts), while the rest download. Blobs from
//    an earlier run's cache are re-hashed as they are copied. A worker hashes
//    the finished prefix of the tar for FILE.tar.sha256. The first failure
//    stops the rest (each keeps what it has in the cache). Temp names,
//    renamed at the end.
import { selectDelta, type DeltaItems, type DeltaSelection } from '../delta/select.ts';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { stringify } from 'yaml';
import { errorMessage, InterruptedError, OperationError } from '../../errors.ts';
import { inFlight } from '../../in-flight.ts';
import { API_VERSION } from '../../schema/common.ts';
import type { BundleManifest } from '../../schema/bundle-manifest.ts';
import { TOOL_NAME, TOOL_VERSION } from '../../version.ts';
import type { FetchedChart } from '../charts/fetch.ts';
import { helmIndexYaml } from '../charts/index-yaml.ts';
import { fetchSpecCharts } from '../charts/fetch.ts';
import type { ImageSource } from '../charts/discover.ts';
import { planGuessed } from '../charts/guessed.ts';
import { findHelm } from '../charts/render.ts';
import { carriedImages } from '../charts/spec-images.ts';
import { fetchFile, type FetchedFile } from './file-fetch.ts';
import { followHash } from '../store/follow-hash.ts';
import { tempTarName, writeTar, type TarEntry } from './tar.ts';
import { HttpSource } from './http-source.ts';
import { fetchImageBlob, planImage, type PulledImage } from './image-pull.ts';
import { formatBytes, Progress, type ProgressSink } from './progress.ts';
import { plural } from '../inspect/format.ts';
import { RegistryClient } from '../../oci/registry/client.ts';
import { loadBundleSpec } from '../spec/spec.ts';
import { ContentStore } from '../store/store.ts';

export const REF_NAME = 'org.opencontainers.image.ref.name';
/** The largest byte range one layer request asks for (bundle create --piece-size). */
export const PIECE_BYTES = 8 << 20;

export interface CreateOptions {
  specFile: string;
  output: string;
  /** overrides the spec's platforms */
  platforms?: string[];
  cacheDir?: string;
  concurrency?: number;
  /** the largest byte range a layer request asks for (default PIECE_BYTES); 0: one stream per layer */
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


const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export async function createBundle(opts: CreateOptions): Promise<CreateResult> {
  const env = opts.env ?? process.env;
  const loaded = loadBundleSpec(opts.specFile, env);
  const { spec } = loaded;
  const platforms = opts.platforms?.length ? opts.platforms : spec.platforms;
  const mtime = bundleMtime(env);
  const concurrency = opts.concurrency ?? 8;
  const store = new ContentStore(resolve(opts.cacheDir ?? defaultCacheDir(env)));
  // Read before any download: a bad base is an input error at once.
  const baseInventory = opts.base ? await (await import('../delta/base-inventory.ts')).readBaseInventory(opts.base) : undefined;
  const progress = new Progress(opts.stderr);
  // The tar-hash worker starts now: its start-up overlaps the manifest round trips.
  const hasher = followHash(tempTarName(resolve(opts.output)));
  const client = new RegistryClient({
    registries: loaded.registries,
    env,
    connections: concurrency,
    onRetry: (what, attempt, reason) => progress.log(`retry ${attempt}: ${what} (${reason})`),
  });
  const http = new HttpSource(client.transport);
  const itemLimit = pLimit(Math.max(concurrency, 4));
  const onBytes = (n: number) => progress.addBytes(n);
  progress.total('images', loaded.images.length);
  progress.total('charts', loaded.charts.length);
  progress.total('files', spec.files.length);
  progress.log(`bundle ${spec.metadata.name} ${spec.metadata.version}: ${plural(loaded.images.length, 'listed image')}, ${plural(loaded.charts.length, 'chart')}, ${plural(spec.files.length, 'file')}; platforms ${platforms.join(', ')}; cache ${store.root}`);

  const failures: string[] = [];
  const fail = (err: unknown) => {
    failures.push(errorMessage(err));
    return undefined;
  };
  try {
    // The files start now; the charts come first among the rest: the images they deploy
    // (rendered with helm, else walked from their values) join the spec's images and lists
    // in phase 1's list (charts/spec-images.ts).
    const filesDone = Promise.all(
      spec.files.map((f) =>
        itemLimit(() => inFlight(`fetching file ${f.name} (${f.url})`, () => fetchFile(f, http, store, onBytes, opts.signal))).then((r) => {
          progress.item('files', `file ${r.name} ${r.digest}`);
          return r;
        }, fail),
      ),
    );
    filesDone.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    const chartCtx = { client, http, store, mtime, specFile: opts.specFile, onBytes };
    const fetchedCharts = await fetchSpecCharts(loaded.charts, chartCtx, {
      limit: (c, fn) => itemLimit(() => inFlight(`fetching chart ${c.name}`, fn)),
      onChart: (c, r) => progress.item('charts', `chart ${r.metadata.name} ${r.metadata.version} ${r.digest}${c.dir ? ` (packaged from ${c.path})` : ''}`),
      failures,
    });
    const okCharts = fetchedCharts as FetchedChart[];
    const carried = failures.length ? undefined : await carriedImages(loaded, okCharts, (d) => store.path(d), findHelm(opts.helm, env));
    if (carried) progress.total('images', carried.images.length);
    // A guessed tag (values walk, no helm) that the registry lacks is a warning, not a failure.
    const guessMisses: string[] = [];
    const renamed = new Map<string, string>();
    // Phase 1: manifests and configs of every image (and the files, all small but files).
    const pullCtx = { client, store, platforms, onBytes, signal: opts.signal };
    const [images, files] = await Promise.all([
      Promise.all(
        (carried?.images ?? []).map((img) =>
          itemLimit(() =>
            inFlight(`fetching image ${img.ref}`, async () => {
              if (!img.guessed) return planImage(img.reference, img.ref, pullCtx);
              const g = await planGuessed(img.reference, img.ref, (r, name) => planImage(r, name, pullCtx));
              if (g.warning) guessMisses.push(g.warning);
              if (g.name !== img.ref) renamed.set(img.ref, g.name);
              return g.plan;
            }),
          ).then((p) => {
            if (p) progress.item('images', `image ${p.name} ${p.root.digest} (${p.platforms.join(', ') || 'no platform'}; ${p.blobs.size} blobs, ${formatBytes([...p.blobs.values()].reduce((x, y) => x + y, 0))})`);
            return p;
          }, fail),
        ),
      ),
      filesDone,
    ]);
    // (interrupted: the files' downloads were aborted, which is not their failure)
    if (opts.signal?.aborted) {
      progress.stop();
      throw interrupted(opts.signal, store);
    }
    if (failures.length) {
      progress.stop();
      throw new OperationError(`bundle not written; ${failures.length} item(s) could not be fetched:\n  ${failures.join('\n  ')}`);
    }
    const okImages = images.filter((i): i is PulledImage => i !== undefined);
    const okFiles = files as FetchedFile[];
    const { chartImages, sources } = carried!;
    const warnings = [...carried!.warnings, ...guessMisses];
    const pulled = new Set(okImages.map((i) => i.name));
    for (const [from, to] of renamed) sources.set(to, sources.get(from) ?? []);
    for (const [c, refs] of chartImages) chartImages.set(c, refs.map((r) => renamed.get(r) ?? r).filter((r) => pulled.has(r)));
    for (const w of warnings) progress.log(`warning: ${w}`);

    const delta = baseInventory ? selectDelta(baseInventory, deltaItems(okImages, okCharts, okFiles)) : undefined;
    if (delta) progress.log(`delta against ${delta.base.name} ${delta.base.version} (${delta.base.manifestDigest}): leaves out ${plural(delta.blobs.size, 'layer')}, ${plural(delta.base.omitted.charts.length, 'chart')}, ${plural(delta.base.omitted.files.length, 'file')} (${formatBytes(delta.savedBytes)})`);
    const manifest = buildManifest(loaded.spec, platforms, okImages, okCharts, okFiles, chartImages, warnings, sources, delta?.base);
    const entries = layoutEntries(manifest, okImages, okCharts, okFiles, mtime, delta);

    // Phase 2: every layer once (shared layers too), into the store, where it is
    // verified; the tar is built from the verified blobs while the rest download.
    const layers = new Map<string, { image: PulledImage; d: (typeof okImages)[number]['layers'][number] }>();
    for (const image of okImages) for (const d of image.layers) if (!layers.has(d.digest) && !delta?.blobs.has(d.digest)) layers.set(d.digest, { image, d });
    let fetched = 0;
    let cached = 0;
    const resumed = { blobs: 0, bytes: 0 };
    // The first failure stops the other downloads (each keeps what it has in the cache).
    const failed = new AbortController();
    // Every layer request takes one of `concurrency` slots; a layer over the piece size comes in
    // byte ranges where its registry honours them, so large layers do not end the run alone.
    const pieceBytes = opts.pieceBytes ?? PIECE_BYTES;
    const requests = { limit: pLimit(concurrency), pieceBytes: pieceBytes || Infinity };
    const blobCtx = { ...pullCtx, requests, signal: opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal };
    // More layers open than slots, so the slots always have pieces waiting, taken in tar order.
    const layerLimit = pLimit(2 * concurrency);
    const downloads = new Map<string, Promise<'fetched' | 'cached'>>();
    // The bytes still to come: the blobs the cache lacks (a resumed one takes its partial off).
    let expected = progress.bytes;
    for (const { d } of layers.values()) if (store.sizeOf(d.digest) !== d.size) expected += d.size;
    progress.expectBytes(expected);
    for (const digest of [...layers.keys()].sort()) {
      const { image, d } = layers.get(digest)!;
      const p = layerLimit(() => {
        blobCtx.signal.throwIfAborted();
        return inFlight(`fetching image ${image.name} blob ${digest}`, () => fetchImageBlob(blobCtx, image.source, image.name, d));
      }).then((r) => {
        if (r.how === 'cached') cached++;
        else fetched++;
        if (r.resumedFrom > 0) {
          resumed.blobs++;
          resumed.bytes += r.resumedFrom;
          progress.expectBytes(-r.resumedFrom);
        }
        progress.count('blobs');
        return r.how;
      });
      p.catch(() => failed.abort(stoppedByFailure())); // observed below too
      downloads.set(digest, p);
    }
    progress.total('blobs', downloads.size);
    const out = resolve(opts.output);
    let written: Awaited<ReturnType<typeof writeTar>>;
    try {
      written = await writeTar(out, [...entries.first, ...entries.rest], store, mtime, downloads, Math.min(concurrency, 3), hasher);
    } catch (err) {
      failed.abort(stoppedByFailure());
      const settled = await Promise.allSettled(downloads.values());
      if (opts.signal?.aborted) {
        progress.stop();
        throw interrupted(opts.signal, store);
      }
      // (downloads stopped because another one failed are not reasons)
      const reasons = [...new Set(settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected' && !isAbort(r.reason)).map((r) => errorMessage(r.reason)))];
      progress.stop();
      if (reasons.length) throw new OperationError(`bundle not written; ${plural(reasons.length, 'blob')} could not be fetched:\n  ${reasons.join('\n  ')}`);
      throw err;
    }
    const resumedText = resumed.blobs ? ` (${resumed.blobs === 1 ? '1 of them' : `${resumed.blobs} of them`} resumed where an interrupted run stopped: ${formatBytes(resumed.bytes)} not downloaded again)` : '';
    progress.log(`wrote ${out} (${formatBytes(written.size)}, sha256 ${written.sha256}); ${plural(layers.size, 'layer')}: ${fetched} downloaded${resumedText}, ${cached} from the cache; ${formatBytes(progress.bytes)} over the network`);
    if (written.staleSignature) progress.log(`removed ${out}.sig: it signed the tar this run replaced (sign the new one with bundle sign)`);
    return { file: out, sha256: written.sha256, size: written.size, manifest, warnings };
  } finally {
    hasher.cancel();
    progress.stop();
    await client.close();
  }
}

function buildManifest(
  spec: ReturnType<typeof loadBundleSpec>['spec'],
  platforms: string[],
  images: PulledImage[],
  charts: FetchedChart[],
  files: FetchedFile[],
  chartImages: Map<FetchedChart, string[]>,
  warnings: string[],
  sources: Map<string, ImageSource[]>,
  base: BundleManifest['base'],
): BundleManifest {
  const allBlobs = new Map<string, number>();
  for (const i of images) for (const [d, s] of i.blobs) allBlobs.set(d, s);
  const byName = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  return {
    apiVersion: API_VERSION,
    kind: 'BundleManifest',
    metadata: { name: spec.metadata.name, version: spec.metadata.version, createdBy: `${TOOL_NAME} ${TOOL_VERSION}` },
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    platforms,
    charts: [...charts].sort(byName((c) => c.fileName)).map((c) => ({
      name: c.metadata.name,
      version: c.metadata.version,
      ...(c.metadata.appVersion ? { appVersion: c.metadata.appVersion } : {}),
      file: `charts/${c.fileName}`,
      digest: c.digest,
      size: c.size,
      source: c.source,
      images: chartImages.get(c) ?? [],
    })),
    images: [...images].sort(byName((i) => i.name)).map((i) => {
      const at = i.name.lastIndexOf('@');
      const noDigest = at >= 0 ? i.name.slice(0, at) : i.name;
      const colon = noDigest.lastIndexOf(':');
      const hasTag = colon > noDigest.lastIndexOf('/');
      return {
        ref: i.name,
        repository: hasTag ? noDigest.slice(0, colon) : noDigest,
        ...(hasTag ? { tag: noDigest.slice(colon + 1) } : {}),
        digest: i.root.digest,
        ...(i.sourceDigest ? { sourceDigest: i.sourceDigest } : {}),
        mediaType: i.root.mediaType,
        platforms: i.platforms,
        size: [...i.blobs.values()].reduce((a, b) => a + b, 0),
        sources: sources.get(i.name) ?? [],
        layers: [...new Set(i.layers.map((l) => l.digest))],
      };
    }),
    files: [...files].sort(byName((f) => f.name)).map((f) => ({ name: f.name, file: `files/${f.name}`, digest: f.digest, size: f.size, url: f.url })),
    blobs: { count: allBlobs.size, size: [...allBlobs.values()].reduce((a, b) => a + b, 0) },
    ...(base ? { base } : {}),
    warnings,
    spec: { ...spec },
  };
}

function layoutEntries(manifest: BundleManifest, images: PulledImage[], charts: FetchedChart[], files: FetchedFile[], mtime: number, delta?: DeltaSelection): { first: TarEntry[]; rest: TarEntry[] } {
  const text = (path: string, s: string): TarEntry => {
    const data = Buffer.from(s);
    return { path, size: data.length, sha256: sha256(data), data };
  };
  const chartEntries: TarEntry[] = charts.map((c) => ({ path: `charts/${c.fileName}`, size: c.size, sha256: c.digest.slice(7), blob: c.digest }));
  const created = new Date(mtime * 1000).toISOString().replace(/\.000Z$/, 'Z');
  if (charts.length) chartEntries.push(text('charts/index.yaml', helmIndexYaml(charts.map((c) => ({ metadata: c.metadata, fileName: c.fileName, digest: c.digest })), created)));

  const blobs = new Map<string, number>();
  for (const i of images) for (const [d, s] of i.blobs) blobs.set(d, s);
  const imageEntries: TarEntry[] = [...blobs].map(([d, s]) => ({ path: `images/blobs/sha256/${d.slice(7)}`, size: s, sha256: d.slice(7), blob: d }));
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [...images]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((i) => ({ mediaType: i.root.mediaType, digest: i.root.digest, size: i.root.size, ...(i.root.platform ? { platform: i.root.platform } : {}), annotations: { [REF_NAME]: i.name } })),
  };
  imageEntries.push(text('images/index.json', JSON.stringify(index, null, 2) + '\n'));
  imageEntries.push(text('images/oci-layout', '{"imageLayoutVersion":"1.0.0"}\n'));

  const fileEntries: TarEntry[] = files.map((f) => ({ path: `files/${f.name}`, size: f.size, sha256: f.digest.slice(7), blob: f.digest, mode: f.mode }));
  const sorted = (e: TarEntry[]) => e.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // A delta carries only what its base lacks (bundle.yaml still describes the whole release).
  const carried = (e: TarEntry) => !delta || !(delta.paths.has(e.path) || (e.blob !== undefined && e.path.startsWith('images/') && delta.blobs.has(e.blob)));
  const rest = [...sorted(chartEntries), ...sorted(imageEntries), ...sorted(fileEntries)].filter(carried);
  const manifestEntry = text('bundle.yaml', stringify(manifest, { lineWidth: 0, aliasDuplicateObjects: false }));
  // bundle.yaml is summed too (every file but SHA256SUMS itself): without the sidecar, a
  // changed byte in what verify does not cross-check (spec echo, metadata) would otherwise pass.
  const sums = [manifestEntry, ...rest].sort((a, b) => (a.path < b.path ? -1 : 1)).map((e) => `${e.sha256}  ${e.path}\n`).join('');
  return { first: [manifestEntry, text('SHA256SUMS', sums)], rest };
}

function deltaItems(images: PulledImage[], charts: FetchedChart[], files: FetchedFile[]): DeltaItems {
  return {
    layers: images.flatMap((i) => i.layers.map((l) => ({ digest: l.digest, size: l.size }))),
    charts: charts.map((c) => ({ path: `charts/${c.fileName}`, digest: c.digest, size: c.size })),
    files: files.map((f) => ({ path: `files/${f.name}`, digest: f.digest, size: f.size })),
  };
}

/** The reason the other downloads stop when one fails (an abort, not a failure of theirs). */
function stoppedByFailure(): Error {
  return Object.assign(new Error('stopped: another download failed'), { name: 'AbortError' });
}

/** An error from a request stopped on purpose (a signal, or another download's failure). */
function isAbort(err: unknown): boolean {
  for (let e: unknown = err, d = 0; e && d < 5; e = (e as { cause?: unknown }).cause, d++) {
    const name = (e as { name?: unknown }).name;
    const code = (e as { code?: unknown }).code;
    if (name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return true;
  }
  return false;
}

function interrupted(signal: AbortSignal, store: ContentStore): InterruptedError {
  const name = (typeof signal.reason === 'string' ? signal.reason : 'SIGINT') as NodeJS.Signals;
  return new InterruptedError(name, `bundle not written: stopped by ${name}; what was downloaded is kept in the cache (${store.root}), and the next run resumes from it`);
}
