// bundle install's per-chart values files: each chart archive read from the
// tar into a tree for the values walk (chart-values.ts), and, where helm is
// at hand, the chart rendered with its file to name every image that still
// comes from elsewhere (a template that hard-codes one, an image the bundle lacks).
import { join } from 'node:path';
import { errorMessage } from '../../errors.ts';
import { chartValuesFile, chartValuesFileNames, type ChartValues } from './chart-values.ts';
import { loadChartTree } from '../charts/chart-tree.ts';
import { imagesInManifests } from '../charts/image-refs.ts';
import { helmTemplate } from '../charts/render.ts';
import type { ImageMapping, RegistryTarget } from './plan.ts';
import { readEntry, type TarEntry, type TarInput } from '../../archive/tar-reader.ts';

export interface InstalledChart {
  name: string;
  version: string;
  entry: TarEntry;
  /** where the entry is when not in the bundle (a delta's chart from its base tar) */
  source?: TarInput;
  /** oci://… reference the chart was pushed to (for the usage line) */
  ref: string;
}

/** One values file per chart; a chart whose archive cannot be walked gets none and a warning. */
export async function planChartValues(bundle: TarInput, charts: InstalledChart[], images: ImageMapping[], warn: (line: string) => void): Promise<Array<ChartValues & { chart: InstalledChart }>> {
  const names = chartValuesFileNames(charts);
  const out: Array<ChartValues & { chart: InstalledChart }> = [];
  for (const [i, c] of charts.entries()) {
    try {
      const tree = await loadChartTree(await readEntry(c.source ?? bundle, c.entry, 256 << 20), `chart ${c.name} ${c.version}`);
      const how = `helm install ${c.name} ${c.ref.replace(/:[^:/]+$/, '')} --version ${c.version}`;
      out.push({ ...chartValuesFile({ name: c.name, version: c.version, fileName: names[i]! }, tree, images, how), chart: c });
    } catch (err) {
      warn(`  warning: no values file for chart ${c.name} ${c.version}: ${errorMessage(err)}`);
    }
  }
  return out;
}

/** Images `helm template -f values/<chart>.yaml` renders from outside the site registry, as log lines. */
export async function renderCheck(helm: string, chartsDir: string, values: Array<ChartValues & { chart: InstalledChart }>, t: RegistryTarget): Promise<string[]> {
  const lines: string[] = [];
  const atSite = (registry: string, repository: string) => registry === t.host && (!t.prefix || repository.startsWith(`${t.prefix}/`));
  for (const v of values) {
    const chartFile = join(chartsDir, v.chart.entry.path.replace(/^charts\//, ''));
    let text: string;
    try {
      text = await helmTemplate(helm, chartFile, { release: v.chart.name, namespace: 'default', valuesFiles: [join(chartsDir, v.path)], what: `chart ${v.chart.name} ${v.chart.version}` });
    } catch (err) {
      lines.push(`  ${v.path}: not checked: ${errorMessage(err)}`);
      continue;
    }
    const off = [...new Set(imagesInManifests(text, v.chart.name).filter((r) => !r.test && !atSite(r.reference.registry, r.reference.repository)).map((r) => `${r.ref} (${r.resource} ${r.field})`))];
    lines.push(off.length ? `  ${v.path}: helm template still renders ${off.length} image${off.length === 1 ? '' : 's'} from outside ${t.host}, set by the chart's templates or missing from the bundle (the runtime mirrors must serve them): ${off.join(', ')}` : `  ${v.path}: helm template renders only ${t.host} images`);
  }
  return lines;
}
