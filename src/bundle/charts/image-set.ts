// A bundle's image list: what the charts deploy (discover.ts) joined with the
// spec's images and image lists, one entry per normalised reference with all
// its sources. Pure. Warnings: tags an operator completes at run time (and how
// the spec completes them: `nodeOS`), list entries at a tag no chart uses, and, without
// helm, that the list is a walk of the values with guessed tags.
import { formatReference, type ImageReference } from '../../oci/reference.ts';
import type { SpecImage } from '../spec/spec.ts';
import type { ChartDiscovery, ChartImage, ImageSource } from './discover.ts';
import type { ImageValuesPaths } from './values-walk.ts';

export interface BundleImage {
  ref: string;
  reference: ImageReference;
  sources: ImageSource[];
  /** only a component the values disable uses it (listed with --all, not carried) */
  optional: boolean;
  /** its tag is a guess from the chart's appVersion (no helm) */
  guessed: boolean;
  /** values paths that set it, by chart (for per-chart values files) */
  paths?: Array<{ chart: string } & ImageValuesPaths>;
}

export interface CollectOptions {
  /** list optional images too */
  all?: boolean;
  /** the spec's nodeOS: completes run-time tags */
  nodeOS: string[];
}

export interface BundleImageSet {
  images: BundleImage[];
  warnings: string[];
}

export function collectBundleImages(specImages: SpecImage[], charts: ChartDiscovery[], o: CollectOptions): BundleImageSet {
  const byRef = new Map<string, BundleImage>();
  const warnings: string[] = [];
  const add = (ref: ImageReference, source: ImageSource, needed: boolean, guessed: boolean, paths?: ImageValuesPaths) => {
    const key = formatReference(ref);
    let e = byRef.get(key);
    if (!e) byRef.set(key, (e = { ref: key, reference: ref, sources: [], optional: !needed, guessed }));
    else {
      e.optional &&= !needed;
      e.guessed &&= guessed;
    }
    if (!e.sources.some((s) => JSON.stringify(s) === JSON.stringify(source))) e.sources.push(source);
    if (paths && source.chart && !e.paths?.some((p) => p.chart === source.chart && JSON.stringify({ ...p, chart: undefined }) === JSON.stringify({ ...paths, chart: undefined }))) {
      (e.paths ??= []).push({ chart: source.chart, ...paths });
    }
  };
  const incomplete = new Map<string, string>();
  for (const c of charts) {
    for (const img of c.images) {
      if (!img.needed && !o.all) continue;
      if (img.completion && !img.reference.digest) {
        if (!o.nodeOS.length) {
          if (img.needed) incomplete.set(img.ref, `chart ${c.chart} ${c.version}: ${img.ref} (${describeSource(img.source)}): ${img.completion.why}; set nodeOS in the spec (e.g. nodeOS: [ubuntu22.04]) to carry it: not carried`);
          continue;
        }
        for (const os of o.nodeOS) add({ ...img.reference, tag: `${img.reference.tag}-${os}` }, { ...img.source, nodeOS: os }, img.needed, img.guessed, img.paths);
        continue;
      }
      add(img.reference, img.source, img.needed, img.guessed, img.paths);
    }
  }
  warnings.push(...incomplete.values());
  const fromCharts = new Map(byRef);
  for (const s of specImages) add(s.ref, { type: s.source.type, file: s.source.file, ...(s.source.line !== undefined ? { line: s.source.line } : {}) }, true, false);
  if (charts.length) warnings.push(...unusedEntries(specImages, fromCharts));
  const walked = charts.filter((c) => c.renderer === 'values');
  if (walked.length) {
    const guessed = [...byRef.values()].filter((i) => i.guessed && (!i.optional || o.all)).length;
    warnings.push(
      `no helm: the images of ${walked.length === charts.length ? 'the charts' : walked.map((c) => c.chart).join(', ')} were found by walking their values, not by rendering them` +
        `${guessed ? ` (${guessed} tag(s) guessed from appVersion, marked guessed)` : ''}; helm gives the exact list (put helm on PATH, or give --helm PATH or ASTRAGO_HELM)`,
    );
  }
  const images = [...byRef.values()].filter((i) => o.all || !i.optional).sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  return { images, warnings };
}

/**
 * List (or spec) entries no chart uses although a chart deploys the same repository: a stale
 * tag (the lists are for images no chart names; those raise nothing).
 */
function unusedEntries(specImages: SpecImage[], fromCharts: Map<string, BundleImage>): string[] {
  const out: string[] = [];
  const needed = [...fromCharts.values()].filter((i) => !i.optional);
  for (const s of specImages) {
    if (fromCharts.get(s.name) && !fromCharts.get(s.name)!.optional) continue;
    const sameRepo = needed.filter((i) => i.reference.registry === s.ref.registry && i.reference.repository === s.ref.repository);
    const where = `${s.source.file}${s.source.line !== undefined ? `:${s.source.line}` : ''}`;
    if (sameRepo.length) out.push(`${where}: ${s.name}: no chart uses this tag; the charts deploy ${sameRepo.map((i) => i.ref).join(', ')}`);
  }
  return out;
}

export function describeSource(s: ImageSource): string {
  if (s.type !== 'chart') return `${s.type === 'list' ? 'image list' : 'spec images'} ${s.file}${s.line !== undefined ? `:${s.line}` : ''}`;
  const parts = [`chart ${s.chart}${s.version ? ` ${s.version}` : ''}${s.subchart ? ` > ${s.subchart}` : ''}`];
  if (s.template) parts.push(s.template);
  if (s.resource) parts.push(`${s.resource} ${s.field ?? ''}`.trim());
  if (s.valuesPath) parts.push(`values ${s.valuesPath}`);
  if (s.annotation) parts.push('Chart.yaml artifacthub.io/images');
  if (s.nodeOS) parts.push(`tag completed with nodeOS ${s.nodeOS}`);
  return parts.join(': ');
}

export type { ChartImage };
