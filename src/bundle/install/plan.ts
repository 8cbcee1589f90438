// Where bundle install puts things (pure): the site registry target parsed
// from --registry, the repository each image and chart lands in, the Helm OCI
// artifact of a chart, and the values override for helm/helmfile.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { UsageError } from '../../errors.ts';
import { HELM_CHART_MEDIA_TYPE, HELM_CONFIG_MEDIA_TYPE } from '../charts/oci-chart.ts';
import { MEDIA } from '../../oci/registry/client.ts';
import { registryMirrorPath, targetBase, type TargetLayout } from './targets.ts';

export { targetBase };

export { HELM_CHART_MEDIA_TYPE, HELM_CONFIG_MEDIA_TYPE };
/** Charts land in REGISTRY[/PREFIX]/charts/NAME:VERSION. */
export const CHARTS_REPOSITORY = 'charts';
export const VALUES_FILE = 'registry-values.yaml';

export interface RegistryTarget {
  /** host[:port] as given ('harbor.site.local', '127.0.0.1:5000', '[::1]:5000') */
  host: string;
  /** path prefix without slashes at either end, '' when none */
  prefix: string;
}

const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/;
// The distribution spec's path-component grammar.
const COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

/** Parses --registry HOST[:PORT][/PREFIX]; a scheme is refused (TLS is decided by --insecure / loopback). */
export function parseRegistryTarget(value: string): RegistryTarget {
  const bad = (why: string) => new UsageError(`bundle install: --registry ${why} (got '${value}'; expected HOST[:PORT][/PREFIX], e.g. harbor.site.local/astrago)`);
  if (/^[a-z]+:\/\//i.test(value)) throw bad('takes no scheme');
  const s = value.replace(/\/+$/, '');
  const slash = s.indexOf('/');
  const host = slash === -1 ? s : s.slice(0, slash);
  const prefix = slash === -1 ? '' : s.slice(slash + 1);
  if (!HOST_RE.test(host)) throw bad('has an invalid host');
  const port = /:(\d+)$/.exec(host)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw bad('has an invalid port');
  if (prefix) {
    for (const c of prefix.split('/')) {
      if (!COMPONENT_RE.test(c)) throw bad(`has an invalid path component '${c}' (lower-case letters, digits, '.', '_', '-')`);
    }
  }
  return { host, prefix };
}

/** Charts land in REGISTRY[/PREFIX]/charts/NAME (images: targets.ts). */
export function chartRepository(t: RegistryTarget, chartName: string): string {
  return t.prefix ? `${t.prefix}/${CHARTS_REPOSITORY}/${chartName}` : `${CHARTS_REPOSITORY}/${chartName}`;
}

/** A reference as the site will use it: HOST/REPO:TAG@DIGEST (tag and digest when known). */
export function siteReference(t: RegistryTarget, repository: string, tag: string | undefined, digest: string | undefined): string {
  return `${t.host}/${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
}

export interface ImageMapping {
  /** the reference as written in the bundle spec ('docker.io/library/nginx:1.25') */
  original: string;
  /** the original's registry host ('docker.io') */
  originalRegistry: string;
  /** the original's repository path ('library/nginx') */
  originalRepository: string;
  /** site registry host */
  registry: string;
  /** repository in the site registry ('astrago/library/nginx') */
  repository: string;
  tag?: string;
  digest: string;
}

/** Where an image landed: HOST/REPO:TAG, or HOST/REPO@DIGEST for a by-digest reference. */
export function mappingRef(m: ImageMapping): string {
  return `${m.registry}/${m.repository}${m.tag ? `:${m.tag}` : `@${m.digest}`}`;
}

/**
 * The values override for helm/helmfile: global.imageRegistry for charts
 * that honour it, and the full original -> site map for templating
 * (helmfile) or for reading. global.imageRegistry replaces a chart's source
 * registry and keeps its repository path, so it is right only where every
 * source registry lands on one path: always with the flat layout, with the
 * by-registry layout only when the bundle's images come from one registry
 * (else it is left out: values/<chart>.yaml and the runtime mirrors serve).
 */
export function valuesOverride(t: RegistryTarget, images: ImageMapping[], charts: Array<{ name: string; version: string }>, layout: TargetLayout = 'by-registry'): string {
  const base = targetBase(t);
  const sources = [...new Set(images.map((i) => i.originalRegistry))].sort();
  const imageRegistry = layout === 'flat' ? base : sources.length === 1 ? registryMirrorPath(t, sources[0]!, layout) : undefined;
  const doc = {
    ...(imageRegistry ? { global: { imageRegistry } } : {}),
    astrago: {
      registry: base,
      layout,
      registries: Object.fromEntries(sources.map((s) => [s, registryMirrorPath(t, s, layout)])),
      chartRepository: `oci://${base}/${CHARTS_REPOSITORY}`,
      charts: Object.fromEntries(charts.map((c) => [c.name, { ref: `oci://${base}/${CHARTS_REPOSITORY}/${c.name}`, version: c.version }])),
      images: Object.fromEntries(
        [...images]
          .sort((a, b) => a.original.localeCompare(b.original))
          .map((i) => [
            i.original,
            {
              registry: i.registry,
              repository: i.repository,
              ...(i.tag ? { tag: i.tag } : {}),
              digest: i.digest,
              ref: mappingRef(i),
            },
          ]),
      ),
    },
  };
  const head = [
    '# Written by astrago-check bundle install: points Helm charts at the site registry.',
    '# Use with: helm install ... -f registry-values.yaml   (or helmfile: values: [registry-values.yaml])',
    '# global.imageRegistry serves charts that honour it; astrago.images maps each original image to its site copy;',
    '# values/<chart>.yaml sets each chart\'s own image values; containerd/ and registries.yaml make nodes pull the originals from the site.',
  ];
  if (!imageRegistry) head.push(`# No global.imageRegistry: the images come from ${sources.length} registries, each on its own path (astrago.registries).`);
  return head.join('\n') + '\n' + stringify(doc, { lineWidth: 0 });
}

