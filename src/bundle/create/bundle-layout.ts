// What bundle create writes, worked out from what it fetched (pure): the
// bundle manifest (bundle.yaml), and the tar's entries in their fixed order
// (bundle.yaml and SHA256SUMS first, then charts, images, files by path), so
// every entry's offset is known before a layer has arrived.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { API_VERSION } from '../../schema/common.ts';
import type { BundleManifest } from '../../schema/bundle-manifest.ts';
import { TOOL_NAME, TOOL_VERSION } from '../../version.ts';
import type { FetchedChart } from '../charts/fetch.ts';
import { helmIndexYaml } from '../charts/index-yaml.ts';
import type { ImageSource } from '../charts/discover.ts';
import type { DeltaItems, DeltaSelection } from '../delta/select.ts';
import type { BundleSpec } from '../../schema/bundle-spec.ts';
import type { FetchedFile } from './file-fetch.ts';
import type { PulledImage } from './image-pull.ts';
import type { TarEntry } from './tar.ts';
import { REF_NAME_ANNOTATION } from '../inspect/layout.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export function buildManifest(
  spec: BundleSpec,
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

export function layoutEntries(manifest: BundleManifest, images: PulledImage[], charts: FetchedChart[], files: FetchedFile[], mtime: number, delta?: DeltaSelection): { first: TarEntry[]; rest: TarEntry[] } {
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
      .map((i) => ({ mediaType: i.root.mediaType, digest: i.root.digest, size: i.root.size, ...(i.root.platform ? { platform: i.root.platform } : {}), annotations: { [REF_NAME_ANNOTATION]: i.name } })),
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

export function deltaItems(images: PulledImage[], charts: FetchedChart[], files: FetchedFile[]): DeltaItems {
  return {
    layers: images.flatMap((i) => i.layers.map((l) => ({ digest: l.digest, size: l.size }))),
    charts: charts.map((c) => ({ path: `charts/${c.fileName}`, digest: c.digest, size: c.size })),
    files: files.map((f) => ({ path: `files/${f.name}`, digest: f.digest, size: f.size })),
  };
}
