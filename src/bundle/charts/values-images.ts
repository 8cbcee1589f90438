// Which images a chart's values.yaml names, and which of them a bundle lacks.
// Pure. Recognised shapes (the common chart conventions):
//   image: "quay.io/prometheus/prometheus:v2.42.0"
//   image: {registry: docker.io, repository: bitnami/keycloak, tag: 21.1.2}
//   image: {repository: goharbor/harbor-core, tag: v2.9.1}
//   {repository: nvcr.io/nvidia, image: gpu-operator, version: v25.3.2}     (NVIDIA style)
// A value with an empty tag (charts default it to appVersion) matches any tag.
import { parse as parseYamlText } from 'yaml';
import { formatReference, parseReference, type ImageReference } from '../registry/reference.ts';

export interface ValuesImage {
  /** registry/repository */
  repository: string;
  tag?: string;
  /** YAML path where it was found, e.g. prometheus.prometheusSpec.image */
  at: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : typeof v === 'number' ? String(v) : undefined;
}

function tryRef(text: string): ImageReference | undefined {
  if (!/^[a-z0-9]/i.test(text) || /[{}\s]/.test(text)) return undefined;
  try {
    return parseReference(text);
  } catch {
    return undefined;
  }
}

function fromObject(o: Record<string, unknown>): { text: string; tag?: string } | undefined {
  const repository = str(o.repository) ?? str(o.repo);
  if (!repository) return undefined;
  const registry = str(o.registry);
  const image = str(o.image) ?? str(o.name);
  let path = registry ? `${registry.replace(/\/+$/, '')}/${repository}` : repository;
  if (image && !image.includes(':')) path = `${path}/${image}`;
  const tag = str(o.tag) ?? str(o.version);
  return { text: path, tag: tag?.replace(/^@/, '') };
}

export function imagesInValues(valuesText: string): ValuesImage[] {
  let doc: unknown;
  try {
    doc = parseYamlText(valuesText, { maxAliasCount: -1 });
  } catch {
    return [];
  }
  const out: ValuesImage[] = [];
  const seen = new Set<string>();
  const push = (ref: ImageReference, tag: string | undefined, at: string) => {
    const repository = `${ref.registry}/${ref.repository}`;
    const key = `${repository}:${tag ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ repository, tag, at });
  };
  const visit = (node: unknown, path: string, depth: number): void => {
    if (depth > 40 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((n, i) => visit(n, `${path}[${i}]`, depth + 1));
      return;
    }
    const o = node as Record<string, unknown>;
    const obj = fromObject(o);
    if (obj) {
      const ref = tryRef(obj.text);
      if (ref) push(ref, obj.tag && !obj.tag.startsWith('sha256:') ? obj.tag : undefined, path || '.');
    }
    for (const [k, v] of Object.entries(o)) {
      const p = path ? `${path}.${k}` : k;
      if (k === 'image' && typeof v === 'string') {
        // A full reference in one string; bare names without a tag are too ambiguous to judge.
        const text = v.trim();
        if (text.includes('/') || text.includes(':')) {
          const ref = tryRef(text);
          if (ref) push(ref, /:[^/]+$/.test(text.replace(/@.*$/, '')) ? ref.tag : undefined, p);
        }
      } else visit(v, p, depth + 1);
    }
  };
  visit(doc, '', 0);
  return out;
}

/** Values images that no bundle image matches (same registry/repository, and tag when the values give one). */
export function missingImages(found: ValuesImage[], bundleImages: ImageReference[]): ValuesImage[] {
  const byRepo = new Map<string, Set<string>>();
  for (const r of bundleImages) {
    const key = `${r.registry}/${r.repository}`;
    if (!byRepo.has(key)) byRepo.set(key, new Set());
    if (r.tag) byRepo.get(key)!.add(r.tag);
    if (r.digest) byRepo.get(key)!.add(r.digest);
  }
  return found.filter((f) => {
    const tags = byRepo.get(f.repository);
    if (!tags) return true;
    return f.tag !== undefined && !tags.has(f.tag);
  });
}

export function describeValuesImage(v: ValuesImage): string {
  return formatReference({ ...parseReference(v.repository), tag: v.tag });
}
