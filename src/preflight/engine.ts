// The preflight engine: every (node, check) pair runs in parallel, `concurrency`
// checks at a time on each node (nodes do not queue behind one another), each
// with its own timeout through an AbortSignal, so a check that hangs or throws
// is reported as `error` and holds up nothing else. A node's checks start as
// soon as its host is ready. Site (cross-node) checks run after the node checks.
import pLimit from 'p-limit';
import type { Category, Lang, Status } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import type { CheckResult } from '../schema/report.ts';
import type { Site } from '../schema/site.ts';
import { checkIdMatches, checklistRef } from './profile.ts';
import { mergeGathers } from './hosts/batch.ts';
import type { CheckDef, Gather, Host, JudgeContext, Judgement, NodeInfo, SiteCheckDef } from './types.ts';

export interface EngineNode {
  info: NodeInfo;
  /** null when the node could not be reached (its checks are skipped with `unreachable`);
   *  a promise while its connection is still being opened. */
  host: Host | null | Promise<Host | null>;
  unreachable?: string;
}

export interface RunChecksOptions {
  nodes: EngineNode[];
  checks: CheckDef[];
  siteChecks?: SiteCheckDef[];
  profile: Profile;
  site?: Site;
  /** Per check, probe and judgement together. */
  timeoutMs: number;
  concurrency: number;
  lang: Lang;
  /** Check ids or prefixes (see checkIdMatches); empty = all. */
  only?: string[];
  skip?: string[];
  env?: NodeJS.ProcessEnv;
  /** Directory of the site file (relative file references in it). */
  siteDir?: string;
  /** Called as each result is ready (progress display). */
  onResult?(result: CheckResult): void;
  /** Cancels everything still running (e.g. Ctrl-C). */
  signal?: AbortSignal;
  /** Called with what each probe found (or why it failed), so a run's facts can be judged again (--save-facts). */
  onFacts?(r: RecordedFacts): void;
}

/** A probe's outcome as kept for judging again: its facts, or the error that stood for them. */
export type RecordedFacts =
  | { kind: 'node'; node: string; isRoot: boolean }
  | { kind: 'check' | 'site'; check: string; node?: string; facts?: unknown; error?: RecordedError; durationMs: number };

export interface RecordedError {
  message: string;
  /** e.g. ERR_NODE_UNREACHABLE (the check is then skipped, not an error). */
  code?: string;
  /** The check ran past its timeout (this many ms). */
  timedOutMs?: number;
}

/** The error a probe threw, as data (recordedError) and back (errorOf): judged alike either way. */
export function recordedError(err: unknown): RecordedError {
  if (err instanceof CheckTimeoutError) return { message: err.message, timedOutMs: err.ms };
  const code = (err as { code?: unknown } | null)?.code;
  return { message: reasonOf(err), ...(typeof code === 'string' ? { code } : {}) };
}

export function errorOf(r: RecordedError): Error {
  if (r.timedOutMs !== undefined) return new CheckTimeoutError(r.timedOutMs);
  return Object.assign(new Error(r.message), r.code ? { code: r.code } : {});
}

export class CheckTimeoutError extends Error {
  readonly ms: number;
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'CheckTimeoutError';
    this.ms = ms;
  }
}

/** Nodes a site check deals with per timeout: its work (a sweep or clock reader per node) grows with the site. */
export const NODES_PER_SITE_TIMEOUT = 128;

/** A site check's time limit: one timeout per NODES_PER_SITE_TIMEOUT nodes (begun). */
export function siteCheckTimeout(timeoutMs: number, nodes: number): number {
  return timeoutMs * Math.max(1, Math.ceil(nodes / NODES_PER_SITE_TIMEOUT));
}

/** True when `id` (a check id or a result id like disk.free[/var]) is selected by --only/--skip. */
export function isSelected(id: string, only: readonly string[] = [], skip: readonly string[] = []): boolean {
  if (only.length > 0 && !only.some((p) => checkIdMatches(p, id))) return false;
  return !skip.some((p) => checkIdMatches(p, id));
}

/** Whether a check has to run at all: a pattern like disk.free[/var] selects the check disk.free. */
function checkWanted(checkId: string, only: readonly string[], skip: readonly string[]): boolean {
  const base = (p: string) => p.replace(/\[.*\]$/, '');
  if (only.length > 0 && !only.some((p) => checkIdMatches(p, checkId) || checkIdMatches(base(p), checkId))) return false;
  return !skip.some((p) => checkIdMatches(p, checkId));
}

