// Which parts of a release a delta bundle leaves out (pure): every layer the
// base holds, every chart and file the base holds at the same path with the
// same digest. Manifests, indexes and configs are always carried (a few
// kilobytes): verify walks every image from them, and install pushes them.
import type { DeltaBase } from '../inspect/manifest.ts';
import type { BaseInventory } from './base-inventory.ts';

export interface DeltaItems {
  layers: Array<{ digest: string; size: number }>;
  charts: Array<{ path: string; digest: string; size: number }>;
  files: Array<{ path: string; digest: string; size: number }>;
}

export interface DeltaSelection {
  base: DeltaBase;
  /** digests of the blobs left out */
  blobs: Set<string>;
  /** chart and file paths left out */
  paths: Set<string>;
  /** bytes left out */
  savedBytes: number;
}

export function selectDelta(inv: BaseInventory, items: DeltaItems): DeltaSelection {
  const blobs = new Map<string, number>();
  for (const l of items.layers) if (inv.blobs.has(l.digest)) blobs.set(l.digest, l.size);
  const charts = items.charts.filter((c) => inv.charts.get(c.path) === c.digest);
  const files = items.files.filter((f) => inv.files.get(f.path) === f.digest);
  const sorted = <T>(xs: T[], key: (x: T) => string) => [...xs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return {
    base: {
      name: inv.name,
      version: inv.version,
      manifestDigest: inv.manifestDigest,
      omitted: {
        blobs: sorted([...blobs].map(([digest, size]) => ({ digest, size })), (b) => b.digest),
        charts: sorted(charts.map((c) => c.path), (p) => p),
        files: sorted(files.map((f) => f.path), (p) => p),
      },
    },
    blobs: new Set(blobs.keys()),
    paths: new Set([...charts, ...files].map((x) => x.path)),
    savedBytes: [...blobs.values(), ...charts.map((c) => c.size), ...files.map((f) => f.size)].reduce((a, b) => a + b, 0),
  };
}
