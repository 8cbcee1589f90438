// The images a chart's values name, and the values paths that set each part,
// without rendering: values coalesced as Helm does (the chart's values.yaml,
// then the user's; each subchart's own values under its parent's `<alias>:`
// key, `global` passed down), subcharts enabled by their condition and tags.
// A tag the values leave empty is taken from the artifacthub.io/images
// annotation when it names the repository, else from the chart's appVersion
// (`guessed`: charts often write `v{{ .Chart.AppVersion }}`, which only
// rendering shows).
//
// Paths are from the top chart's values, as `helm --set` takes them: a
// subchart's `image.tag` under alias `grafana` is `grafana.image.tag`.
import { formatReference, type ImageReference } from '../../oci/reference.ts';
import type { ChartTree } from './chart-tree.ts';
import { VALUES_COMPLETIONS, type RuntimeCompletion } from './image-refs.ts';
import { hasExplicitVersion, imageMapShape, referencesInText, scalarText, tryReference, type ShapeKeys } from './image-shapes.ts';
import { coalesce, formatValuesPath, getPath, isMap, parseValuesPath, type PathPart, type Values } from './values-merge.ts';

/** Where each part of an image is set: values paths from the top chart (absent: not in the values). */
export interface ImageValuesPaths {
  /** one string holding the whole reference (`image: repo:tag`) */
  ref?: string;
  registry?: string;
  repository?: string;
  /** NVIDIA style: the last path component, beside `repository` */
  image?: string;
  tag?: string;
  digest?: string;
  /** `global.imageRegistry`, when it overrides `registry` (set: it wins; empty: the chart's registry stands) */
  globalRegistry?: string;
}

export interface ValuesImage {
  /** normalised reference (docker.io/library/…), with the tag this walk settled on */
  ref: string;
  reference: ImageReference;
  /** the chart whose values hold it: the top chart's name, or the subchart path below it, e.g. `loki-stack/promtail` */
  chart: string;
  /** chart version of that (sub)chart */
  version: string;
  /** values path of the image (the map, or the string) from the top chart */
  at: string;
  paths: ImageValuesPaths;
  /** where the tag came from */
  tagFrom: 'values' | 'annotation' | 'appVersion' | 'default';
  /** the tag is a guess (appVersion, or Docker's `latest`); rendering gives the exact one */
  guessed: boolean;
  /** false when the values disable it: a subchart off by condition/tags, or an `enabled: false` beside it */
  enabled: boolean;
  /** under a `test`/`tests`/`testFramework`/`test_pod` key: the chart's test hooks use it */
  test: boolean;
  /** a tag the operator completes at run time (GPU Operator's driver) */
  completion?: RuntimeCompletion;
}

export interface WalkOptions {
  /** the user's values (spec values files, then `set`), coalesced over the chart's */
  values?: Values;
}

interface Scope {
  tree: ChartTree;
  /** values of this chart, coalesced */
  values: Values;
  /** path of this chart's values from the top, e.g. ['grafana'] */
  prefix: PathPart[];
  chartPath: string;
  enabled: boolean;
}

/** Every image the values of `tree` (subcharts included) name, with its values paths. */
export function imagesInChartValues(tree: ChartTree, opts: WalkOptions = {}): ValuesImage[] {
  const top: Scope = { tree, values: coalesce(tree.values, opts.values ?? {}), prefix: [], chartPath: tree.metadata.name, enabled: true };
  const out: ValuesImage[] = [];
  const annotated = new Map<string, string>();
  const collectAnnotations = (t: ChartTree) => {
    for (const a of t.annotatedImages) {
      const r = tryReference(a.image);
      if (r?.tag && hasExplicitVersion(a.image)) annotated.set(`${r.registry}/${r.repository}`, r.tag);
    }
    t.subcharts.forEach(collectAnnotations);
  };
  collectAnnotations(tree);
  const visitScope = (s: Scope) => {
    const subs = subchartScopes(s, top.values);
    const skip = new Set(['global', ...subs.map((x) => String(x.prefix[x.prefix.length - 1]))]);
    walkValues(s, s.values, [], skip, s.enabled, annotated, out);
    subs.forEach(visitScope);
  };
  visitScope(top);
  return out;
}