/** Runs `fn` with a fresh signal that fires after `timeoutMs`; rejects at that moment even if `fn` ignores the signal. */
export async function withTimeout<T>(timeoutMs: number, outer: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = outer ? AbortSignal.any([timeout, outer]) : timeout;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(timeout.aborted ? new CheckTimeoutError(timeoutMs) : signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  const work = Promise.resolve().then(() => fn(signal));
  work.catch(() => {}); // a probe that fails after its timeout must not become an unhandled rejection
  aborted.catch(() => {});
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

function reasonOf(err: unknown): string {
  if (err instanceof CheckTimeoutError) return err.message;
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function plainFacts(facts: unknown): Record<string, unknown> {
  return facts && typeof facts === 'object' && !Array.isArray(facts) ? (facts as Record<string, unknown>) : { value: facts };
}

interface Meta {
  id: string;
  category: Category;
  title: string;
}

export function toResult(profile: Profile, meta: Meta, node: string, j: Judgement, facts: unknown, durationMs: number): CheckResult {
  const id = j.id ?? meta.id;
  const ref = checklistRef(profile, id, meta.category);
  const result: CheckResult = {
    id,
    node,
    checklist: ref.checklist,
    category: ref.category,
    title: meta.title,
    status: j.status,
    message: j.message,
    facts: j.facts ?? plainFacts(facts),
    durationMs: Math.round(durationMs),
  };
  if (j.remediation && j.status !== 'pass') result.remediation = j.remediation;
  return result;
}

export function errorJudgement(err: unknown, phase: 'probe' | 'judge'): Judgement {
  // A node whose SSH connection failed: its connection checks say why; the others were not run.
  // facts.notChecked: the one reason shared by all of a node's unchecked checks (reports show them as one line).
  if ((err as { code?: unknown } | null)?.code === 'ERR_NODE_UNREACHABLE') {
    return { status: 'skip', message: `not checked: ${reasonOf(err)}`, facts: { error: reasonOf(err), notChecked: reasonOf(err) } };
  }
  const timedOut = err instanceof CheckTimeoutError;
  return {
    status: 'error' as Status,
    message: timedOut ? `check ${reasonOf(err)}` : `${phase} failed: ${reasonOf(err)}`,
    remediation: timedOut ? 'raise the per-check limit (e.g. --timeout 30s) or find out why the node answers slowly' : undefined,
    facts: { error: reasonOf(err), phase },
  };
}

async function isRootOn(host: Host, timeoutMs: number, outer?: AbortSignal): Promise<boolean> {
  try {
    return (await withTimeout(timeoutMs, outer, () => host.uid())) === 0;
  } catch {
    return false;
  }
}

/** What a run's steps share: its options, the node checks it runs, and where results go. */
interface Run {
  opts: RunChecksOptions;
  checks: CheckDef[];
  env: NodeJS.ProcessEnv;
  concurrency: number;
  /** Passes on the results --only/--skip select, and returns them. */
  emit(r: CheckResult[]): CheckResult[];
}

/** A node once its connection is settled: host null when it could not be reached. */
interface ReadyNode {
  info: NodeInfo;
  host: Host | null;
  unreachable?: string;
}

/** Runs the checks; results come back in a stable order (node, check, judgement). */
export async function runChecks(opts: RunChecksOptions): Promise<CheckResult[]> {
  const only = opts.only ?? [];
  const skip = opts.skip ?? [];
  const env = opts.env ?? process.env;
  const concurrency = Math.max(1, opts.concurrency);
  const checks = opts.checks.filter((c) => checkWanted(c.id, only, skip));
  const emit = (r: CheckResult[]) => {
    const kept = r.filter((x) => isSelected(x.id, only, skip));
    for (const x of kept) opts.onResult?.(x);
    return kept;
  };
  const run: Run = { opts, checks, env, concurrency, emit };

  // Hosts still connecting are awaited per node, so a slow node delays only itself.
  const ready: ReadyNode[] = [];
  const perNode = await Promise.all(opts.nodes.map((pending, i) => runNodeChecks(run, pending, (node) => (ready[i] = node))));

  const siteChecks = (opts.siteChecks ?? []).filter((c) => checkWanted(c.id, only, skip));
  const limit = pLimit(concurrency);
  const siteResults = await Promise.all(siteChecks.map((check) => limit(() => runSiteCheck(run, check, ready))));

  return [...perNode.flat(2), ...siteResults.flat()];
}

/** Waits for the node's host, then runs the checks that apply to it, `concurrency` at a time. */
async function runNodeChecks(run: Run, pending: EngineNode, onReady: (node: ReadyNode) => void): Promise<CheckResult[][]> {
  const { opts, checks } = run;
  const node = { info: pending.info, host: await pending.host, unreachable: pending.unreachable };
  onReady(node);
  const limit = pLimit(run.concurrency);
  if (node.host?.prefetch) startPrefetch(run, node.host, node.info);
  const isRoot = node.host ? await isRootOn(node.host, opts.timeoutMs, opts.signal) : false;
  opts.onFacts?.({ kind: 'node', node: node.info.name, isRoot });
  const ctx: JudgeContext = { node: node.info, profile: opts.profile, site: opts.site, isRoot, lang: opts.lang, siteDir: opts.siteDir };
  const applicable = checks.filter((c) => !c.appliesTo || c.appliesTo(ctx));
  return Promise.all(applicable.map((check) => limit(() => runNodeCheck(run, check, node, ctx))));
}

/**
 * Asks the host to read, in one go, what the node's checks declare they will read.
 * Whether the user is root is not known yet: a check counts if it applies either way.
 * Half the check timeout: what the batch has not delivered by then is still read one by one.
 */
function startPrefetch(run: Run, host: Host, info: NodeInfo): void {
  const { opts } = run;
  const gathers: Gather[] = [];
  for (const c of run.checks) {
    if (!c.gather) continue;
    const ctx = (isRoot: boolean): JudgeContext => ({ node: info, profile: opts.profile, site: opts.site, isRoot, lang: opts.lang, siteDir: opts.siteDir });
    try {
      if (!c.appliesTo || c.appliesTo(ctx(false)) || c.appliesTo(ctx(true))) gathers.push(c.gather(ctx(false)));
    } catch {
      // a declaration that fails costs only speed: the probe reads for itself
    }
  }
  host.prefetch!(mergeGathers(gathers), { signal: opts.signal, timeoutMs: Math.max(1000, Math.floor(opts.timeoutMs / 2)) });
}

/** One check on one node: probe, then judge; an unreachable node's checks are skipped. */
async function runNodeCheck(run: Run, check: CheckDef, node: ReadyNode, ctx: JudgeContext): Promise<CheckResult[]> {
  const { opts, env, emit } = run;
  const started = performance.now();
  const meta = { id: check.id, category: check.category, title: check.title };
  if (!node.host) {
    const why = `node unreachable${node.unreachable ? ` (${node.unreachable})` : ''}`;
    const j: Judgement = { status: 'skip', message: `not checked: ${why}`, facts: { notChecked: why } };
    opts.onFacts?.({ kind: 'check', check: check.id, node: node.info.name, error: { message: why, code: 'ERR_NODE_UNREACHABLE' }, durationMs: 0 });
    return emit([toResult(opts.profile, meta, node.info.name, j, {}, 0)]);
  }
  const host = node.host;
  let facts: unknown = {};
  let judgements: Judgement[];
  try {
    facts = await withTimeout(opts.timeoutMs, opts.signal, (signal) =>
      check.probe({ ...ctx, host, signal, timeoutMs: opts.timeoutMs, env }),
    );
    opts.onFacts?.({ kind: 'check', check: check.id, node: node.info.name, facts, durationMs: Math.round(performance.now() - started) });
    try {
      const j = check.judge(facts, ctx);
      judgements = Array.isArray(j) ? j : [j];
    } catch (err) {
      judgements = [errorJudgement(err, 'judge')];
    }
  } catch (err) {
    opts.onFacts?.({ kind: 'check', check: check.id, node: node.info.name, error: recordedError(err), durationMs: Math.round(performance.now() - started) });
    judgements = [errorJudgement(err, 'probe')];
  }
  const ms = performance.now() - started;
  return emit(judgements.map((j) => toResult(opts.profile, meta, node.info.name, j, facts, ms)));
}

/** One site check over every node (reachable or not), after the node checks. */
async function runSiteCheck(run: Run, check: SiteCheckDef, ready: ReadyNode[]): Promise<CheckResult[]> {
  const { opts, emit } = run;
  const started = performance.now();
  const meta = { id: check.id, category: check.category, title: check.title };
  const nodes = ready.map((n) => ({ info: n.info, host: n.host }));
  let facts: unknown = {};
  let judgements: Judgement[];
  try {
    const timeoutMs = siteCheckTimeout(opts.timeoutMs, nodes.length);
    facts = await withTimeout(timeoutMs, opts.signal, (signal) => check.probe({ nodes, profile: opts.profile, site: opts.site, signal, timeoutMs, lang: opts.lang }));
    opts.onFacts?.({ kind: 'site', check: check.id, facts, durationMs: Math.round(performance.now() - started) });
    try {
      judgements = check.judge(facts, { profile: opts.profile, site: opts.site, timeoutMs, lang: opts.lang, nodes: nodes.map((n) => n.info) });
    } catch (err) {
      judgements = [errorJudgement(err, 'judge')];
    }
  } catch (err) {
    opts.onFacts?.({ kind: 'site', check: check.id, error: recordedError(err), durationMs: Math.round(performance.now() - started) });
    judgements = [errorJudgement(err, 'probe')];
  }
  const ms = performance.now() - started;
  return emit(judgements.map((j) => toResult(opts.profile, meta, j.node ?? 'site', j, facts, ms)));
}
