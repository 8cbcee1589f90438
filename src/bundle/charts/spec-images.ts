// Every image a bundle of a spec carries: each fetched chart's images
// (rendered in parallel, a few helm processes at a time), then joined with the
// spec's images and image lists. With `discoverImages: false`, the lists only.
import pLimit from 'p-limit';
import { InputError, InputErrors, OperationError } from '../../errors.ts';
import type { LoadedSpec, SpecChart } from '../spec/spec.ts';
import { discoverChart, type ChartDiscovery, type ImageSource } from './discover.ts';
import type { FetchedChart } from './fetch.ts';
import { collectBundleImages, describeSource, type BundleImage, type BundleImageSet } from './image-set.ts';

export interface SpecImagesOptions {
  helm?: string;
  all?: boolean;
  includeTests?: boolean;
  /** ignore the spec's discoverImages: false (bundle images always looks) */
  force?: boolean;
}

export interface SpecImages extends BundleImageSet {
  charts: ChartDiscovery[];
}

/** `charts`: each spec chart with its archive on disk. */
export async function discoverSpecImages(loaded: LoadedSpec, charts: Array<{ chart: SpecChart; file: string }>, o: SpecImagesOptions): Promise<SpecImages> {
  const { spec } = loaded;
  if (!spec.discoverImages && !o.force) return { ...collectBundleImages(loaded.images, [], { nodeOS: spec.nodeOS }), charts: [] };
  const limit = pLimit(3);
  const settled = await Promise.allSettled(
    charts.map(({ chart, file }) =>
      limit(() => discoverChart(chart, file, { helm: o.helm, kubeVersion: spec.kubeVersion, includeTests: o.includeTests, specFile: loaded.file, index: loaded.charts.indexOf(chart) })),
    ),
  );
  // Every chart's problem at once: bad input (exit 2) first, else the render failures (exit 1).
  const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
  const input = failed.flatMap((e) => (e instanceof InputErrors ? e.errors : e instanceof InputError ? [e] : []));
  if (input.length) throw new InputErrors(input);
  if (failed.length === 1) throw failed[0];
  if (failed.length) throw new OperationError(`${failed.length} charts could not be read or rendered:\n  ${failed.map((e) => e.message).join('\n  ')}`);
  const found = settled.map((r) => (r as PromiseFulfilledResult<ChartDiscovery>).value);
  return { ...collectBundleImages(loaded.images, found, { all: o.all, nodeOS: spec.nodeOS }), charts: found };
}

export interface CarriedImages {
  /** what bundle create pulls: the discovered images and the lists (discoverImages: false: the lists) */
  images: BundleImage[];
  warnings: string[];
  /** per chart, the images it deploys (bundle.yaml's charts[].images) */
  chartImages: Map<FetchedChart, string[]>;
  /** per carried reference, its sources (bundle.yaml's images[].sources) */
  sources: Map<string, ImageSource[]>;
}

/** The image list of `bundle create`. Charts are always looked into: with discoverImages: false, what they deploy and the lists lack is a warning. */
export async function carriedImages(loaded: LoadedSpec, charts: FetchedChart[], pathOf: (digest: string) => string, helm: string | undefined): Promise<CarriedImages> {
  const found = await discoverSpecImages(
    loaded,
    charts.map((f, i) => ({ chart: loaded.charts[i]!, file: pathOf(f.digest) })),
    { helm, force: true },
  );
  const warnings = [...found.warnings];
  let images = found.images;
  if (!loaded.spec.discoverImages) {
    const listed = new Set(loaded.images.map((i) => i.name));
    for (const i of images) if (!listed.has(i.ref)) warnings.push(`${describeSource(i.sources[0]!)}: deploys ${i.ref}, which the bundle does not carry (discoverImages: false)`);
    images = images.filter((i) => listed.has(i.ref));
  }
  const chartImages = new Map<FetchedChart, string[]>();
  charts.forEach((f, i) => {
    const name = loaded.charts[i]!.name;
    chartImages.set(f, images.filter((img) => img.sources.some((s) => s.type === 'chart' && s.chart === name)).map((img) => img.ref));
  });
  return { images, warnings, chartImages, sources: new Map(images.map((i) => [i.ref, i.sources])) };
}
