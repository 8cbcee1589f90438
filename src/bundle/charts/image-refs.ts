// Images in rendered manifests (`helm template` output). Pure.
// - every container, init container and ephemeral container of any object
//   (Pod templates of every workload kind, CronJob's jobTemplate, operator CRs
//   with `containers:`), and references inside their args, command and env values;
// - `image:` strings and image maps (registry/repository/image|name/tag|version/digest)
//   anywhere in other objects, as custom resources write them;
// - Pods of `helm.sh/hook: test` are marked, not dropped (the caller decides).
// Some operators complete a tag at run time (GPU Operator appends the node's
// OS to the driver's); those hits carry `completion`.
import { parse as parseYamlText } from 'yaml';
import { formatReference, type ImageReference } from '../../oci/reference.ts';
import { hasExplicitVersion, imageMapShape, referencesInText, tryReference } from './image-shapes.ts';
import { formatValuesPath, isMap, type PathPart } from './values-merge.ts';

export interface RenderedImage {
  ref: string;
  reference: ImageReference;
  /** the (sub)chart whose template made it, e.g. `kube-prometheus-stack/grafana` */
  chart: string;
  /** template file inside that chart, e.g. templates/deployment.yaml */
  template?: string;
  /** Kind/name of the object */
  resource: string;
  /** field path inside the object, e.g. spec.template.spec.containers[0].image */
  field: string;
  /** from a test hook (helm.sh/hook: test) */
  test: boolean;
  /** under an `enabled: false` of a custom resource (ClusterPolicy's dcgm, gds, ...): the operator does not deploy it */
  disabled: boolean;
  /** the tag an operator completes at run time, and how (see RUNTIME_COMPLETIONS) */
  completion?: RuntimeCompletion;
}

export interface RuntimeCompletion {
  /** what the operator appends: the node's OS as `<ID><VERSION_ID>` of /etc/os-release, e.g. ubuntu22.04 */
  kind: 'node-os';
  /** e.g. "GPU Operator appends the node's OS (-ubuntu22.04) to the driver tag" */
  why: string;
}

/** Custom-resource fields whose image tag the operator completes at run time. */
const RUNTIME_COMPLETIONS: Array<{ kind: string; field: RegExp; why: string }> = [
  { kind: 'ClusterPolicy', field: /^spec\.(driver|vgpuManager|gds|gdrcopy)$/, why: "GPU Operator appends the node's OS to this tag (570.148.08 becomes 570.148.08-ubuntu22.04)" },
  { kind: 'NVIDIADriver', field: /^spec$/, why: "GPU Operator appends the node's OS to this tag (570.148.08 becomes 570.148.08-ubuntu22.04)" },
];

/** The same, found by the values walk (no render): the chart and the values path of the image map. */
export const VALUES_COMPLETIONS: Array<{ chart: string; at: RegExp; why: string }> = [
  { chart: 'gpu-operator', at: /^(driver|vgpuManager|gds|gdrcopy)$/, why: RUNTIME_COMPLETIONS[0]!.why },
];

const SKIP_KINDS = new Set(['CustomResourceDefinition', 'ConfigMap', 'Secret']);
const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

interface Doc {
  source?: string;
  object: Record<string, unknown>;
}

/** Splits helm's output into objects, each with its `# Source:` path. */
export function renderedDocuments(text: string): Doc[] {
  const docs: Doc[] = [];
  for (const chunk of text.split(/^---[ \t]*$/m)) {
    const source = /^# Source: (.+)$/m.exec(chunk)?.[1]?.trim();
    let object: unknown;
    try {
      object = parseYamlText(chunk, { maxAliasCount: -1 });
    } catch {
      continue;
    }
    if (isMap(object) && typeof object.kind === 'string') {
      // a List holds objects of its own
      if (object.kind.endsWith('List') && Array.isArray(object.items)) for (const it of object.items) isMap(it) && docs.push({ source, object: it });
      else docs.push({ source, object });
    }
  }
  return docs;
}

