// The bundle spec (kind BundleSpec): what `bundle create` downloads. Secrets by reference only.
import { z } from 'zod';
import { apiVersion, envVarName } from './common.ts';
import { parseReference } from '../oci/reference.ts';
import { SHA256_HEX_RE } from '../oci/digest.ts';

export const PLATFORM_RE = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;
export const platformSchema = z
  .string()
  .refine((s) => s === 'all' || PLATFORM_RE.test(s), { message: "expected os/arch[/variant] like linux/amd64, or 'all'" });

/** An image reference, checked by the same parser the registry client uses. */
export const imageRefSchema = z.string().superRefine((s, ctx) => {
  try {
    parseReference(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/** Versions are strings (YAML reads an unquoted 1.10 as the number 1.1). */
const versionString = z.string().min(1);

const chartName = z.string().regex(/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/, 'expected a chart name (lowercase letters, digits, . _ -)');

export const chartSourceSchema = z
  .strictObject({
    name: chartName,
    version: versionString.optional().describe('chart version (required for repo and oci; a local chart uses its Chart.yaml)'),
    repo: z.url({ protocol: /^https?$/ }).optional().describe('Helm HTTP repository URL (index.yaml beside it)'),
    oci: z.string().regex(/^oci:\/\/[^\s]+$/, 'expected oci://REGISTRY/PATH').optional().describe('oci:// chart reference without the version'),
    path: z.string().min(1).optional().describe('local chart directory, relative to the spec file'),
    values: z.array(z.string().min(1)).default([]).describe('values files for this chart (relative to the spec file), in order, as helm --values; used to find its images'),
    set: z.record(z.string(), z.unknown()).default({}).describe('values set by path, as helm --set: {"grafana.enabled": false, "image.tag": "1.2"}; applied after the values files'),
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a Kubernetes namespace name').optional().describe('namespace the chart is rendered for (default: default)'),
  })
  .superRefine((c, ctx) => {
    const sources = (['repo', 'oci', 'path'] as const).filter((k) => c[k] !== undefined);
    if (sources.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `expected exactly one of repo, oci, path (got ${sources.length ? sources.join(', ') : 'none'})` });
    } else if (sources[0] !== 'path' && !c.version) {
      ctx.addIssue({ code: 'custom', path: ['version'], message: `required field is missing (a ${sources[0]} chart needs a version)` });
    }
  });
export type ChartSource = z.infer<typeof chartSourceSchema>;

/**
 * A file mode: an integer up to 0o777 (YAML's 0o755 reads as 493), or octal
 * digits in a string ("0755", "755", "0o755"). YAML reads `mode: 755` and
 * `mode: 0755` as the decimal 755: refused with the octal spelling to use,
 * rather than taken as a mode nobody meant.
 */
const fileModeSchema = z.union([z.number(), z.string()]).transform((v, ctx): number => {
  if (typeof v === 'string') {
    const m = /^(?:0o?)?([0-7]{3})$/.exec(v.trim());
    if (m) return parseInt(m[1]!, 8);
    ctx.addIssue({ code: 'custom', message: `expected octal digits like "0755" (got "${v}")` });
    return z.NEVER;
  }
  if (Number.isInteger(v) && v >= 0 && v <= 0o777) return v;
  const digits = String(v);
  const hint = /^[0-7]{3}$/.test(digits) ? `write it in octal: 0o${digits} or "0${digits}" (YAML reads ${digits} as a decimal number)` : 'expected a mode from 0 to 0o777, e.g. 0o755 or "0755"';
  ctx.addIssue({ code: 'custom', message: `mode ${digits}: ${hint}` });
  return z.NEVER;
}).pipe(z.number().int().min(0).max(0o777));

export const fileSourceSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a plain file name (letters, digits, . _ -)'),
  url: z.url({ protocol: /^https?$/ }).describe('where to download it'),
  sha256: z.string().regex(SHA256_HEX_RE, 'expected 64 lowercase hex digits').describe('expected sha256 of the download'),
  mode: fileModeSchema.optional().describe('file mode in the bundle, in octal: 0o755 or "0755" for binaries (default 0o644); a plain integer is taken as written (493 = 0o755)'),
});
export type FileSource = z.infer<typeof fileSourceSchema>;

export const registrySettingsSchema = z
  .strictObject({
    host: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, 'expected host[:port]').describe('registry host[:port] as in image references (docker.io for Docker Hub)'),
    caFile: z.string().optional().describe('PEM CA bundle for this registry, relative to the spec file'),
    insecure: z.boolean().optional().describe('plain HTTP or unverified TLS (only for registries you trust)'),
    username: z.string().optional(),
    passwordEnv: envVarName.optional().describe('environment variable holding the password or token'),
    passwordFile: z.string().optional().describe('file holding the password or token'),
  })
  .refine((r) => !(r.passwordEnv && r.passwordFile), { message: 'give passwordEnv or passwordFile, not both' });
export type RegistrySettings = z.infer<typeof registrySettingsSchema>;

export const bundleSpecSchema = z.strictObject({
  apiVersion,
  kind: z.literal('BundleSpec'),
  metadata: z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a name (letters, digits, . _ -)'),
    version: versionString,
  }),
  platforms: z.array(platformSchema).min(1).default(['linux/amd64']).describe("images keep only these platforms; 'all' keeps whole indexes"),
  charts: z.array(chartSourceSchema).default([]),
  images: z.array(imageRefSchema).default([]).describe('image references'),
  imageLists: z.array(z.string().min(1)).default([]).describe('files with one image reference per line (# comments), relative to the spec file'),
  files: z.array(fileSourceSchema).default([]),
  discoverImages: z.boolean().default(true).describe('carry the images the charts deploy (found by rendering them), besides images and imageLists'),
  kubeVersion: z.string().regex(/^v?\d+\.\d+(\.\d+)?$/, 'expected a Kubernetes version like 1.29 or v1.29.8').optional().describe("the site's Kubernetes version, for charts' kubeVersion constraints and .Capabilities when rendering"),
  nodeOS: z.array(z.string().regex(/^[a-z][a-z0-9]*\d+(\.\d+)*$/, 'expected an OS as <ID><VERSION_ID> of /etc/os-release, like ubuntu22.04 or rhel9.4')).default([]).describe("the GPU nodes' OS: completes image tags an operator finishes at run time (GPU Operator's driver: 570.148.08 -> 570.148.08-ubuntu22.04), one image per OS"),
  registries: z.array(registrySettingsSchema).default([]),
});
export type BundleSpec = z.infer<typeof bundleSpecSchema>;
