// One image of a bundle: planImage reads its manifest (or index, and the
// manifests it picks by platform) into the content store and lists its
// layers; finishImage fetches its configs and judges a single-platform
// image's platform. The layers are fetched by the caller (layers.ts), all
// images' together, from the moment their manifests are read, so shared
// layers download once and the configs' round trips overlap them.
import { readFile } from 'node:fs/promises';
import { OperationError } from '../../errors.ts';
import { isIndex, MEDIA, type RegistryClient } from '../../oci/registry/client.ts';
import type { ImageReference } from '../../oci/reference.ts';
import { platformMatches, platformString, selectPlatforms, wantsAll, type Platform } from './platforms.ts';
import type { ContentStore } from '../store/store.ts';
import type { RangeSource } from '../store/ranged-fetch.ts';
import type { SpanFeed } from './span-feed.ts';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface PulledImage {
  name: string;
  /** what images/index.json points at for this name */
  root: Descriptor;
  /** upstream index digest when platforms were picked out of it */
  sourceDigest?: string;
  platforms: string[];
  /** every blob this image needs (manifests included), digest -> size */
  blobs: Map<string, number>;
  /** blobs still to be fetched into the store (layers), with where to get them */
  layers: Descriptor[];
  source: ImageReference;
}

interface ManifestDoc {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

export interface PullContext {
  client: RegistryClient;
  store: ContentStore;
  platforms: readonly string[];
  onBytes?: (n: number) => void;
  /** aborts blob downloads (bundle create interrupted) */
  signal?: AbortSignal;
  /** the request slots all layer downloads share; with them, a large layer downloads in pieces (store/ranged-fetch.ts) */
  requests?: Pick<RangeSource, 'limit' | 'pieceBytes'>;
}

function parse(bytes: Buffer, what: string): ManifestDoc {
  try {
    return JSON.parse(bytes.toString('utf8')) as ManifestDoc;
  } catch {
    throw new OperationError(`${what}: manifest is not JSON`);
  }
}

/**
 * Downloads one blob of `ref` into the store (resuming a partial one). With
 * request slots, it comes in byte ranges unless its registry has answered a
 * range with the whole blob (then as one stream). `spans` hears of the bytes
 * as they are written (for the tar); `tail`: where its pieces get smaller.
 */
export function fetchImageBlob(ctx: PullContext, ref: ImageReference, name: string, d: Descriptor, more: { spans?: SpanFeed; tail?: RangeSource['tail'] } = {}) {
  const { spans, tail } = more;
  const { client } = ctx;
  const get = (start: number, signal?: AbortSignal, end?: number) => client.getBlob(ref.registry, ref.repository, d.digest, start, signal, end);
  // A piece that is the whole blob is a plain GET: a server may answer a range that covers
  // everything with a 200, which would wrongly mark the registry as one that ignores ranges.
  const piece = (start: number, end: number, signal: AbortSignal) => get(start, signal, start === 0 && end === d.size ? undefined : end);
  const ranges = ctx.requests && client.honoursRanges(ref.registry) !== false ? { ...ctx.requests, open: piece, ...(tail ? { tail } : {}) } : undefined;
  return ctx.store.fetch(d.digest, d.size, (offset) => get(offset, ctx.signal), {
    what: `image ${name}: blob ${d.digest}`,
    ...(ctx.onBytes ? { onBytes: ctx.onBytes } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(ranges ? { ranges } : ctx.requests ? { limit: ctx.requests.limit } : {}),
    ...(spans ? { onSpan: spans.add, onRestart: spans.restart } : {}),
  });
}

/** An image whose manifests are read: its layers are known, its configs not yet fetched (finishImage). */
export interface PlannedImage extends PulledImage {
  configs: Descriptor[];
  /** the config of a single-platform image: its platform is judged from it */
  single?: Descriptor;
}

/** Reads an image's manifest (or index and the manifests picked from it) into the store. */
export async function planImage(ref: ImageReference, name: string, ctx: PullContext): Promise<PlannedImage> {
  const { client, store } = ctx;
  const blobs = new Map<string, number>();
  const layers: Descriptor[] = [];
  const configs = new Map<string, Descriptor>();

  const manifestInto = async (reference: string): Promise<{ doc: ManifestDoc; desc: Descriptor }> => {
    const m = await client.getManifest(ref, reference);
    await store.putBuffer(m.bytes, m.digest, `image ${name}: manifest`);
    blobs.set(m.digest, m.bytes.length);
    return { doc: parse(m.bytes, `image ${name}`), desc: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length } };
  };
  const planManifest = (desc: Descriptor, doc: ManifestDoc): void => {
    if (!doc.config || !Array.isArray(doc.layers)) throw new OperationError(`image ${name}: manifest ${desc.digest} has no config or layers (media type ${desc.mediaType})`);
    blobs.set(doc.config.digest, doc.config.size);
    configs.set(doc.config.digest, doc.config);
    for (const l of doc.layers) {
      if (typeof l.digest !== 'string' || typeof l.size !== 'number') throw new OperationError(`image ${name}: manifest ${desc.digest} has a layer without digest or size`);
      blobs.set(l.digest, l.size);
      layers.push({ mediaType: l.mediaType, digest: l.digest, size: l.size });
    }
  };
  const planned = (p: Omit<PlannedImage, 'blobs' | 'layers' | 'source' | 'name' | 'configs'>): PlannedImage => ({ name, blobs, layers, source: ref, configs: [...configs.values()], ...p });

  const top = await manifestInto(ref.digest ?? ref.tag ?? 'latest');
  if (isIndex(top.desc.mediaType)) {
    const entries = top.doc.manifests ?? [];
    const keep = selectPlatforms(entries, ctx.platforms);
    if (keep.length === 0) {
      const have = entries.map((e) => (e.platform ? platformString(e.platform) : '?')).filter((p) => !p.startsWith('unknown')).join(', ');
      throw new OperationError(`image ${name}: no manifest for ${ctx.platforms.join(', ')} (it has ${have || 'none'})`);
    }
    for (const e of keep) {
      const child = await manifestInto(e.digest);
      if (isIndex(child.desc.mediaType)) throw new OperationError(`image ${name}: nested index ${e.digest} is not supported`);
      planManifest(child.desc, child.doc);
    }
    const platforms = keep.map((e) => e.platform).filter((p): p is Platform => !!p && p.os !== 'unknown').map(platformString);
    if (wantsAll(ctx.platforms) || keep.length === entries.length) return planned({ root: top.desc, platforms });
    if (keep.length === 1) {
      const only = keep[0]!;
      blobs.delete(top.desc.digest);
      return planned({ root: { mediaType: only.mediaType, digest: only.digest, size: only.size, ...(only.platform ? { platform: only.platform } : {}) }, sourceDigest: top.desc.digest, platforms });
    }
    // Several of several more platforms: a smaller index of our own (its digest is new).
    const index = { schemaVersion: 2, mediaType: top.desc.mediaType === MEDIA.dockerList ? MEDIA.dockerList : MEDIA.ociIndex, manifests: keep };
    const bytes = Buffer.from(JSON.stringify(index));
    const digest = await store.putBuffer(bytes);
    blobs.delete(top.desc.digest);
    blobs.set(digest, bytes.length);
    return planned({ root: { mediaType: index.mediaType, digest, size: bytes.length }, sourceDigest: top.desc.digest, platforms });
  }

  if (top.desc.mediaType !== MEDIA.ociManifest && top.desc.mediaType !== MEDIA.dockerManifest) {
    throw new OperationError(`image ${name}: unsupported manifest media type ${top.desc.mediaType || '(none)'} (Docker schema 1 is not supported)`);
  }
  if (!top.doc.config) throw new OperationError(`image ${name}: manifest has no config`);
  planManifest(top.desc, top.doc);
  return planned({ root: top.desc, platforms: [], single: top.doc.config });
}

/** Fetches an image's configs; a single-platform image's platform is read from its config and judged. */
export async function finishImage(p: PlannedImage, ctx: PullContext): Promise<PulledImage> {
  await Promise.all(p.configs.map((d) => fetchImageBlob(ctx, p.source, p.name, d)));
  const { configs: _configs, single, ...image } = p;
  if (!single) return image;
  let platform: Platform | undefined;
  try {
    const cfg = JSON.parse(await readFile(ctx.store.path(single.digest), 'utf8')) as { os?: string; architecture?: string; variant?: string };
    if (cfg.os && cfg.architecture) platform = { os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) };
  } catch {
    platform = undefined; // not an image config (e.g. an artifact): no platform to judge
  }
  if (platform && !wantsAll(ctx.platforms) && !ctx.platforms.some((w) => platformMatches(platform, w))) {
    throw new OperationError(`image ${p.name}: it is a single-platform ${platformString(platform)} image, the bundle wants ${ctx.platforms.join(', ')}`);
  }
  return { ...image, root: { ...image.root, ...(platform ? { platform } : {}) }, platforms: platform ? [platformString(platform)] : [] };
}
