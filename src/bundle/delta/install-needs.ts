// What bundle install of a delta needs from its base, and where each piece is:
// in the base's tar (--base OLD.tar), already in the target repository, or in
// another repository of this install (mounted from there). Checked against the
// registry before anything is pushed; whatever is in none of these places is
// named, and nothing is pushed.
import { OperationError } from '../../errors.ts';
import { formatBytes } from '../inspect/format.ts';
import { blobPath } from '../inspect/layout.ts';
import { MEDIA } from '../../oci/registry/client.ts';
import { blobExists, type PushSession } from '../../oci/registry/push.ts';
import type { BundleSource } from '../../archive/source.ts';
import type { TarEntry } from '../../archive/tar-reader.ts';
import type { DeltaBase } from '../inspect/manifest.ts';
import type { BaseInventory } from './base-inventory.ts';

export interface BaseEntry {
  source: BundleSource;
  entry: TarEntry;
}

/** Where a delta's missing pieces come from. */
export interface DeltaSources {
  /** blob digest -> its entry in the base's tar */
  blobsFromBase: Map<string, BaseEntry>;
  /** blob digest -> a repository of the registry that holds it (to skip or mount from) */
  blobsInRegistry: Map<string, string>;
  /** chart path -> its entry in the base's tar */
  chartsFromBase: Map<string, BaseEntry>;
}

/** Checks --base OLD.tar is the base the delta names; the base's tar entries a delta lacks. */
export function baseEntries(base: DeltaBase, inv: BaseInventory | undefined, file: string): { blobs: Map<string, BaseEntry>; charts: Map<string, BaseEntry>; files: Map<string, BaseEntry> } {
  const blobs = new Map<string, BaseEntry>();
  const charts = new Map<string, BaseEntry>();
  const files = new Map<string, BaseEntry>();
  if (!inv) return { blobs, charts, files };
  if (inv.manifestDigest !== base.manifestDigest) {
    throw new OperationError(`--base ${file} is ${inv.name} ${inv.version} (bundle.yaml ${inv.manifestDigest}), but the delta was made against ${base.name} ${base.version} (bundle.yaml ${base.manifestDigest}); nothing was pushed or written`);
  }
  if (!inv.tar) throw new OperationError(`--base ${file}: give the base bundle's tar (its bundle.yaml alone holds no layers)`);
  const { source, entries } = inv.tar;
  for (const b of base.omitted.blobs) {
    const e = entries.get(blobPath(b.digest));
    if (e) blobs.set(b.digest, { source, entry: e });
  }
  for (const [paths, into] of [[base.omitted.charts, charts], [base.omitted.files, files]] as const) {
    for (const p of paths) {
      const e = entries.get(p);
      if (e) into.set(p, { source, entry: e });
    }
  }
  return { blobs, charts, files };
}

export interface NeedsInput {
  base: DeltaBase;
  /** each image's repository and the omitted blobs it uses */
  images: Array<{ ref: string; repository: string; blobs: Array<{ digest: string; size: number }> }>;
  /** omitted charts: path, where the chart lands, and its .tgz digest */
  charts: Array<{ path: string; name: string; version: string; repository: string; tag: string; digest: string }>;
  fromBase: { blobs: Map<string, BaseEntry>; charts: Map<string, BaseEntry>; files: Map<string, BaseEntry> };
}

/** Does repository:tag hold a Helm chart artifact whose chart layer is `digest`? */
async function chartInRegistry(s: PushSession, repository: string, tag: string, digest: string): Promise<boolean> {
  const res = await s.request({ method: 'GET', repository, path: `/v2/${repository}/manifests/${tag}`, headers: { accept: MEDIA.ociManifest } });
  const text = await res.text().catch(() => '');
  if (res.status !== 200) return false;
  try {
    const m = JSON.parse(text) as { layers?: Array<{ digest?: string }> };
    return (m.layers ?? []).some((l) => l.digest === digest);
  } catch {
    return false;
  }
}

/** Finds every piece; throws naming each missing one (nothing has been pushed yet). */
export async function resolveDeltaNeeds(s: PushSession, n: NeedsInput): Promise<DeltaSources> {
  const out: DeltaSources = { blobsFromBase: n.fromBase.blobs, blobsInRegistry: new Map(), chartsFromBase: n.fromBase.charts };
  const repositories = [...new Set(n.images.map((i) => i.repository))];
  // A missing layer is named once, with every image that needs it.
  const lacking = new Map<string, { size: number; images: string[] }>();
  for (const img of n.images) {
    for (const b of img.blobs) {
      if (n.fromBase.blobs.has(b.digest) || out.blobsInRegistry.has(b.digest)) continue;
      const known = lacking.get(b.digest);
      if (known) {
        known.images.push(img.ref);
        continue;
      }
      // Its own repository first (the base installed this image before), then the others (a layer shared with another image).
      const holder = (await blobExists(s, img.repository, b.digest)) ? img.repository : await firstHolder(s, repositories, img.repository, b.digest);
      if (holder) out.blobsInRegistry.set(b.digest, holder);
      else lacking.set(b.digest, { size: b.size, images: [img.ref] });
    }
  }
  const missing = [...lacking].map(([d, l]) => `layer ${d} (${formatBytes(l.size)}) of ${l.images.join(', ')}: in no repository of this install`);
  for (const c of n.charts) {
    if (n.fromBase.charts.has(c.path)) continue;
    if (!(await chartInRegistry(s, c.repository, c.tag, c.digest))) missing.push(`chart ${c.name} ${c.version}: ${c.repository}:${c.tag} with chart ${c.digest} is not in the registry`);
  }
  if (missing.length) {
    const b = n.base;
    throw new OperationError(
      `this bundle is a delta of ${b.name} ${b.version} (bundle.yaml ${b.manifestDigest}), and the registry lacks ${missing.length} thing${missing.length === 1 ? '' : 's'} it needs from that base; nothing was pushed or written:\n${missing
        .slice(0, 50)
        .map((m) => `  - ${m}`)
        .join('\n')}${missing.length > 50 ? `\n  ... and ${missing.length - 50} more` : ''}\nInstall ${b.name} ${b.version} first, or give its tar with --base OLD.tar.`,
    );
  }
  return out;
}

async function firstHolder(s: PushSession, repositories: string[], except: string, digest: string): Promise<string | undefined> {
  for (const r of repositories) if (r !== except && (await blobExists(s, r, digest))) return r;
  return undefined;
}
