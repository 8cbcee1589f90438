// The preflight report: the JSON shape scripts and CI jobs read (docs/formats.md).
import { z } from 'zod';
import { apiVersion, categorySchema, langSchema, statusSchema } from './common.ts';

export const resultSchema = z.strictObject({
  id: z.string(),
  node: z.string(),
  checklist: z.string().describe('customer checklist item id, e.g. OS-03'),
  category: categorySchema,
  title: z.string().optional(),
  status: statusSchema,
  message: z.string(),
  facts: z.record(z.string(), z.unknown()),
  remediation: z.string().optional(),
  durationMs: z.number(),
});
export type CheckResult = z.infer<typeof resultSchema>;

export const summarySchema = z.strictObject({
  pass: z.number().int(),
  warn: z.number().int(),
  fail: z.number().int(),
  skip: z.number().int(),
  error: z.number().int(),
});
export type Summary = z.infer<typeof summarySchema>;

export const reportSchema = z.strictObject({
  apiVersion,
  kind: z.literal('PreflightReport'),
  tool: z.strictObject({ name: z.string(), version: z.string() }),
  createdAt: z.string(),
  host: z.string().describe('the machine that ran the checks'),
  site: z.string(),
  lang: langSchema.optional(),
  profile: z.string().optional(),
  durationMs: z.number().optional(),
  nodes: z
    .array(z.strictObject({
        name: z.string(),
        address: z.string().optional(),
        roles: z.array(z.string()),
        reachable: z.boolean().optional(),
        durationMs: z.number().optional().describe("from the run's start to the node's last result (its checks run in parallel: not the sum of their durations)"),
      }),)
    .optional(),
  summary: summarySchema,
  results: z.array(resultSchema),
});
export type Report = z.infer<typeof reportSchema>;
