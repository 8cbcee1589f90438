// values/<chart>.yaml (pure): for one chart, every values path that holds an
// image (the chart image discovery's values walk, subcharts included) set to
// the image's site copy, so `helm template -f values/<chart>.yaml` renders
// site-registry images for charts that ignore global.imageRegistry too.
// Tags and digests stay as the chart has them; only where the image lives changes.
import { stringify } from 'yaml';
import type { ChartTree } from '../charts/chart-tree.ts';
import { imagesInChartValues, type ValuesImage } from '../charts/values-walk.ts';
import { parseValuesPath, setPath, type Values } from '../charts/values-merge.ts';
import { formatReference } from '../../oci/reference.ts';
import type { ImageMapping } from './plan.ts';

export const CHART_VALUES_DIR = 'values';

export interface ChartValues {
  /** path relative to the charts directory */
  path: string;
  content: string;
  /** values paths set, each with the image it now names */
  set: Array<{ at: string; image: string; site: string }>;
  /** images the values name that the bundle does not carry (left as they are) */
  missing: Array<{ at: string; image: string }>;
}

/** The bundle image a values image is: same tag (or digest) first, else the same repository. */
function siteCopy(w: ValuesImage, byRepo: Map<string, ImageMapping[]>): ImageMapping | undefined {
  const same = byRepo.get(`${w.reference.registry}/${w.reference.repository}`);
  if (!same?.length) return undefined;
  return same.find((m) => (w.reference.digest && m.digest === w.reference.digest) || (!w.guessed && m.tag === w.reference.tag)) ?? same[0];
}

/** What to write at each values path of `w` so that it names `m`'s repository in the site registry. */
function assignments(w: ValuesImage, m: ImageMapping): Array<[string, string]> {
  const p = w.paths;
  if (p.ref) {
    // One string: keep the tag/digest the values gave (none: the chart adds its own).
    const explicit = w.tagFrom === 'values';
    return [[p.ref, formatReference({ registry: m.registry, repository: m.repository, tag: explicit ? w.reference.tag : undefined, digest: w.reference.digest })]];
  }
  if (!p.repository) return [];
  // NVIDIA style: `image` holds the last path component, `repository` the rest.
  const repository = p.image ? m.repository.slice(0, m.repository.lastIndexOf('/')) : m.repository;
  if (p.registry) return [[p.registry, m.registry], [p.repository, repository]];
  return [[p.repository, `${m.registry}/${repository}`]];
}

export function chartValuesFile(chart: { name: string; version: string; fileName: string }, tree: ChartTree, images: ImageMapping[], how: string): ChartValues {
  const byRepo = new Map<string, ImageMapping[]>();
  for (const m of images) byRepo.set(`${m.originalRegistry}/${m.originalRepository}`, [...(byRepo.get(`${m.originalRegistry}/${m.originalRepository}`) ?? []), m]);
  const doc: Values = {};
  const set: ChartValues['set'] = [];
  const missing: ChartValues['missing'] = [];
  let registryKey = false;
  for (const w of imagesInChartValues(tree)) {
    const m = siteCopy(w, byRepo);
    if (!m) {
      missing.push({ at: w.at, image: w.ref });
      continue;
    }
    const pairs = assignments(w, m);
    for (const [at, value] of pairs) setPath(doc, parseValuesPath(at), value);
    if (pairs.length) set.push({ at: w.at, image: w.ref, site: `${m.registry}/${m.repository}` });
    if (w.paths.globalRegistry) registryKey = true;
  }
  // Charts let a set global.imageRegistry replace every `registry` set here: clear it.
  if (registryKey) setPath(doc, ['global', 'imageRegistry'], '');
  const head = [
    `# Written by astrago-check bundle install: chart ${chart.name} ${chart.version} with every image its values name taken from the site registry.`,
    `# Use with: ${how} -f values/${chart.fileName}${registryKey ? '   (it clears global.imageRegistry: give it after registry-values.yaml if you use both)' : ''}`,
    ...set.map((s) => `#   ${s.at}: ${s.image} -> ${s.site}`),
    ...(missing.length ? ['# Not in the bundle, left as the chart has them (the runtime mirrors serve them only if pushed):', ...missing.map((x) => `#   ${x.at}: ${x.image}`)] : []),
  ];
  return { path: `${CHART_VALUES_DIR}/${chart.fileName}`, content: head.join('\n') + '\n' + (Object.keys(doc).length ? stringify(doc, { lineWidth: 0 }) : '{}\n'), set, missing };
}

/** values/<name>.yaml, or <name>-<version>.yaml where a bundle holds two versions of one chart. */
export function chartValuesFileNames(charts: Array<{ name: string; version: string }>): string[] {
  const count = new Map<string, number>();
  for (const c of charts) count.set(c.name, (count.get(c.name) ?? 0) + 1);
  return charts.map((c) => (count.get(c.name)! > 1 ? `${c.name}-${c.version}.yaml` : `${c.name}.yaml`));
}
