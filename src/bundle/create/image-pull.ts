// Plans one image: fetches its manifest (or index) and configs into the
// content store, selects platforms, and lists the layers still to download.
// The layers themselves are fetched by the caller (create.ts), all images'
// blobs together, so shared blobs download once and the tar can be written
// while they arrive.
import { readFile } from 'node:fs/promises';
import { OperationError } from '../../errors.ts';
import { isIndex, MEDIA, type RegistryClient } from '../../oci/registry/client.ts';
import type { ImageReference } from '../../oci/reference.ts';
import { platformMatches, platformString, selectPlatforms, wantsAll, type Platform } from './platforms.ts';
import type { ContentStore } from '../store/store.ts';

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
  requests?: { limit<T>(fn: () => Promise<T>): Promise<T>; pieceBytes: number };
}

function parse(bytes: Buffer, what: string): ManifestDoc {
  try {
    return JSON.parse(bytes.toString('utf8')) as ManifestDoc;
  } catch {
    throw new OperationError(`${what}: manifest is not JSON`);
  }
}

/**
 * Downloads one blob of `ref` into the store (resuming a partial one). A
 * config is asked for as an explicit byte range: how the registry answers
 * tells whether its layers can come in pieces.
 */
export function fetchImageBlob(ctx: PullContext, ref: ImageReference, name: string, d: Descriptor, probe = false) {
  const { client } = ctx;
  const get = (start: number, signal?: AbortSignal, end?: number) => client.getBlob(ref.registry, ref.repository, d.digest, start, signal, end);
  const ranges =
    ctx.requests && client.honoursRanges(ref.registry) ? { ...ctx.requests, open: (start: number, end: number, signal: AbortSignal) => get(start, signal, end) } : undefined;
  const open = (offset: number) => (probe && d.size > 0 ? get(offset, ctx.signal, d.size) : get(offset, ctx.signal));
  return ctx.store.fetch(d.digest, d.size, open, {
    what: `image ${name}: blob ${d.digest}`,
    ...(ctx.onBytes ? { onBytes: ctx.onBytes } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(ranges ? { ranges } : ctx.requests ? { limit: ctx.requests.limit } : {}),
  });
}

export async function planImage(ref: ImageReference, name: string, ctx: PullContext): Promise<PulledImage> {
  const { client, store } = ctx;
  const blobs = new Map<string, number>();
  const layers: Descriptor[] = [];

  const manifestInto = async (reference: string): Promise<{ doc: ManifestDoc; desc: Descriptor }> => {
    const m = await client.getManifest(ref, reference);
    await store.putBuffer(m.bytes, m.digest, `image ${name}: manifest`);
    blobs.set(m.digest, m.bytes.length);
    return { doc: parse(m.bytes, `image ${name}`), desc: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length } };
  };

  const fetchConfig = async (d: Descriptor): Promise<void> => {
    await fetchImageBlob(ctx, ref, name, d, true);
    blobs.set(d.digest, d.size);
  };
  const planManifest = async (desc: Descriptor, doc: ManifestDoc): Promise<void> => {
    if (!doc.config || !Array.isArray(doc.layers)) throw new OperationError(`image ${name}: manifest ${desc.digest} has no config or layers (media type ${desc.mediaType})`);
    // A single-platform image's config was fetched already, to read its platform.
    if (!blobs.has(doc.config.digest)) await fetchConfig(doc.config);
    for (const l of doc.layers) {
      if (typeof l.digest !== 'string' || typeof l.size !== 'number') throw new OperationError(`image ${name}: manifest ${desc.digest} has a layer without digest or size`);
      blobs.set(l.digest, l.size);
      layers.push({ mediaType: l.mediaType, digest: l.digest, size: l.size });
    }
  };

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
      await planManifest(child.desc, child.doc);
    }
    const platforms = keep.map((e) => e.platform).filter((p): p is Platform => !!p && p.os !== 'unknown').map(platformString);
    if (wantsAll(ctx.platforms) || keep.length === entries.length) {
      return { name, root: top.desc, platforms, blobs, layers, source: ref };
    }
    if (keep.length === 1) {
      const only = keep[0]!;
      const root: Descriptor = { mediaType: only.mediaType, digest: only.digest, size: only.size, ...(only.platform ? { platform: only.platform } : {}) };
      blobs.delete(top.desc.digest);
      return { name, root, sourceDigest: top.desc.digest, platforms, blobs, layers, source: ref };
    }
    // Several of several more platforms: a smaller index of our own (its digest is new).
    const index = { schemaVersion: 2, mediaType: top.desc.mediaType === MEDIA.dockerList ? MEDIA.dockerList : MEDIA.ociIndex, manifests: keep };
    const bytes = Buffer.from(JSON.stringify(index));
    const digest = await store.putBuffer(bytes);
    blobs.delete(top.desc.digest);
    blobs.set(digest, bytes.length);
    return { name, root: { mediaType: index.mediaType, digest, size: bytes.length }, sourceDigest: top.desc.digest, platforms, blobs, layers, source: ref };
  }

  if (top.desc.mediaType !== MEDIA.ociManifest && top.desc.mediaType !== MEDIA.dockerManifest) {
    throw new OperationError(`image ${name}: unsupported manifest media type ${top.desc.mediaType || '(none)'} (Docker schema 1 is not supported)`);
  }
  if (!top.doc.config) throw new OperationError(`image ${name}: manifest has no config`);
  await fetchConfig(top.doc.config);
  // The platform of a single-platform image is in its config.
  let platform: Platform | undefined;
  try {
    const cfg = JSON.parse(await readFile(store.path(top.doc.config.digest), 'utf8')) as { os?: string; architecture?: string; variant?: string };
    if (cfg.os && cfg.architecture) platform = { os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) };
  } catch {
    platform = undefined; // not an image config (e.g. an artifact): no platform to judge
  }
  if (platform && !wantsAll(ctx.platforms) && !ctx.platforms.some((w) => platformMatches(platform, w))) {
    throw new OperationError(`image ${name}: it is a single-platform ${platformString(platform)} image, the bundle wants ${ctx.platforms.join(', ')}`);
  }
  await planManifest(top.desc, top.doc);
  return { name, root: { ...top.desc, ...(platform ? { platform } : {}) }, platforms: platform ? [platformString(platform)] : [], blobs, layers, source: ref };
}