function subchartScopes(parent: Scope, topValues: Values): Scope[] {
  const scopes: Scope[] = [];
  const used = new Set<ChartTree>();
  const scope = (sub: ChartTree, key: string, enabled: boolean): Scope => {
    const own = parent.values[key];
    const values = coalesce(sub.values, isMap(own) ? own : {});
    // global: the parent's wins over the subchart's own defaults
    values.global = coalesce(isMap(sub.values.global) ? sub.values.global : {}, isMap(parent.values.global) ? parent.values.global : {});
    return { tree: sub, values, prefix: [...parent.prefix, key], chartPath: `${parent.chartPath}/${key}`, enabled: parent.enabled && enabled };
  };
  for (const dep of parent.tree.dependencies) {
    const sub = parent.tree.subcharts.find((c) => c.metadata.name === dep.name && !used.has(c));
    if (!sub) continue;
    used.add(sub);
    scopes.push(scope(sub, dep.alias ?? dep.name, dependencyEnabled(dep.condition, dep.tags, parent.values, topValues)));
  }
  // Subcharts under charts/ that Chart.yaml does not list are always on (as in Helm).
  for (const sub of parent.tree.subcharts) if (!used.has(sub)) scopes.push(scope(sub, sub.metadata.name, true));
  return scopes;
}

