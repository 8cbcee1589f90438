// The preflight command: flags -> runPreflight -> report (redacted) -> stdout or --output FILE.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { ROLES, type Role } from '../../schema/common.ts';
import { listOption, oneOf, parseDuration, positiveInt, type Command, type CommandIO } from '../args.ts';
import { writeAtomically } from '../output.ts';

const CMD = 'preflight';
export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_CONCURRENCY = 16;

const WRITE_ERRORS = new Set(['ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EROFS', 'ENOSPC', 'EEXIST']);

/**
 * Before any check runs: the report's directory exists (created as `bundle create --output`
 * does) and can be written, so a long run never ends in a report that cannot be saved.
 */
function prepareOutput(file: string, flag = '--output'): void {
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`preflight: ${flag} ${file} is a directory: give a file name in it, e.g. ${file.replace(/\/$/, '')}/report`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    accessSync(dirname(file), constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && WRITE_ERRORS.has(code)) throw new UsageError(`preflight: ${flag} ${file}: cannot write there (${code}: ${(err as Error).message})`);
    throw err;
  }
}

/**
 * Saves the report; when that still fails (disk full, the directory removed meanwhile), the
 * results are not thrown away: the report goes to stdout and the error to stderr (exit 2).
 */
function saveReport(file: string, text: string, io: CommandIO): boolean {
  try {
    writeAtomically(file, text);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code || !WRITE_ERRORS.has(code)) throw err;
    io.stdout.write(text);
    io.stderr.write(`astrago-check: preflight: --output ${file}: cannot write the report (${code}); it was printed to stdout instead\n`);
    return false;
  }
}

async function run(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  // Loaded on use: the engine, SSH, HTTP and report code would slow every other command's start-up.
  const [{ runPreflight }, { buildReport, exitCodeFor }, { collectSecrets, redactReport }, { REPORT_FORMATS, renderReport, shouldColor }] = await Promise.all([
    import('../../preflight/run.ts'),
    import('../../report/build.ts'),
    import('../../report/redact.ts'),
    import('../../report/render.ts'),
  ]);
  const format = oneOf(CMD, 'format', values.format, REPORT_FORMATS) ?? 'tty';
  const lang = oneOf(CMD, 'lang', values.lang, ['en', 'ko'] as const) ?? 'en';
  const timeoutMs = parseDuration(CMD, 'timeout', values.timeout) ?? DEFAULT_TIMEOUT_MS;
  const concurrency = positiveInt(CMD, 'concurrency', values.concurrency) ?? DEFAULT_CONCURRENCY;
  const roles: Role[] = listOption(values.role).map((r) => oneOf(CMD, 'role', r, ROLES)!);
  const output = typeof values.output === 'string' ? resolve(io.cwd, values.output) : undefined;
  if (output) prepareOutput(output);

  const fromFacts = typeof values['from-facts'] === 'string' ? values['from-facts'] : undefined;
  const saveFacts = typeof values['save-facts'] === 'string' ? resolve(io.cwd, values['save-facts']) : undefined;
  if (fromFacts) {
    const live = ['site', 'node', 'local', 'role', 'accept-new-host-keys', 'save-facts', 'ssh-concurrency'].filter((k) => values[k] !== undefined && !(Array.isArray(values[k]) && values[k].length === 0));
    if (live.length) throw new UsageError(`preflight: --from-facts judges kept facts with no connection; it takes no --${live.join(', --')}`);
  }
  if (!fromFacts && values.site === undefined) {
    // (without a site there is no SSH node for them to act on: say so rather than ignore them)
    const ssh = ['ssh-concurrency', 'accept-new-host-keys'].filter((k) => values[k] !== undefined);
    if (ssh.length) throw new UsageError(`preflight: --${ssh.join(' and --')} ${ssh.length > 1 ? 'are' : 'is'} for the site's nodes over SSH; give --site site.yaml`);
  }
  if (saveFacts) prepareOutput(saveFacts, '--save-facts');
  const facts = fromFacts || saveFacts ? await import('./preflight-facts.ts') : undefined;
  const recorder = saveFacts ? new facts!.FactsRecorder() : undefined;
  const pf = fromFacts
    ? facts!.runFromFacts({ factsPath: fromFacts, profilePath: values.profile as string | undefined, only: listOption(values.only), skip: listOption(values.skip), lang, cwd: io.cwd })
    : await runPreflight({
    sitePath: values.site as string | undefined,
    nodeNames: listOption(values.node),
    local: values.local === true,
    acceptNewHostKeys: values['accept-new-host-keys'] === true,
    roles,
    profilePath: values.profile as string | undefined,
    only: listOption(values.only),
    skip: listOption(values.skip),
    timeoutMs,
    concurrency,
    sshConcurrency: positiveInt(CMD, 'ssh-concurrency', values['ssh-concurrency']),
    lang,
    env: io.env,
    cwd: io.cwd,
    onFacts: recorder?.record,
  });
  if (saveFacts) facts!.saveFacts(saveFacts, recorder!.document({ ...pf, timeoutMs, only: listOption(values.only), skip: listOption(values.skip) }), collectSecrets(pf.site, io.env, pf.siteDir), io.stderr);
  const report = buildReport({
    results: pf.results,
    siteName: pf.site?.metadata.name,
    host: pf.host,
    profileName: pf.profileName,
    lang,
    nodes: pf.nodes,
    startedAt: pf.startedAt,
    durationMs: pf.durationMs,
    profile: pf.profile,
  });
  const safe = redactReport(report, collectSecrets(pf.site, io.env, pf.siteDir));
  const color = format === 'tty' && !output && shouldColor(io.stdout, io.env);
  const text = renderReport(safe, format, { lang, color, profile: pf.profile, strict: values.strict === true });
  if (output) {
    if (!saveReport(output, text.endsWith('\n') ? text : text + '\n', io)) return 2;
    const s = safe.summary;
    io.stderr.write(`report written to ${output}: ${s.pass} pass, ${s.warn} warn, ${s.fail} fail, ${s.skip} skip, ${s.error} error\n`);
  } else {
    io.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }
  return exitCodeFor(safe.summary, values.strict === true);
}

