// The images one chart deploys with the spec's values for it: rendered with
// helm when there is one (exact), else walked from the values (tags that the
// chart leaves to appVersion marked `guessed`). Each image keeps where it came
// from: the template and manifest field, and the values path that sets it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { InputError, InputErrors } from '../../errors.ts';
import type { ImageSource } from '../../schema/bundle-manifest.ts';
import { formatReference, type ImageReference } from '../../oci/reference.ts';
import type { SpecChart } from '../spec/spec.ts';
import { loadChartTree, type ChartTree } from './chart-tree.ts';
import { hasExplicitVersion, tryReference } from './image-shapes.ts';
import { imagesInManifests, type RuntimeCompletion } from './image-refs.ts';
import { helmTemplate } from './render.ts';
import { cloneValues, coalesce, setPath, type Values } from './values-merge.ts';
import { imagesInChartValues, type ImageValuesPaths, type ValuesImage } from './values-walk.ts';

export type { ImageSource };

export interface ChartImage {
  ref: string;
  reference: ImageReference;
  source: ImageSource;
  /** needed with these values (false: a component the values disable, listed by --all) */
  needed: boolean;
  guessed: boolean;
  /** the values paths that set it (from the walk), for per-chart values files */
  paths?: ImageValuesPaths;
  completion?: RuntimeCompletion;
}

export interface ChartDiscovery {
  chart: string;
  version: string;
  renderer: 'helm' | 'values';
  images: ChartImage[];
  warnings: string[];
}

export interface DiscoverOptions {
  /** helm binary; undefined: walk the values */
  helm?: string;
  kubeVersion?: string;
  includeTests?: boolean;
  /** the spec file, for errors about its `set` entries */
  specFile: string;
  /** the chart's index in the spec, for errors */
  index: number;
}

/** The user's values for a chart: its values files coalesced in order, then `set`. Bad set paths: InputError at the spec line. */
export function userValues(c: SpecChart, tree: ChartTree, o: Pick<DiscoverOptions, 'specFile' | 'index'>): { values: Values; set: Values } {
  let values: Values = {};
  for (const v of c.valuesData ?? []) values = coalesce(values, v.values);
  const set: Values = {};
  const errors: InputError[] = [];
  const probe = coalesce(cloneValues(tree.values), values);
  for (const s of c.setPaths ?? []) {
    try {
      setPath(probe, s.parts, cloneValues(s.value));
      setPath(set, s.parts, cloneValues(s.value));
    } catch (err) {
      errors.push(new InputError({ file: o.specFile, line: s.line, field: `charts[${o.index}].set.${s.key}`, expected: `a path chart ${c.name} can take: ${(err as Error).message} in its values` }));
    }
  }
  if (errors.length) throw new InputErrors(errors);
  return { values: coalesce(values, set), set };
}

/** Images of one chart archive (`file`) with the spec's values for it. */
export async function discoverChart(c: SpecChart, file: string, o: DiscoverOptions): Promise<ChartDiscovery> {
  const what = `chart ${c.name}${c.version ? ` ${c.version}` : ''}`;
  const tree = await loadChartTree(readFileSync(file), what);
  const user = userValues(c, tree, o);
  const walked = imagesInChartValues(tree, { values: user.values });
  const version = tree.metadata.version;
  if (!o.helm) {
    const images = walked.filter((w) => !w.test || o.includeTests).map((w) => fromWalk(c.name, version, w));
    return { chart: c.name, version, renderer: 'values', images: [...images, ...annotationExtras(c.name, version, tree, new Set(images.map((i) => repoOf(i.reference))))], warnings: [] };
  }

  const tmp = mkdtempSync(join(tmpdir(), 'astrago-values-'));
  try {
    const setFile = join(tmp, 'set.yaml');
    writeFileSync(setFile, stringify(user.set));
    const text = await helmTemplate(o.helm, file, {
      release: c.name,
      namespace: c.namespace ?? 'default',
      kubeVersion: o.kubeVersion,
      valuesFiles: [...(c.valuesData ?? []).map((v) => v.file), setFile],
      what,
    });
    return { chart: c.name, version, renderer: 'helm', images: rendered(c.name, version, tree, text, walked, o), warnings: [] };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function fromWalk(chart: string, version: string, w: ValuesImage): ChartImage {
  const sub = w.chart.split('/').slice(1).join('/');
  return {
    ref: w.ref,
    reference: w.reference,
    source: { type: 'chart', chart, version, ...(sub ? { subchart: sub } : {}), valuesPath: w.at },
    needed: w.enabled,
    guessed: w.guessed,
    paths: w.paths,
    ...(w.completion ? { completion: w.completion } : {}),
  };
}

const repoOf = (r: ImageReference) => `${r.registry}/${r.repository}`;

function rendered(chart: string, version: string, tree: ChartTree, text: string, walked: ValuesImage[], o: DiscoverOptions): ChartImage[] {
  const out: ChartImage[] = [];
  const byRepo = new Map<string, ValuesImage[]>();
  for (const w of walked) byRepo.set(repoOf(w.reference), [...(byRepo.get(repoOf(w.reference)) ?? []), w]);
  const annotated = new Set(tree.annotatedImages.map((a) => tryReference(a.image)).filter((r) => r !== undefined).map((r) => formatReference(r)));
  const seenRepos = new Set<string>();
  for (const r of imagesInManifests(text, tree.metadata.name)) {
    if (r.test && !o.includeTests) continue;
    const sub = r.chart.split('/').slice(1).join('/');
    // the values path that sets it: the walk's hit for the same repository in the same (sub)chart, else any
    const candidates = byRepo.get(repoOf(r.reference)) ?? [];
    const w = candidates.find((x) => x.chart === r.chart && x.enabled) ?? candidates.find((x) => x.enabled) ?? candidates[0];
    if (!r.disabled) seenRepos.add(repoOf(r.reference));
    out.push({
      ref: r.ref,
      reference: r.reference,
      source: {
        type: 'chart',
        chart,
        version,
        ...(sub ? { subchart: sub } : {}),
        ...(r.template ? { template: r.template } : {}),
        resource: r.resource,
        field: r.field,
        ...(w ? { valuesPath: w.at } : {}),
        ...(annotated.has(r.ref) ? { annotation: true } : {}),
      },
      needed: !r.disabled,
      guessed: false,
      ...(w ? { paths: w.paths } : {}),
      ...(r.completion ? { completion: r.completion } : {}),
    });
  }
  // What the values (or the annotation) name but these values do not deploy: optional (--all).
  for (const w of walked) if (!seenRepos.has(repoOf(w.reference)) && (!w.test || o.includeTests)) out.push({ ...fromWalk(chart, version, w), needed: false });
  return [...out, ...annotationExtras(chart, version, tree, seenRepos)];
}

/** Images the artifacthub.io/images annotation names that nothing else found: optional (--all). */
function annotationExtras(chart: string, version: string, tree: ChartTree, seenRepos: Set<string>): ChartImage[] {
  const out: ChartImage[] = [];
  for (const a of tree.annotatedImages) {
    const r = tryReference(a.image);
    if (!r || !hasExplicitVersion(a.image) || seenRepos.has(repoOf(r))) continue;
    out.push({ ref: formatReference(r), reference: r, source: { type: 'chart', chart, version, annotation: true }, needed: false, guessed: false });
  }
  return out;
}
