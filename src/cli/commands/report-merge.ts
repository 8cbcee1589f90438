// `report merge R1.json R2.json …`: per-node reports (each node checked by itself, run by
// Ansible, pdsh or a DaemonSet) into one site report; the site checks are judged again over
// the whole set where the node results carry their facts (merged-site.ts).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { InputError, UsageError } from '../../errors.ts';
import { ROLES, type Role } from '../../schema/common.ts';
import { reportSchema, type CheckResult, type Report } from '../../schema/report.ts';
import { oneOf, type Command, type CommandIO } from '../args.ts';
import { writeOutputFile } from '../output.ts';

const CMD = 'report merge';

function readReport(file: string): Report {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw new UsageError(`${CMD}: ${file}: cannot read it (${code})`);
    throw new InputError({ file, expected: `a JSON report (astrago-check --format json): ${(err as Error).message}` });
  }
  const parsed = reportSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError({ file, field: issue.path.join('.') || undefined, expected: `${issue.message} (a PreflightReport written by --format json)` });
  }
  return parsed.data;
}

async function run(values: Record<string, unknown>, positionals: string[], io: CommandIO): Promise<number> {
  const [{ SITE_CHECKS }, { judgeMergedSite }, { toResult }, { DEFAULT_PROFILE_NAME, loadProfile }, { buildReport, exitCodeFor }, { mergeReports }, { collectSecrets, redactReport }, render] = await Promise.all([
    import('../../preflight/checks/index.ts'),
    import('../../preflight/checks/fleet/merged-site.ts'),
    import('../../preflight/engine.ts'),
    import('../../preflight/profile.ts'),
    import('../../report/build.ts'),
    import('../../report/merge.ts'),
    import('../../report/redact.ts'),
    import('../../report/render.ts'),
  ]);
  const format = oneOf(CMD, 'format', values.format, render.REPORT_FORMATS) ?? 'tty';
  const lang = oneOf(CMD, 'lang', values.lang, ['en', 'ko'] as const) ?? 'en';
  const profilePath = values.profile as string | undefined;
  const profile = loadProfile(profilePath && resolve(io.cwd, profilePath));
  const files = positionals.map((p) => resolve(io.cwd, p));

  const siteIds = SITE_CHECKS.map((c) => c.id);
  const isSite = (r: CheckResult) => r.node === 'site' || siteIds.some((id) => r.id === id || r.id.startsWith(`${id}[`));
  const merged = mergeReports(files.map((file) => ({ file, report: readReport(file) })), isSite);
  const nodes = merged.nodes.map((n) => ({ name: n.name, address: n.address, roles: n.roles.filter((r): r is Role => (ROLES as readonly string[]).includes(r)) }));
  const site = judgeMergedSite(SITE_CHECKS, merged.results, nodes, profile).flatMap(({ check, judgements }) =>
    judgements.map((j) => toResult(profile, { id: check.id, category: check.category, title: check.title }, j.node ?? 'site', j, {}, 0)),
  );
  const report = buildReport({
    results: [...merged.results, ...site],
    siteName: (values.site as string | undefined) ?? merged.site,
    host: hostname(),
    profileName: profilePath ?? DEFAULT_PROFILE_NAME,
    lang,
    nodes: merged.nodes,
    startedAt: merged.startedAt,
    durationMs: merged.durationMs,
    profile,
  });
  const safe = redactReport(report, collectSecrets(undefined, io.env, io.cwd));
  const output = typeof values.output === 'string' ? resolve(io.cwd, values.output) : undefined;
  const text = render.renderReport(safe, format, { lang, color: format === 'tty' && !output && render.shouldColor(io.stdout, io.env), profile, strict: values.strict === true });
  const body = text.endsWith('\n') ? text : text + '\n';
  if (output) {
    writeOutputFile(CMD, output, body, 'the report');
    const s = safe.summary;
    io.stderr.write(`report of ${merged.nodes.length} nodes written to ${output}: ${s.pass} pass, ${s.warn} warn, ${s.fail} fail, ${s.skip} skip, ${s.error} error\n`);
  } else {
    io.stdout.write(body);
  }
  return exitCodeFor(safe.summary, values.strict === true);
}

export const reportMergeCommand: Command = {
  name: CMD,
  summary: 'merge per-node JSON reports into one site report',
  usage: `Usage: astrago-check report merge REPORT.json... [options]

Merges reports that each node wrote of itself (astrago-check --format json, run on
every node by Ansible, pdsh or a DaemonSet) into one site report. Site checks are
judged again over all nodes where the node results carry their facts (hostnames
unique; OS release, kernel and NVIDIA driver the same on GPU nodes); those that
probe between nodes at run time (port matrix, clock skew) are skipped with the reason.

Options:
  --format FMT      tty | json | yaml | junit | markdown | html (default tty)
  --output FILE     write the report to FILE instead of stdout
  --profile FILE    check profile for the site checks and checklist (default: built in)
  --site NAME       site name (default: the one the reports share)
  --lang LANG       en | ko (default en)
  --strict          warnings also fail (exit 1)
  -h, --help        this help

Exit codes: 0 nothing failed, 1 a check failed, 2 bad usage or an invalid report.`,
  options: {
    format: { type: 'string' },
    output: { type: 'string' },
    profile: { type: 'string' },
    site: { type: 'string' },
    lang: { type: 'string' },
    strict: { type: 'boolean' },
  },
  positionals: [1, Infinity],
  run: (values, positionals, io) => run(values, positionals, io),
};
