// The shapes charts (in values) and operators (in custom resources) use to
// name an image, recognised in one place:
//   image: "quay.io/prometheus/prometheus:v2.42.0"                      one string
//   image: {registry: docker.io, repository: bitnami/keycloak, tag: 21.1.2, digest: ""}
//   image: {repository: goharbor/harbor-core, tag: v2.9.1}
//   image: {repository: grafana/grafana, tag: "", sha: ""}              (sha: digest hex)
//   {repository: nvcr.io/nvidia, image: driver, version: 570.148.08}     (NVIDIA ClusterPolicy)
import { parseReference, type ImageReference } from '../../oci/reference.ts';
import { isSha256Hex } from '../../oci/digest.ts';

/** Which key of the map held each part (absent parts: no key or an empty value). */
export interface ShapeKeys {
  registry?: string;
  repository: string;
  image?: string;
  tag?: string;
  digest?: string;
}

export interface ImageShape {
  /** registry/repository[/image], as the map spells it (not yet normalised) */
  name: string;
  tag?: string;
  digest?: string;
  keys: ShapeKeys;
  /** the map has a `registry` key (charts let global.imageRegistry override it) */
  hasRegistryKey: boolean;
}

export function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() || undefined;
  if (typeof v === 'number') return String(v);
  return undefined;
}

const pick = (o: Record<string, unknown>, keys: string[]): [string, string] | undefined => {
  for (const k of keys) {
    const t = scalarText(o[k]);
    if (t !== undefined) return [k, t];
  }
  return undefined;
};

/** A map naming an image by parts, or undefined. */
export function imageMapShape(o: Record<string, unknown>): ImageShape | undefined {
  const repo = pick(o, ['repository', 'repo']);
  if (!repo || typeof o[repo[0]] !== 'string') return undefined;
  const registry = pick(o, ['registry']);
  const image = pick(o, ['image', 'name']);
  const tag = pick(o, ['tag', 'version']);
  const digest = pick(o, ['digest', 'sha']);
  let name = registry ? `${registry[1].replace(/\/+$/, '')}/${repo[1].replace(/^\/+/, '')}` : repo[1];
  // `image`/`name` extend the repository (NVIDIA style) unless it is itself a reference.
  const usesImage = image !== undefined && !/[:@]/.test(image[1]) && typeof o[image[0]] === 'string';
  if (usesImage) name = `${name.replace(/\/+$/, '')}/${image[1]}`;
  let digestText = digest?.[1];
  if (isSha256Hex(digestText)) digestText = `sha256:${digestText}`;
  let tagText = tag?.[1];
  if (tagText?.startsWith('@')) {
    digestText ??= tagText.slice(1);
    tagText = undefined;
  } else if (tagText?.startsWith('sha256:')) {
    digestText ??= tagText;
    tagText = undefined;
  }
  return {
    name,
    tag: tagText,
    digest: digestText,
    keys: {
      repository: repo[0],
      ...(registry ? { registry: registry[0] } : {}),
      ...(usesImage ? { image: image[0] } : {}),
      ...(tag ? { tag: tag[0] } : ('tag' in o ? { tag: 'tag' } : 'version' in o ? { tag: 'version' } : {})),
      ...(digest ? { digest: digest[0] } : 'digest' in o ? { digest: 'digest' } : {}),
    },
    hasRegistryKey: 'registry' in o,
  };
}

/** A parsed reference, or undefined for text that is not one (templates, blanks, words). */
export function tryReference(text: string): ImageReference | undefined {
  if (!/^[a-z0-9[]/i.test(text) || /[{}\s"'$]/.test(text)) return undefined;
  try {
    return parseReference(text);
  } catch {
    return undefined;
  }
}

/** Whether a string names its tag or digest explicitly (`name:tag`, `name@sha256:`). */
export function hasExplicitVersion(text: string): boolean {
  return text.includes('@') || /:[^/]+$/.test(text);
}

/**
 * Image references inside an argument or env value, e.g.
 * `--prometheus-config-reloader=quay.io/prometheus-operator/prometheus-config-reloader:v0.63.0`.
 * Only references with a registry host and a tag or digest count: bare words are too ambiguous.
 */
export function referencesInText(text: string): string[] {
  const out: string[] = [];
  for (const token of text.split(/[\s=,;"']+/)) {
    const t = token.replace(/^[^a-z0-9]+/i, '');
    const slash = t.indexOf('/');
    if (slash <= 0) continue;
    const host = t.slice(0, slash);
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$|^localhost(:\d+)?$|^[a-z0-9-]+:\d+$/i.test(host)) continue;
    if (!hasExplicitVersion(t.slice(slash))) continue;
    if (/^https?:/i.test(token)) continue;
    if (tryReference(t)) out.push(t);
  }
  return out;
}
