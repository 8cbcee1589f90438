// bundle inspect --format cyclonedx: the bundle's inventory as a CycloneDX
// 1.6 JSON BOM, for a security review ("what is on this medium"). Every image
// is a container component with its package URL (pkg:oci/NAME@sha256:…,
// repository_url and tag qualifiers: where it came from), every chart an
// application and every file a file component, each with its SHA-256. The
// bundle itself is the BOM's subject and depends on all of them (a delta's
// BOM lists the whole release, and names the base in its properties). Pure and
// deterministic: the serial number derives from bundle.yaml's digest, and
// no timestamp is written (the same bundle gives the same BOM).
import { parseReference } from '../../oci/reference.ts';
import type { BundleInspection } from './inspect.ts';

export const CYCLONEDX_SPEC_VERSION = '1.6';

type Hashes = Array<{ alg: 'SHA-256'; content: string }>;
const sha256 = (digest: string): Hashes => [{ alg: 'SHA-256', content: digest.replace(/^sha256:/, '') }];
const prop = (name: string, value: string) => ({ name: `astrago:${name}`, value });

/** A purl qualifier value: percent-encoded except the characters a repository URL is made of. */
function qualifier(value: string): string {
  return value.replace(/[^A-Za-z0-9._~/:-]/g, (c) => [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/** pkg:oci/NAME@sha256:HEX?repository_url=REGISTRY/REPOSITORY&tag=TAG (purl-spec's oci type; the name is the last path segment, lower case). */
export function ociPurl(ref: string, digest: string, platforms: string[]): string {
  const r = parseReference(ref);
  const name = r.repository.split('/').at(-1)!.toLowerCase();
  const q: string[] = [];
  const arch = platforms.length === 1 ? platforms[0]!.split('/')[1] : undefined;
  if (arch) q.push(`arch=${qualifier(arch)}`);
  q.push(`repository_url=${qualifier(`${r.registry}/${r.repository}`)}`);
  if (r.tag) q.push(`tag=${qualifier(r.tag)}`);
  return `pkg:oci/${encodeURIComponent(name)}@${digest}?${q.join('&')}`;
}

/** A name-based UUID (RFC 4122 layout, version 5 bits) from a hex digest. */
function uuidOf(hex: string): string {
  const b = Buffer.from(hex.slice(0, 32), 'hex');
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function cyclonedxOf(r: BundleInspection, opts: { tarSha256?: string } = {}): Record<string, unknown> {
  const images = r.images.map((i) => ({
    type: 'container',
    'bom-ref': `image:${i.ref}`,
    name: parseReference(i.ref).repository,
    version: parseReference(i.ref).tag ?? i.digest,
    purl: ociPurl(i.ref, i.digest, i.platforms),
    hashes: sha256(i.digest),
    properties: [prop('reference', i.ref), prop('mediaType', i.mediaType), ...i.platforms.map((p) => prop('platform', p)), prop('size', String(i.size))],
  }));
  const charts = r.charts.map((c) => ({
    type: 'application',
    'bom-ref': `chart:${c.name}@${c.version}`,
    name: c.name,
    version: c.version,
    description: 'Helm chart',
    hashes: sha256(c.digest),
    properties: [prop('file', c.file), prop('size', String(c.size))],
  }));
  const files = r.files.map((f) => ({
    type: 'file',
    'bom-ref': `file:${f.name}`,
    name: f.name,
    hashes: sha256(f.digest),
    properties: [prop('file', f.file), prop('size', String(f.size))],
  }));
  const all = [...images, ...charts, ...files];
  return {
    bomFormat: 'CycloneDX',
    specVersion: CYCLONEDX_SPEC_VERSION,
    serialNumber: `urn:uuid:${uuidOf(r.manifestDigest.replace(/^sha256:/, ''))}`,
    version: 1,
    metadata: {
      tools: { components: [{ type: 'application', name: r.tool.name, version: r.tool.version }] },
      component: {
        type: 'data',
        'bom-ref': 'bundle',
        name: r.bundle.name,
        version: r.bundle.version,
        description: 'astrago-check air-gap bundle',
        ...(opts.tarSha256 ? { hashes: sha256(opts.tarSha256) } : {}),
        properties: [
          prop('manifestDigest', r.manifestDigest),
          ...(r.delta ? [prop('deltaOf', `${r.delta.base.name} ${r.delta.base.version}`), prop('deltaOfManifestDigest', r.delta.base.manifestDigest)] : []),
          ...r.platforms.map((p) => prop('platform', p)), ...(r.bundle.tool ? [prop('madeBy', `${r.bundle.tool.name} ${r.bundle.tool.version}`)] : []),
        ],
      },
    },
    components: all,
    dependencies: [{ ref: 'bundle', dependsOn: all.map((c) => c['bom-ref']) }, ...all.map((c) => ({ ref: c['bom-ref'] }))],
  };
}