/** `parent/charts/sub/templates/x.yaml` -> chart `parent/sub`, template `templates/x.yaml`. */
export function sourceChart(source: string | undefined, fallback: string): { chart: string; template?: string } {
  if (!source) return { chart: fallback };
  const parts = source.split('/');
  const chart: string[] = [parts[0]!];
  let i = 1;
  while (parts[i] === 'charts' && i + 2 < parts.length) {
    chart.push(parts[i + 1]!);
    i += 2;
  }
  return { chart: chart.join('/'), template: parts.slice(i).join('/') };
}

export function imagesInManifests(text: string, topChart: string): RenderedImage[] {
  const out: RenderedImage[] = [];
  for (const d of renderedDocuments(text)) {
    const kind = String(d.object.kind);
    if (SKIP_KINDS.has(kind)) continue;
    const md = isMap(d.object.metadata) ? d.object.metadata : {};
    const hook = isMap(md.annotations) ? String(md.annotations['helm.sh/hook'] ?? '') : '';
    const test = hook.split(',').some((h) => h.trim() === 'test' || h.trim() === 'test-success');
    const base = { ...sourceChart(d.source, topChart), resource: `${kind}/${String(md.name ?? '?')}`, test };
    const push = (text: string, path: PathPart[], disabled: boolean, completion?: RuntimeCompletion) => {
      const reference = tryReference(text);
      if (reference) out.push({ ...base, ref: formatReference(reference), reference, field: formatValuesPath(path), disabled, ...(completion ? { completion } : {}) });
    };
    walk(kind, d.object, [], false, push);
  }
  return out;
}

type Push = (text: string, path: PathPart[], disabled: boolean, c?: RuntimeCompletion) => void;

function walk(kind: string, node: unknown, path: PathPart[], disabledAbove: boolean, push: Push): void {
  if (path.length > 60 || node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    node.forEach((n, i) => walk(kind, n, [...path, i], disabledAbove, push));
    return;
  }
  const o = node as Record<string, unknown>;
  const disabled = disabledAbove || o.enabled === false;
  const field = formatValuesPath(path);
  const last = path[path.length - 2];
  const isContainer = typeof last === 'string' && CONTAINER_LISTS.has(last) && typeof path[path.length - 1] === 'number';
  if (isContainer) {
    if (typeof o.image === 'string' && o.image.trim()) push(o.image.trim(), [...path, 'image'], disabled);
    containerTexts(o, path, (t, p) => push(t, p, disabled));
    return;
  }
  const shape = imageMapShape(o);
  if (shape && (shape.tag || shape.digest)) {
    const rule = RUNTIME_COMPLETIONS.find((r) => r.kind === kind && r.field.test(field));
    const text = `${shape.name}${shape.tag ? `:${shape.tag}` : ''}${shape.digest ? `@${shape.digest}` : ''}`;
    push(text, path, disabled, rule ? { kind: 'node-os', why: rule.why } : undefined);
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === 'image' && typeof v === 'string') {
      const t = v.trim();
      if ((t.includes('/') || hasExplicitVersion(t)) && !(shape && shape.keys.image === 'image')) push(t, [...path, k], disabled);
    } else if (typeof v === 'object') walk(kind, v, [...path, k], disabled, push);
  }
}

function containerTexts(c: Record<string, unknown>, path: PathPart[], push: (text: string, path: PathPart[]) => void): void {
  for (const key of ['command', 'args'] as const) {
    const list = c[key];
    if (!Array.isArray(list)) continue;
    list.forEach((a, i) => {
      if (typeof a === 'string') for (const r of referencesInText(a)) push(r, [...path, key, i]);
    });
  }
  if (Array.isArray(c.env)) {
    c.env.forEach((e, i) => {
      if (isMap(e) && typeof e.value === 'string') for (const r of referencesInText(e.value)) push(r, [...path, 'env', i, 'value']);
    });
  }
}
