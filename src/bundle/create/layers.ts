// bundle create's layer downloads: every layer once (shared layers too), into
// the content store, which verifies each and renames it to its digest. They
// start as soon as the images' manifests are read, in tar order (by digest),
// while the configs are still fetched. Every layer request takes one of
// `concurrency` slots; a layer over the piece size comes in byte ranges
// (store/ranged-fetch.ts). The first failure stops the others; each keeps
// what it has in the cache.
import pLimit from 'p-limit';
import { inFlight } from '../../in-flight.ts';
import { fetchImageBlob, type Descriptor, type PlannedImage, type PullContext } from './image-pull.ts';
import type { Progress } from './progress.ts';
import { SpanFeed } from './span-feed.ts';

/** The largest byte range one layer request asks for (bundle create --piece-size). */
export const PIECE_BYTES = 16 << 20;
/** The last slots' worth of the queue comes in pieces this many times smaller. */
const TAIL_DIVISOR = 4;

/**
 * Where each layer's pieces get smaller: in the last `slots` × `piece` bytes of the queue
 * (the layers in tar order, each with the bytes it lacks). When the queue runs dry the pieces still in flight are then
 * small and end close together, rather than a few large ones running alone at one
 * connection's rate while the others' bandwidth goes unused.
 */
function tailPieces(queue: { digest: string; size: number; missing: number }[], slots: number, piece: number): Map<string, { from: number; bytes: number }> {
  const out = new Map<string, { from: number; bytes: number }>();
  if (!Number.isFinite(piece)) return out;
  const tailBytes = slots * piece;
  let after = 0;
  for (const { digest, size, missing } of [...queue].reverse()) {
    if (after >= tailBytes) break;
    out.set(digest, { from: Math.max(0, size - (tailBytes - after)), bytes: Math.min(piece, Math.max(1 << 20, Math.floor(piece / TAIL_DIVISOR))) });
    after += missing;
  }
  return out;
}

export interface LayerDownloads {
  /** digest -> when it is in the store ('fetched' now, or 'cached' from before) */
  downloads: Map<string, Promise<'fetched' | 'cached'>>;
  /** digest -> the spans of it written so far (the tar copies them in early) */
  spans: Map<string, SpanFeed>;
  /** layers downloaded, from the cache, and resumed (with the bytes not downloaded again) */
  counts: { fetched: number; cached: number; resumed: { blobs: number; bytes: number } };
  /** stops the downloads still running (a failure elsewhere) */
  stop(): void;
}

export interface LayerOptions {
  concurrency: number;
  /** 0: no pieces (one stream per layer; one per gap a ranged run left in a partial) */
  pieceBytes?: number;
  /** layers left out (a delta's base holds them) */
  skip?: (digest: string) => boolean;
  progress: Progress;
}

/** Starts the downloads of the layers of `images`. */
export async function startLayers(images: PlannedImage[], ctx: PullContext, opts: LayerOptions): Promise<LayerDownloads> {
  const { progress } = opts;
  const layers = new Map<string, { image: PlannedImage; d: Descriptor }>();
  for (const image of images) for (const d of image.layers) if (!layers.has(d.digest) && !opts.skip?.(d.digest)) layers.set(d.digest, { image, d });
  const counts = { fetched: 0, cached: 0, resumed: { blobs: 0, bytes: 0 } };
  const failed = new AbortController();
  const pieceBytes = opts.pieceBytes ?? PIECE_BYTES;
  const blobCtx: PullContext = {
    ...ctx,
    requests: { limit: pLimit(opts.concurrency), pieceBytes: pieceBytes || Infinity },
    signal: ctx.signal ? AbortSignal.any([ctx.signal, failed.signal]) : failed.signal,
  };
  // More layers open than slots, so the slots always have pieces waiting, taken in tar order.
  const layerLimit = pLimit(2 * opts.concurrency);
  // The bytes still to come: the layers the cache lacks, less what interrupted runs left of them
  // (corrected when a layer is in: a partial that turns out unusable is fetched again).
  const missing = [...layers.values()].filter(({ d }) => ctx.store.sizeOf(d.digest) !== d.size);
  const held = new Map(await Promise.all(missing.map(async ({ d }) => [d.digest, await ctx.store.resumableBytes(d.digest, d.size)] as const)));
  progress.expectBytes(missing.reduce((n, { d }) => n + d.size - held.get(d.digest)!, 0));
  const downloads = new Map<string, Promise<'fetched' | 'cached'>>();
  const spans = new Map<string, SpanFeed>();
  const order = [...layers.keys()].sort();
  const tails = tailPieces(order.filter((g) => held.has(g)).map((g) => ({ digest: g, size: layers.get(g)!.d.size, missing: layers.get(g)!.d.size - held.get(g)! })), opts.concurrency, blobCtx.requests!.pieceBytes);
  for (const digest of order) {
    const { image, d } = layers.get(digest)!;
    const feed = new SpanFeed();
    spans.set(digest, feed);
    const p = layerLimit(() => {
      blobCtx.signal!.throwIfAborted();
      return inFlight(`fetching image ${image.name} blob ${digest}`, () => fetchImageBlob(blobCtx, image.source, image.name, d, { spans: feed, ...(tails.has(digest) ? { tail: tails.get(digest)! } : {}) }));
    }).then((r) => {
      if (r.how === 'cached') counts.cached++;
      else counts.fetched++;
      if (r.resumedFrom > 0) {
        counts.resumed.blobs++;
        counts.resumed.bytes += r.resumedFrom;
      }
      // (a missing layer that another run sharing the cache stored meanwhile comes from the cache)
      const h = held.get(digest);
      if (h !== undefined) progress.expectBytes(r.how === 'cached' ? h - d.size : h - r.resumedFrom);
      progress.count('blobs');
      return r.how;
    });
    p.catch(() => failed.abort(stoppedByFailure())); // observed by the tar writer too
    downloads.set(digest, p);
  }
  progress.total('blobs', downloads.size);
  return { downloads, spans, counts, stop: () => failed.abort(stoppedByFailure()) };
}

/** The reason the other downloads stop when one fails (an abort, not a failure of theirs). */
function stoppedByFailure(): Error {
  return Object.assign(new Error('stopped: another download failed'), { name: 'AbortError' });
}

/** An error from a request stopped on purpose (a signal, or another download's failure). */
export function isAbort(err: unknown): boolean {
  for (let e: unknown = err, d = 0; e && d < 5; e = (e as { cause?: unknown }).cause, d++) {
    const name = (e as { name?: unknown }).name;
    const code = (e as { code?: unknown }).code;
    if (name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return true;
  }
  return false;
}
