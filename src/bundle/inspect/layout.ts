// The OCI image layout inside a bundle (images/), read from the tar: which
// blob holds what, and the tree of each image (index -> manifests -> config +
// layers). Pure: the caller supplies a function that reads a blob's bytes, so
// verify (blobs buffered during its single pass), inspect and install (blobs
// read by offset) share this code.

import { isIndex, MEDIA } from '../../oci/registry/client.ts';
import { isDigest } from '../../oci/digest.ts';
import { platformString, type Platform } from '../create/platforms.ts';

export const IMAGES_DIR = 'images';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

import type { Descriptor } from '../create/image-pull.ts';

export type { Descriptor, Platform };


function isManifestMediaType(mt: string): boolean {
  return mt === MEDIA.ociManifest || mt === MEDIA.dockerManifest;
}

/** 'linux/arm64/v8' for a descriptor's platform, or undefined when it names none. */
export function platformOf(p: Partial<Platform> | undefined): string | undefined {
  return p?.os && p.architecture ? platformString({ os: p.os, architecture: p.architecture, variant: p.variant }) : undefined;
}

/** images/blobs/sha256/HEX for a digest. */
export function blobPath(digest: string): string {
  const [alg, hex] = digest.split(':');
  return `${IMAGES_DIR}/blobs/${alg}/${hex}`;
}

/** The digest a blob path names ('sha256:HEX'), or undefined when the path is no blob path. */
export function digestOfBlobPath(path: string): string | undefined {
  const m = /^images\/blobs\/([a-z0-9]+)\/([0-9a-f]+)$/.exec(path);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

function asDescriptor(v: unknown, where: string, problems: string[]): Descriptor | undefined {
  if (!v || typeof v !== 'object') {
    problems.push(`${where}: not a descriptor`);
    return undefined;
  }
  const d = v as Record<string, unknown>;
  if (!isDigest(d.digest)) {
    problems.push(`${where}: bad or unsupported digest ${JSON.stringify(d.digest)} (expected sha256:<64 hex>)`);
    return undefined;
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    problems.push(`${where}: bad size ${JSON.stringify(d.size)}`);
    return undefined;
  }
  const out: Descriptor = { mediaType: typeof d.mediaType === 'string' ? d.mediaType : '', digest: d.digest, size: d.size };
  if (d.platform && typeof d.platform === 'object') out.platform = d.platform as Platform;
  if (d.annotations && typeof d.annotations === 'object') out.annotations = d.annotations as Record<string, string>;
  return out;
}

export interface ParsedIndex {
  manifests: Descriptor[];
  problems: string[];
}

/** Parses index.json or an image index blob. */
export function parseIndexJson(data: Buffer | string, where: string): ParsedIndex {
  const problems: string[] = [];
  let json: unknown;
  try {
    json = JSON.parse(data.toString());
  } catch (err) {
    return { manifests: [], problems: [`${where}: not valid JSON (${(err as Error).message})`] };
  }
  const list = (json as { manifests?: unknown })?.manifests;
  if (!Array.isArray(list)) return { manifests: [], problems: [`${where}: no 'manifests' array`] };
  const manifests = list.map((m, i) => asDescriptor(m, `${where} manifests[${i}]`, problems)).filter((d): d is Descriptor => d !== undefined);
  return { manifests, problems };
}

export type ParsedContent =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[]; problems: string[] }
  | { kind: 'manifest'; mediaType: string; config: Descriptor | undefined; layers: Descriptor[]; problems: string[] }
  | { kind: 'other'; problems: string[] };