/** Helm's chart metadata field order (helm push marshals Chart.yaml's Metadata struct as JSON). */
const HELM_METADATA_ORDER = ['name', 'home', 'sources', 'version', 'description', 'keywords', 'maintainers', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'deprecated', 'annotations', 'kubeVersion', 'dependencies', 'type'];

export interface HelmArtifact {
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * The OCI artifact `helm push` makes of a chart: config = Chart.yaml metadata
 * as JSON, one layer = the .tgz. No timestamp annotation, so the manifest (and
 * its digest) is the same on every install and a second run skips it.
 */
export function helmArtifact(chart: Record<string, unknown>, tgz: { digest: string; size: number }): HelmArtifact {
  const ordered: Record<string, unknown> = {};
  for (const k of HELM_METADATA_ORDER) {
    const v = chart[k];
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) || v === false) continue;
    ordered[k] = v;
  }
  const config = Buffer.from(JSON.stringify(ordered));
  const configDigest = sha256(config);
  const annotations: Record<string, string> = {};
  if (typeof chart.description === 'string' && chart.description) annotations['org.opencontainers.image.description'] = chart.description;
  annotations['org.opencontainers.image.title'] = String(chart.name ?? '');
  annotations['org.opencontainers.image.version'] = String(chart.version ?? '');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: HELM_CONFIG_MEDIA_TYPE, digest: configDigest, size: config.length },
      layers: [{ mediaType: HELM_CHART_MEDIA_TYPE, digest: tgz.digest, size: tgz.size }],
      annotations,
    }),
  );
  return { config, configDigest, manifest, manifestDigest: sha256(manifest) };
}

/** Helm's OCI tag for a chart version: '+' is not allowed in a tag, helm writes '_'. */
export function chartTag(version: string): string {
  return version.replace(/\+/g, '_');
}
