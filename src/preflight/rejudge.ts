// Judging kept facts again (preflight --from-facts): every recorded probe outcome goes
// through its check's rule with the profile given now, as the engine does in a live run,
// with no host and no connection. A check the new profile applies to a node but whose
// facts were not collected is skipped with that reason.
import { dirname, resolve } from 'node:path';
import type { Lang } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import type { CheckResult } from '../schema/report.ts';
import { ALL_CHECKS, SITE_CHECKS } from './checks/index.ts';
import { errorJudgement, errorOf, isSelected, siteCheckTimeout, toResult } from './engine.ts';
import { loadFactsFile, type FactsFile } from './facts-file.ts';
import { DEFAULT_PROFILE_NAME, loadProfile, validatePatterns } from './profile.ts';
import type { PreflightRun } from './run.ts';
import type { CheckDef, JudgeContext, Judgement, NodeInfo, SiteCheckDef } from './types.ts';

export interface RejudgeOptions {
  profile: Profile;
  lang: Lang;
  only?: string[];
  skip?: string[];
  /** Directory the site file was in when the facts were taken (relative paths in it). */
  siteDir?: string;
  checks?: CheckDef[];
  siteChecks?: SiteCheckDef[];
}

function judged(run: () => Judgement | Judgement[]): Judgement[] {
  try {
    const j = run();
    return Array.isArray(j) ? j : [j];
  } catch (err) {
    return [errorJudgement(err, 'judge')];
  }
}

export function rejudgeFacts(doc: FactsFile, o: RejudgeOptions): CheckResult[] {
  const checks = new Map((o.checks ?? ALL_CHECKS).map((c) => [c.id, c]));
  const siteChecks = new Map((o.siteChecks ?? SITE_CHECKS).map((c) => [c.id, c]));
  const out: CheckResult[] = [];
  // What the run left out, and what is left out now.
  const selected = (id: string) => isSelected(id, o.only, o.skip) && isSelected(id, doc.only, doc.skip);
  const keep = (r: CheckResult) => selected(r.id) && out.push(r);
  const recorded = new Map(doc.checks.map((c) => [`${c.node}\u0000${c.check}`, c]));

  for (const n of doc.nodes) {
    const info: NodeInfo = { name: n.name, address: n.address, roles: n.roles };
    const ctx: JudgeContext = { node: info, profile: o.profile, site: doc.site, isRoot: n.isRoot, lang: o.lang, siteDir: o.siteDir };
    for (const check of checks.values()) {
      if (check.appliesTo && !check.appliesTo(ctx)) continue;
      const meta = { id: check.id, category: check.category, title: check.title };
      const rec = recorded.get(`${n.name}\u0000${check.id}`);
      if (!rec) {
        const j: Judgement = { status: 'skip', message: 'not checked: no facts of this check were collected on this node' };
        if (selected(check.id)) keep(toResult(o.profile, meta, n.name, j, {}, 0));
        continue;
      }
      const js = rec.error ? [errorJudgement(errorOf(rec.error), 'probe')] : judged(() => check.judge(rec.facts, ctx));
      for (const j of js) keep(toResult(o.profile, meta, n.name, j, rec.facts ?? {}, rec.durationMs));
    }
  }

  const nodes = doc.nodes.map((n) => ({ name: n.name, address: n.address, roles: n.roles }));
  for (const rec of doc.siteChecks) {
    const check = siteChecks.get(rec.check);
    if (!check) continue;
    const meta = { id: check.id, category: check.category, title: check.title };
    const js = rec.error
      ? [errorJudgement(errorOf(rec.error), 'probe')]
      : judged(() => check.judge(rec.facts, { profile: o.profile, site: doc.site, timeoutMs: siteCheckTimeout(doc.timeoutMs, nodes.length), lang: o.lang, nodes }));
    for (const j of js) keep(toResult(o.profile, meta, j.node ?? 'site', j, rec.facts ?? {}, rec.durationMs));
  }
  return out;
}

/** A run made of kept facts (preflight --from-facts FILE): the shape runPreflight gives, judged with `profilePath`. */
export function runFromFacts(o: { factsPath: string; profilePath?: string; only?: string[]; skip?: string[]; lang: Lang; cwd: string }): PreflightRun {
  const t0 = performance.now();
  const ids = [...ALL_CHECKS, ...SITE_CHECKS].map((c) => c.id);
  validatePatterns('only', o.only ?? [], ids);
  validatePatterns('skip', o.skip ?? [], ids);
  const file = resolve(o.cwd, o.factsPath);
  const doc = loadFactsFile(file);
  const profile = loadProfile(o.profilePath && resolve(o.cwd, o.profilePath));
  const siteDir = dirname(file);
  const results = rejudgeFacts(doc, { profile, lang: o.lang, only: o.only, skip: o.skip, siteDir });
  return {
    results,
    profile,
    profileName: o.profilePath ?? DEFAULT_PROFILE_NAME,
    site: doc.site,
    siteDir,
    nodes: doc.nodes.map(({ isRoot: _isRoot, ...n }) => n),
    host: doc.host,
    startedAt: new Date(doc.createdAt),
    durationMs: doc.durationMs + (performance.now() - t0),
  };
}