/** Classifies a manifest-like blob by its content (mediaType field, or its shape). */
export function parseManifestBlob(data: Buffer, where: string): ParsedContent {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    if (!json || typeof json !== 'object' || Array.isArray(json)) return { kind: 'other', problems: [] };
  } catch {
    return { kind: 'other', problems: [] };
  }
  const mt = typeof json.mediaType === 'string' ? json.mediaType : '';
  const problems: string[] = [];
  if (isIndex(mt) || (!mt && Array.isArray(json.manifests))) {
    const list = Array.isArray(json.manifests) ? json.manifests : [];
    if (!Array.isArray(json.manifests)) problems.push(`${where}: index without a 'manifests' array`);
    return {
      kind: 'index',
      mediaType: mt || MEDIA.ociIndex,
      manifests: list.map((m, i) => asDescriptor(m, `${where} manifests[${i}]`, problems)).filter((d): d is Descriptor => d !== undefined),
      problems,
    };
  }
  if (isManifestMediaType(mt) || (!mt && json.config !== undefined && Array.isArray(json.layers))) {
    const config = asDescriptor(json.config, `${where} config`, problems);
    const layers = Array.isArray(json.layers) ? json.layers : [];
    if (!Array.isArray(json.layers)) problems.push(`${where}: manifest without a 'layers' array`);
    return {
      kind: 'manifest',
      mediaType: mt || MEDIA.ociManifest,
      config,
      layers: layers.map((l, i) => asDescriptor(l, `${where} layers[${i}]`, problems)).filter((d): d is Descriptor => d !== undefined),
      problems,
    };
  }
  return { kind: 'other', problems: [] };
}

export interface ManifestNode {
  descriptor: Descriptor;
  /** the platform from the parent index, or the config's os/architecture */
  platform?: string;
  kind: 'index' | 'manifest';
  /** child manifests (index) */
  children: Descriptor[];
  /** config + layers (manifest) */
  blobs: Descriptor[];
}

export interface ImageTree {
  root: Descriptor;
  /** every index and manifest, children before their parents (the push order) */
  manifests: ManifestNode[];
  /** unique config and layer blobs */
  blobs: Descriptor[];
  platforms: string[];
  /** missing or malformed parts, each naming the digest */
  problems: string[];
}

/** A blob's bytes; undefined when absent, null when present but unusable (damaged). */
export type BlobReader = (digest: string) => Promise<Buffer | undefined | null>;

/**
 * Resolves one image from its root descriptor: every manifest below it and
 * every blob they name. Missing manifests are reported, not thrown.
 */
export async function resolveImage(root: Descriptor, read: BlobReader, opts: { configPlatform?: boolean } = {}): Promise<ImageTree> {
  const manifests: ManifestNode[] = [];
  const blobs = new Map<string, Descriptor>();
  const platforms = new Set<string>();
  const problems: string[] = [];
  const seen = new Set<string>();

  const visit = async (desc: Descriptor, platform: string | undefined, depth: number): Promise<void> => {
    if (seen.has(desc.digest)) return;
    seen.add(desc.digest);
    if (depth > 4) {
      problems.push(`${desc.digest}: indexes nested too deep`);
      return;
    }
    const data = await read(desc.digest);
    if (data === undefined) {
      problems.push(`manifest ${desc.digest} is missing from ${IMAGES_DIR}/blobs`);
      return;
    }
    if (data === null) {
      problems.push(`manifest ${desc.digest} is damaged (its content does not match its digest)`);
      return;
    }
    if (data.length !== desc.size) problems.push(`manifest ${desc.digest}: ${data.length} bytes, its descriptor says ${desc.size}`);
    const parsed = parseManifestBlob(data, `manifest ${desc.digest}`);
    problems.push(...parsed.problems);
    if (parsed.kind === 'index') {
      for (const child of parsed.manifests) await visit(child, platformOf(child.platform), depth + 1);
      manifests.push({ descriptor: { ...desc, mediaType: desc.mediaType || parsed.mediaType }, kind: 'index', children: parsed.manifests, blobs: [], platform });
    } else if (parsed.kind === 'manifest') {
      const own = [...(parsed.config ? [parsed.config] : []), ...parsed.layers];
      for (const b of own) if (!blobs.has(b.digest)) blobs.set(b.digest, b);
      let plat = platform;
      if (!plat && opts.configPlatform && parsed.config) {
        const cfg = await read(parsed.config.digest);
        if (cfg) {
          try {
            const c = JSON.parse(cfg.toString('utf8')) as Partial<Platform>;
            plat = platformOf(c);
          } catch {
            /* a config that is not JSON has no platform to show */
          }
        }
      }
      if (plat) platforms.add(plat);
      manifests.push({ descriptor: { ...desc, mediaType: desc.mediaType || parsed.mediaType }, kind: 'manifest', children: [], blobs: own, platform: plat });
    } else {
      problems.push(`${desc.digest}: neither an image manifest nor an index`);
    }
  };
  await visit(root, platformOf(root.platform), 0);
  return { root, manifests, blobs: [...blobs.values()], platforms: [...platforms].sort(), problems };
}
