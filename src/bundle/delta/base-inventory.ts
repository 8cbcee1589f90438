// What a delta bundle's base holds, read from the base's tar (or split parts)
// or from its bundle.yaml alone: its identity (name, version, the digest of
// its bundle.yaml) and every layer, chart and file of its release. A base
// that is itself a delta counts what it left out too: the site that installed
// it holds that as well.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errorMessage, InputError } from '../../errors.ts';
import type { BundleSource } from '../../archive/source.ts';
import { openBundle } from '../inspect/inspect.ts';
import { loadBundleManifest, type BundleManifestView } from '../inspect/manifest.ts';
import { digestOfBlobPath } from '../inspect/layout.ts';
import type { TarEntry } from '../../archive/tar-reader.ts';

export interface BaseInventory {
  name: string;
  version: string;
  manifestDigest: string;
  /** layer (and other) blobs of the base release, by digest */
  blobs: Set<string>;
  /** chart or file path -> sha256:digest */
  charts: Map<string, string>;
  files: Map<string, string>;
  /** read from a tar: where its entries are (install takes what a delta lacks from there) */
  tar?: { source: BundleSource; entries: Map<string, TarEntry> };
}

function inventoryOf(m: BundleManifestView, manifestDigest: string, file: string, tarBlobs: string[] | undefined): BaseInventory {
  const blobs = new Set<string>(tarBlobs ?? []);
  for (const img of m.images) {
    if (Array.isArray(img.layers)) for (const d of img.layers) blobs.add(d);
    else if (!tarBlobs) throw new InputError({ file, field: 'images', expected: `layer lists (images[].layers), which bundles made before this version lack: give the base's tar instead (--base ${file.replace(/bundle\.ya?ml$/, '')}OLD.tar)` });
  }
  for (const b of m.base?.omitted.blobs ?? []) blobs.add(b.digest);
  return {
    name: m.metadata.name,
    version: m.metadata.version,
    manifestDigest,
    blobs,
    charts: new Map(m.charts.map((c) => [c.file, c.digest])),
    files: new Map(m.files.map((f) => [f.file, f.digest])),
  };
}

/** --base OLD.tar (or OLD.tar.000, or OLD's bundle.yaml). */
export async function readBaseInventory(path: string): Promise<BaseInventory> {
  if (/\.ya?ml$/i.test(path)) {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new InputError({ file: path, expected: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read the base bundle.yaml (${errorMessage(err)})` });
    }
    const m = loadBundleManifest(bytes.toString('utf8'));
    return inventoryOf(m, `sha256:${createHash('sha256').update(bytes).digest('hex')}`, path, undefined);
  }
  const b = await openBundle(path);
  const tarBlobs = [...b.entries.keys()].map(digestOfBlobPath).filter((d): d is string => d !== undefined);
  return { ...inventoryOf(b.manifest, b.manifestDigest, path, tarBlobs), tar: { source: b.source, entries: b.entries } };
}
