// charts/index.yaml: a valid Helm repository index for the charts in a bundle,
// deterministic (sorted, fixed `created`/`generated` times) so bundles reproduce.
import { stringify } from 'yaml';
import type { ChartMetadata } from './chart-archive.ts';

export interface IndexedChart {
  metadata: ChartMetadata;
  /** file name beside index.yaml, NAME-VERSION.tgz */
  fileName: string;
  /** sha256:<hex> */
  digest: string;
}

export function helmIndexYaml(charts: IndexedChart[], created: string): string {
  const entries: Record<string, unknown[]> = {};
  const sorted = [...charts].sort((a, b) => (a.metadata.name === b.metadata.name ? (a.metadata.version < b.metadata.version ? 1 : -1) : a.metadata.name < b.metadata.name ? -1 : 1));
  for (const c of sorted) {
    const { name } = c.metadata;
    (entries[name] ??= []).push({
      ...c.metadata,
      apiVersion: c.metadata.apiVersion ?? 'v1',
      created,
      digest: c.digest.replace(/^sha256:/, ''),
      urls: [c.fileName],
    });
  }
  return stringify({ apiVersion: 'v1', entries, generated: created }, { sortMapEntries: true, lineWidth: 0 });
}