export const preflightCommand: Command = {
  name: 'preflight',
  summary: 'check nodes before an install (default command)',
  usage: `Usage: astrago-check [preflight] [options]

Checks this machine, or every node of a site over SSH, and prints a report
mapped to the customer information checklist.

Options:
  --site FILE               site file (kind Site); without it, checks this machine
  --node NAME               only this node of the site (repeatable)
  --local                   also check this machine when a site lists nodes
  --accept-new-host-keys    record unknown SSH host keys (changed keys are always refused)
  --role ROLE[,ROLE]        roles of this machine: control-plane | worker | gpu-worker
                            (default: its roles in the site file, else control-plane)
  --profile FILE            check profile (default: the built-in checks/default.yaml)
  --only ID,...             run only these checks (ids or id prefixes, e.g. disk.)
  --skip ID,...             skip these checks
  --format FMT              tty | json | yaml | junit | markdown | html (default tty)
  --output FILE             write the report to FILE instead of stdout (missing
                            directories are created)
  --lang LANG               en | ko (default en)
  --timeout DUR             per-check timeout: 5s, 500ms, 2m; a bare number is
                            seconds (default 5s)
  --concurrency N           checks run at once on each node (default 16)
  --ssh-concurrency N       SSH connections opened at once (default 32)
  --save-facts FILE         also keep what every probe found (JSON), to judge again later
  --from-facts FILE         judge facts kept with --save-facts, with no connection
                            (takes --profile, --only, --skip, --format, --output, --lang)
  --strict                  warnings also fail (exit 1)
  -h, --help                this help

Exit codes: 0 nothing failed, 1 a check failed, 2 bad usage or invalid input.`,
  options: {
    site: { type: 'string' },
    node: { type: 'string', multiple: true },
    local: { type: 'boolean' },
    'accept-new-host-keys': { type: 'boolean' },
    role: { type: 'string' },
    profile: { type: 'string' },
    only: { type: 'string', multiple: true },
    skip: { type: 'string', multiple: true },
    format: { type: 'string' },
    output: { type: 'string' },
    lang: { type: 'string' },
    timeout: { type: 'string' },
    concurrency: { type: 'string' },
    'ssh-concurrency': { type: 'string' },
    strict: { type: 'boolean' },
    'save-facts': { type: 'string' },
    'from-facts': { type: 'string' },
  },
  run: (values, _positionals, io) => run(values, io),
};