/** Helm's rule: the first condition path holding a boolean decides; else any true tag enables, all-false tags disable. */
export function dependencyEnabled(condition: string | undefined, tags: string[] | undefined, parentValues: Values, topValues: Values): boolean {
  for (const c of (condition ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    let parts: PathPart[];
    try {
      parts = parseValuesPath(c);
    } catch {
      continue;
    }
    const v = getPath(parentValues, parts);
    if (typeof v === 'boolean') return v;
  }
  if (tags?.length) {
    const t = isMap(topValues.tags) ? topValues.tags : {};
    const vals = tags.map((x) => t[x]).filter((v): v is boolean => typeof v === 'boolean');
    if (vals.includes(true)) return true;
    if (vals.length && vals.every((v) => v === false)) return false;
  }
  return true;
}

function walkValues(s: Scope, node: unknown, path: PathPart[], skipTop: Set<string>, enabled: boolean, annotated: Map<string, string>, out: ValuesImage[]): void {
  if (path.length > 40 || node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    node.forEach((n, i) => walkValues(s, n, [...path, i], skipTop, enabled, annotated, out));
    return;
  }
  const o = node as Values;
  const here = enabled && o.enabled !== false;
  const shape = imageMapShape(o);
  if (shape) {
    const hit = fromMap(s, o, path, shape.keys, here, annotated);
    if (hit) out.push(hit);
  }
  for (const [k, v] of Object.entries(o)) {
    if (path.length === 0 && skipTop.has(k)) continue;
    const p = [...path, k];
    if (typeof v === 'string' && !(shape && Object.values(shape.keys).includes(k))) {
      // `image: repo:tag`, or any value that is a full reference with a registry host and a tag
      const hit = /image$/i.test(k) ? fromString(s, v, p, here, annotated) : referencesInText(v).length === 1 && referencesInText(v)[0] === v.trim() ? fromString(s, v, p, here, annotated) : undefined;
      if (hit) out.push(hit);
    } else if (typeof v === 'object') walkValues(s, v, p, skipTop, here, annotated, out);
  }
}

function full(s: Scope, rel: PathPart[]): string {
  return formatValuesPath([...s.prefix, ...rel]);
}

function fromMap(s: Scope, o: Values, path: PathPart[], keys: ShapeKeys, enabled: boolean, annotated: Map<string, string>): ValuesImage | undefined {
  const shape = imageMapShape(o)!;
  const global = isMap(s.values.global) ? s.values.global : {};
  const globalRegistry = shape.hasRegistryKey ? scalarText(global.imageRegistry) : undefined;
  let name = shape.name;
  if (globalRegistry && keys.registry) name = `${globalRegistry.replace(/\/+$/, '')}/${scalarText(o[keys.repository])}${keys.image ? `/${scalarText(o[keys.image])}` : ''}`;
  const paths: ImageValuesPaths = {
    repository: full(s, [...path, keys.repository]),
    ...(keys.registry || shape.hasRegistryKey ? { registry: full(s, [...path, keys.registry ?? 'registry']) } : {}),
    ...(keys.image ? { image: full(s, [...path, keys.image]) } : {}),
    ...(keys.tag ? { tag: full(s, [...path, keys.tag]) } : {}),
    ...(keys.digest ? { digest: full(s, [...path, keys.digest]) } : {}),
    ...(shape.hasRegistryKey ? { globalRegistry: formatValuesPath(['global', 'imageRegistry']) } : {}),
  };
  return settle(s, name, shape.tag, shape.digest, path, paths, enabled, annotated);
}

function fromString(s: Scope, text: string, path: PathPart[], enabled: boolean, annotated: Map<string, string>): ValuesImage | undefined {
  const t = text.trim();
  // A bare name without a tag (`image: busybox`) is too ambiguous to count.
  if (!t.includes('/') && !t.includes(':')) return undefined;
  const r = tryReference(t);
  if (!r) return undefined;
  const explicit = hasExplicitVersion(t);
  return settle(s, `${r.registry}/${r.repository}`, explicit ? r.tag : undefined, r.digest, path, { ref: full(s, path) }, enabled, annotated);
}

function settle(s: Scope, name: string, tag: string | undefined, digest: string | undefined, path: PathPart[], paths: ImageValuesPaths, enabled: boolean, annotated: Map<string, string>): ValuesImage | undefined {
  const base = tryReference(name);
  if (!base || name.includes('@') || hasExplicitVersion(name.slice(name.lastIndexOf('/')))) {
    // `repository: repo:tag` (tag inside the repository) is a reference of its own
    const whole = tryReference(name);
    if (!whole) return undefined;
    return { ...result(s, whole, path, paths, enabled), tagFrom: 'values', guessed: false };
  }
  const key = `${base.registry}/${base.repository}`;
  let tagFrom: ValuesImage['tagFrom'] = 'values';
  let finalTag = tag;
  if (!finalTag && !digest) {
    if (annotated.has(key)) {
      finalTag = annotated.get(key);
      tagFrom = 'annotation';
    } else if (s.tree.metadata.appVersion) {
      finalTag = s.tree.metadata.appVersion;
      tagFrom = 'appVersion';
    } else {
      finalTag = 'latest';
      tagFrom = 'default';
    }
  }
  // (an appVersion that is no valid tag, e.g. with '+', gives no reference)
  const reference = tryReference(formatReference({ registry: base.registry, repository: base.repository, tag: finalTag, digest }));
  if (!reference) return undefined;
  return { ...result(s, reference, path, paths, enabled), tagFrom, guessed: tagFrom === 'appVersion' || tagFrom === 'default' };
}

function result(s: Scope, reference: ImageReference, path: PathPart[], paths: ImageValuesPaths, enabled: boolean): Omit<ValuesImage, 'tagFrom' | 'guessed'> {
  const at = full(s, path) || '.';
  const rule = VALUES_COMPLETIONS.find((r) => r.chart === s.tree.metadata.name && r.at.test(formatValuesPath(path)));
  const test = path.some((p) => typeof p === 'string' && /^tests?([_-]?pod|Framework)?$/i.test(p));
  return { ref: formatReference(reference), reference, chart: s.chartPath, version: s.tree.metadata.version, at, paths, enabled, test, ...(rule ? { completion: { kind: 'node-os' as const, why: rule.why } } : {}) };
}
