// The facts of a run, kept (--save-facts FILE) so they can be judged again later, elsewhere,
// against another profile, with no connection at all (--from-facts FILE): what each probe
// found on each node, or the error that stood for it, and the site checks' facts. Judging
// is pure (facts + profile), so the same facts and profile give the same statuses.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError, UsageError } from '../errors.ts';
import { API_VERSION, roleSchema } from '../schema/common.ts';
import { siteSchema, type Site } from '../schema/site.ts';
import { TOOL_NAME, TOOL_VERSION } from '../version.ts';
import type { RecordedFacts } from './engine.ts';

const errorSchema = z.strictObject({ message: z.string(), code: z.string().optional(), timedOutMs: z.number().optional() });

export const factsFileSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('PreflightFacts'),
  tool: z.strictObject({ name: z.string(), version: z.string() }),
  createdAt: z.string(),
  host: z.string(),
  durationMs: z.number(),
  /** The per-check timeout of the run (site checks judge against it). */
  timeoutMs: z.number(),
  /** --only/--skip of the run: checks left out then have no facts, and are left out again. */
  only: z.array(z.string()).optional(),
  skip: z.array(z.string()).optional(),
  site: siteSchema.optional(),
  nodes: z.array(
    z.strictObject({
      name: z.string(),
      address: z.string().optional(),
      roles: z.array(roleSchema),
      reachable: z.boolean().optional(),
      isRoot: z.boolean(),
    }),
  ),
  checks: z.array(
    z.strictObject({ check: z.string(), node: z.string(), facts: z.unknown().optional(), error: errorSchema.optional(), durationMs: z.number() }),
  ),
  siteChecks: z.array(z.strictObject({ check: z.string(), facts: z.unknown().optional(), error: errorSchema.optional(), durationMs: z.number() })),
});
export type FactsFile = z.infer<typeof factsFileSchema>;

/** Collects the engine's records (RunChecksOptions.onFacts) of one run. */
export class FactsRecorder {
  readonly isRoot = new Map<string, boolean>();
  readonly checks: FactsFile['checks'] = [];
  readonly siteChecks: FactsFile['siteChecks'] = [];

  readonly record = (r: RecordedFacts): void => {
    if (r.kind === 'node') this.isRoot.set(r.node, r.isRoot);
    else if (r.kind === 'check') this.checks.push({ check: r.check, node: r.node!, ...pick(r), durationMs: r.durationMs });
    else this.siteChecks.push({ check: r.check, ...pick(r), durationMs: r.durationMs });
  };

  document(run: {
    host: string;
    startedAt: Date;
    durationMs: number;
    timeoutMs: number;
    only?: string[];
    skip?: string[];
    site?: Site;
    nodes: { name: string; address?: string; roles: FactsFile['nodes'][number]['roles']; reachable?: boolean }[];
  }): FactsFile {
    return {
      apiVersion: API_VERSION,
      kind: 'PreflightFacts',
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
      createdAt: run.startedAt.toISOString(),
      host: run.host,
      durationMs: Math.round(run.durationMs),
      timeoutMs: run.timeoutMs,
      ...(run.only?.length ? { only: run.only } : {}),
      ...(run.skip?.length ? { skip: run.skip } : {}),
      ...(run.site ? { site: run.site } : {}),
      nodes: run.nodes.map((n) => ({ name: n.name, ...(n.address ? { address: n.address } : {}), roles: n.roles, ...(n.reachable !== undefined ? { reachable: n.reachable } : {}), isRoot: this.isRoot.get(n.name) ?? false })),
      checks: this.checks,
      siteChecks: this.siteChecks,
    };
  }
}

function pick(r: { facts?: unknown; error?: FactsFile['checks'][number]['error'] }) {
  return r.error ? { error: r.error } : { facts: r.facts };
}

/** Reads and validates a facts file; errors name the file and the field (exit 2). */
export function loadFactsFile(file: string): FactsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`preflight: --from-facts ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError({ file, expected: `JSON written by --save-facts (${(err as Error).message})` });
  }
  const parsed = factsFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError({ file, field: issue.path.join('.') || undefined, expected: `${issue.message} (a PreflightFacts document written by --save-facts)` });
  }
  return parsed.data;
}
