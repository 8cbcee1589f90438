// NAME.tar.parts.json: the sidecar of a split bundle (bundle create --split, bundle split).
// Concatenated in order, the parts are byte for byte NAME.tar.
import { z } from 'zod';
import { apiVersion } from './common.ts';
import { SHA256_HEX_RE } from '../oci/digest.ts';

const hex = z.string().regex(SHA256_HEX_RE, 'expected 64 lower-case hex digits');
const size = z.number().int().min(0);

export const bundlePartsSchema = z.strictObject({
  apiVersion,
  kind: z.literal('BundleParts'),
  tar: z.string().describe('the tar the parts make up (NAME.tar), a file name without directories'),
  size: size.describe('bytes of the whole tar'),
  sha256: hex.describe('sha256 of the whole tar (as in NAME.tar.sha256)'),
  partSize: z.number().int().min(1).describe('bytes per part; the last part may be smaller'),
  parts: z
    .array(
      z.strictObject({
        file: z.string().describe('NAME.tar.000, NAME.tar.001, ... beside this file'),
        size,
        sha256: hex,
      }),
    )
    .min(1),
});
export type BundleParts = z.infer<typeof bundlePartsSchema>;
