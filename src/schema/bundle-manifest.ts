// bundle.yaml: the first entry of a bundle tar. Written by `bundle create`, read by verify/inspect/install.
import { z } from 'zod';
import { apiVersion } from './common.ts';
import { DIGEST_RE } from '../oci/digest.ts';
import { bundleSpecSchema } from './bundle-spec.ts';

const digest = z.string().regex(DIGEST_RE, 'expected sha256:<64 hex>');
const size = z.number().int().min(0);

export const manifestChartSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  appVersion: z.string().optional(),
  file: z.string().describe('path inside the tar, charts/NAME-VERSION.tgz'),
  digest,
  size,
  source: z.string().describe('repo URL, oci:// reference or local path it came from'),
  images: z.array(z.string()).default([]).describe('the images this chart deploys (bundle images), among those the bundle carries'),
});

/** Where a bundle image comes from (bundle images, bundle.yaml). */
export const imageSourceSchema = z.strictObject({
  type: z.enum(['chart', 'list', 'spec']),
  chart: z.string().optional().describe('chart: the spec chart'),
  version: z.string().optional(),
  subchart: z.string().optional().describe('the subchart below it, by alias: grafana, a/b'),
  template: z.string().optional().describe('template file that rendered it'),
  resource: z.string().optional().describe('Kind/name of the rendered object'),
  field: z.string().optional().describe('field path in that object'),
  valuesPath: z.string().optional().describe('values path of the image (from the top chart)'),
  annotation: z.boolean().optional().describe("the chart's artifacthub.io/images names it"),
  nodeOS: z.string().optional().describe('tag completed with this nodeOS entry (an operator completes it at run time)'),
  file: z.string().optional().describe('list/spec: the file'),
  line: z.number().int().optional(),
});
export type ImageSource = z.infer<typeof imageSourceSchema>;

export const manifestImageSchema = z.strictObject({
  ref: z.string().describe('full reference, e.g. docker.io/library/nginx:1.25; the org.opencontainers.image.ref.name in images/index.json'),
  repository: z.string().describe('registry/repository without tag'),
  tag: z.string().optional(),
  digest: digest.describe('digest of the manifest or index stored under ref'),
  sourceDigest: digest.optional().describe('upstream index digest when platforms were selected from it'),
  mediaType: z.string(),
  platforms: z.array(z.string()).default([]),
  size: size.describe('bytes of all blobs of this image (shared blobs counted per image)'),
  sources: z.array(imageSourceSchema).optional().describe('where the image comes from, as bundle images prints them'),
  layers: z.array(digest).optional().describe('digests of the layer blobs of this image (all platforms kept): what a later delta bundle leaves out when this bundle is its base'),
});

export const manifestFileSchema = z.strictObject({
  name: z.string(),
  file: z.string().describe('path inside the tar, files/NAME'),
  digest,
  size,
  url: z.string(),
});

export const manifestBaseSchema = z
  .strictObject({
    name: z.string(),
    version: z.string(),
    manifestDigest: digest.describe("sha256 of the base bundle's bundle.yaml"),
    omitted: z
      .strictObject({
        blobs: z.array(z.strictObject({ digest, size })).describe('image layers the base carries, left out of this tar'),
        charts: z.array(z.string()).describe('charts/NAME-VERSION.tgz the base carries, left out of this tar'),
        files: z.array(z.string()).describe('files/NAME the base carries, left out of this tar'),
      })
      .describe('what this tar does not hold (the rest of bundle.yaml describes the whole release)'),
  })
  .describe('present in a delta bundle: the bundle it is made against, which the site must already hold (or be given)');

export const bundleManifestSchema = z.strictObject({
  apiVersion,
  kind: z.literal('BundleManifest'),
  metadata: z.strictObject({ name: z.string(), version: z.string(), createdBy: z.string() }),
  tool: z.strictObject({ name: z.string(), version: z.string() }),
  platforms: z.array(z.string()),
  charts: z.array(manifestChartSchema),
  images: z.array(manifestImageSchema),
  files: z.array(manifestFileSchema),
  blobs: z.strictObject({ count: z.number().int(), size }).describe('unique image blobs in images/'),
  base: manifestBaseSchema.optional(),
  warnings: z.array(z.string()).default([]).describe('e.g. chart values naming images the bundle does not carry'),
  spec: bundleSpecSchema.describe('the bundle spec this bundle was made from, as written (the images list above includes the image lists)'),
});
export type BundleManifest = z.infer<typeof bundleManifestSchema>;
