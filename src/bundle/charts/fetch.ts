// Gets one chart of a bundle spec into the content store, whatever its source:
// a Helm HTTP repository (digest from index.yaml checked when present), an
// oci:// reference, or a local directory (packaged reproducibly).
import { OperationError } from '../../errors.ts';
import type { RegistryClient } from '../../oci/registry/client.ts';
import type { HttpSource } from '../create/http-source.ts';
import type { SpecChart } from '../spec/spec.ts';
import type { ContentStore } from '../store/store.ts';
import { readChartArchive, type ChartMetadata } from './chart-archive.ts';
import { RepoIndexes, resolveRepoChart } from './helm-repo.ts';
import { chartLayer, ociChartReference } from './oci-chart.ts';
import { packageChart } from './package.ts';

export interface FetchedChart {
  metadata: ChartMetadata;
  fileName: string;
  digest: string;
  size: number;
  source: string;
  values: string;
}

export interface ChartContext {
  client: RegistryClient;
  http: HttpSource;
  store: ContentStore;
  mtime: number;
  specFile: string;
  onBytes?: (n: number) => void;
  /** the run's repository indexes (each read once for all its charts) */
  indexes?: RepoIndexes;
}

export async function fetchChart(c: SpecChart, ctx: ChartContext): Promise<FetchedChart> {
  const what = `chart ${c.name}${c.version ? ` ${c.version}` : ''}`;
  let digest: string;
  let source: string;
  if (c.repo) {
    source = c.repo;
    const entry = await resolveRepoChart(ctx.http, c.repo, c.name, c.version!, ctx.indexes);
    if (entry.digest) {
      await ctx.store.fetch(entry.digest, undefined, (offset) => ctx.http.open(entry.url, offset, what), { what: `${what} (${entry.url}, digest from index.yaml)`, onBytes: ctx.onBytes });
      digest = entry.digest;
    } else {
      const { body } = await ctx.http.open(entry.url, 0, what);
      digest = (await ctx.store.ingest(body, what)).digest;
    }
  } else if (c.oci) {
    source = c.oci;
    const ref = ociChartReference(c.oci, c.version!);
    const m = await ctx.client.getManifest(ref);
    const layer = chartLayer(m.bytes, `${what} (${c.oci})`);
    await ctx.store.fetch(layer.digest, layer.size, (offset) => ctx.client.getBlob(ref.registry, ref.repository, layer.digest, offset), { what: `${what}: layer ${layer.digest}`, onBytes: ctx.onBytes });
    digest = layer.digest;
  } else {
    source = c.path!;
    const pkg = await packageChart(c.dir!, { expectName: c.name, expectVersion: c.version, mtime: ctx.mtime, specFile: ctx.specFile });
    digest = await ctx.store.putBuffer(pkg.data);
  }
  const file = ctx.store.path(digest);
  const archive = await readChartArchive(file, what);
  const md = archive.metadata;
  if (md.name !== c.name) throw new OperationError(`${what}: the archive's Chart.yaml names chart '${md.name}'`);
  if (c.version && md.version.replace(/^v/, '') !== c.version.replace(/^v/, '')) throw new OperationError(`${what}: the archive's Chart.yaml has version ${md.version}`);
  return { metadata: md, fileName: `${md.name}-${md.version}.tgz`, digest, size: ctx.store.sizeOf(digest)!, source, values: archive.values };
}

/**
 * Every chart of a spec, in spec order: local charts first (packaging is quick, and a bad
 * Chart.yaml is an input error before any download), then the others in parallel.
 * Fetch failures are collected in `failures` (the slot stays undefined), not thrown.
 */
export async function fetchSpecCharts(
  charts: SpecChart[],
  ctx: ChartContext,
  o: { limit: <T>(c: SpecChart, fn: () => Promise<T>) => Promise<T>; onChart?: (c: SpecChart, r: FetchedChart) => void; failures: string[] },
): Promise<Array<FetchedChart | undefined>> {
  const out: Array<FetchedChart | undefined> = new Array(charts.length);
  ctx = { ...ctx, indexes: ctx.indexes ?? new RepoIndexes(ctx.http, charts) };
  for (const [i, c] of charts.entries()) if (c.dir) out[i] = await fetchChart(c, ctx).then((r) => (o.onChart?.(c, r), r));
  await Promise.all(
    charts.map((c, i) =>
      c.dir
        ? undefined
        : o.limit(c, () => fetchChart(c, ctx)).then(
            (r) => {
              o.onChart?.(c, r);
              out[i] = r;
            },
            (err: unknown) => void o.failures.push((err as Error).message),
          ),
    ),
  );
  return out;
}
