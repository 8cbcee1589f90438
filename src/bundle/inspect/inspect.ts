// bundle inspect: what a bundle holds, read from the tar's headers plus the
// few small entries that describe it (bundle.yaml, images/index.json, the
// manifests and configs). Layers are never read, so a multi-gigabyte bundle
// is inspected in a moment. Nothing is verified here: that is `bundle verify`.
import { createHash } from 'node:crypto';
import { TOOL_NAME, TOOL_VERSION } from '../../version.ts';
import { OperationError } from '../../errors.ts';
import { openBundleSource, type BundleSource } from '../../archive/source.ts';
import { blobPath, parseIndexJson, resolveImage, REF_NAME_ANNOTATION } from './layout.ts';
import { loadBundleManifest, type BundleManifestView } from './manifest.ts';
import { readEntry, type TarEntry } from '../../archive/tar-reader.ts';
import { listTar } from '../../archive/tar-walk.ts';

export interface BundleInspection {
  apiVersion: 'astrago.io/v1';
  kind: 'BundleInspection';
  file: string;
  /** a split bundle: its parts, in order */
  parts?: Array<{ file: string; size: number }>;
  /** sha256 of bundle.yaml: what a delta bundle names as its base */
  manifestDigest: string;
  /** the bundle, and the tool (version) that made it */
  bundle: { name: string; version: string; createdBy?: string; tool?: { name: string; version: string } };
  /** the astrago-check that inspected it */
  tool: { name: string; version: string };
  platforms: string[];
  charts: Array<{ name: string; version: string; file: string; size: number; digest: string }>;
  images: Array<{ ref: string; digest: string; mediaType: string; platforms: string[]; size: number; blobs: number; problems?: string[] }>;
  /** `mode`: the permission bits of the file's tar entry */
  files: Array<{ name: string; file: string; size: number; digest: string; mode: number }>;
  /** a delta bundle: the base it needs, and what it leaves out because the base has it */
  delta?: { base: { name: string; version: string; manifestDigest: string }; omitted: { layers: number; charts: string[]; files: string[] }; savedBytes: number };
  totals: { charts: number; images: number; files: number; blobs: number; uniqueBlobBytes: number; tarSize: number };
  spec?: unknown;
}

/** Reads the tar's entry index, bundle.yaml and images/index.json (shared with install). */
export async function openBundle(given: string): Promise<{ source: BundleSource; entries: Map<string, TarEntry>; tarSize: number; manifest: BundleManifestView; manifestDigest: string; read(path: string): Promise<Buffer | undefined> }> {
  const source = await openBundleSource(given);
  const file = source.tarName;
  const listing = await listTar(source);
  const entries = new Map(listing.entries.filter((e) => e.type === 'file').map((e) => [e.path, e]));
  const read = async (path: string) => {
    const e = entries.get(path);
    return e ? await readEntry(source, e) : undefined;
  };
  const yaml = await read('bundle.yaml');
  if (!yaml) throw new OperationError(`${file}: no bundle.yaml inside: not an astrago-check bundle`);
  return { source, entries, tarSize: listing.tarSize, manifest: loadBundleManifest(yaml.toString('utf8')), manifestDigest: `sha256:${createHash('sha256').update(yaml).digest('hex')}`, read };
}

/** A file a delta leaves out has no tar entry here: its mode is the one the spec gave it (create writes that one), else 0644. */
function specFileMode(spec: unknown, name: string): number {
  const files = (spec as { files?: Array<{ name?: unknown; mode?: unknown }> } | undefined)?.files;
  const mode = Array.isArray(files) ? files.find((f) => f?.name === name)?.mode : undefined;
  return typeof mode === 'number' ? mode : 0o644;
}

export async function inspectBundle(given: string): Promise<BundleInspection> {
  const b = await openBundle(given);
  const file = b.source.tarName;
  const m = b.manifest;
  const readBlob = async (digest: string) => {
    const e = b.entries.get(blobPath(digest));
    // Manifests and configs are small; anything large is a layer and not read here.
    return e && e.size <= 4 << 20 ? await readEntry(b.source, e) : undefined;
  };
  const indexText = await b.read('images/index.json');
  const roots = indexText ? parseIndexJson(indexText, 'images/index.json').manifests : [];
  const images: BundleInspection['images'] = [];
  for (const img of m.images) {
    const root = roots.find((r) => r.annotations?.[REF_NAME_ANNOTATION] === img.ref) ?? { mediaType: '', digest: img.digest, size: b.entries.get(blobPath(img.digest))?.size ?? 0 };
    const tree = await resolveImage(root, readBlob, { configPlatform: true });
    const size = tree.blobs.reduce((s, d) => s + d.size, 0) + tree.manifests.reduce((s, n) => s + n.descriptor.size, 0);
    images.push({
      ref: img.ref,
      digest: root.digest,
      mediaType: tree.manifests.at(-1)?.descriptor.mediaType ?? root.mediaType,
      platforms: tree.platforms.length ? tree.platforms : (img.platforms ?? []),
      size,
      blobs: tree.blobs.length,
      ...(tree.problems.length ? { problems: tree.problems } : {}),
    });
  }
  let blobs = 0;
  let uniqueBlobBytes = 0;
  for (const [path, e] of b.entries) {
    if (!path.startsWith('images/blobs/')) continue;
    blobs++;
    uniqueBlobBytes += e.size;
  }
  return {
    apiVersion: 'astrago.io/v1',
    kind: 'BundleInspection',
    file,
    manifestDigest: b.manifestDigest,
    ...(b.source.split ? { parts: b.source.parts.map((p) => ({ file: p.file, size: p.size })) } : {}),
    bundle: { ...m.metadata, ...(m.tool ? { tool: m.tool } : {}) },
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    platforms: m.platforms,
    charts: m.charts.map(({ name, version, file: f, size, digest }) => ({ name, version, file: f, size, digest })),
    images,
    files: m.files.map(({ name, file: f, size, digest }) => ({ name, file: f, size, digest, mode: b.entries.get(f)?.mode ?? specFileMode(m.spec, name) })),
    ...(m.base ? { delta: deltaSummary(m) } : {}),
    totals: { charts: m.charts.length, images: images.length, files: m.files.length, blobs, uniqueBlobBytes, tarSize: b.tarSize },
    ...(m.spec !== undefined ? { spec: m.spec } : {}),
  };
}

function deltaSummary(m: BundleManifestView): NonNullable<BundleInspection['delta']> {
  const base = m.base!;
  const sizeOf = (path: string) => m.charts.find((c) => c.file === path)?.size ?? m.files.find((f) => f.file === path)?.size ?? 0;
  const savedBytes = base.omitted.blobs.reduce((n, b) => n + b.size, 0) + [...base.omitted.charts, ...base.omitted.files].reduce((n, p) => n + sizeOf(p), 0);
  return { base: { name: base.name, version: base.version, manifestDigest: base.manifestDigest }, omitted: { layers: base.omitted.blobs.length, charts: base.omitted.charts, files: base.omitted.files }, savedBytes };
}
