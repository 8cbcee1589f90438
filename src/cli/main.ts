#!/usr/bin/env node
// Entry point: picks the command, parses its flags, maps errors to exit codes.
import { errorMessage, exitCodeOf, UsageError } from '../errors.ts';
import { TOOL_NAME, TOOL_VERSION } from '../version.ts';
import { parseCommand, type Command, type CommandIO } from './args.ts';
// Commands load on use: start-up (--version, --help) must not pay for undici,
// tar, ssh2 and zod. Each entry: name, summary, and the module holding it.
interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

const BUNDLE: Record<string, CommandEntry> = {
  create: { name: 'bundle create', summary: 'download charts, images and files into one offline tarball', load: async () => (await import('./commands/bundle-create.ts')).bundleCreateCommand },
  verify: { name: 'bundle verify', summary: 'verify every entry and blob of a bundle', load: async () => (await import('./commands/bundle-verify.ts')).bundleVerifyCommand },
  images: { name: 'bundle images', summary: 'list every image a bundle of a spec carries, and where each comes from', load: async () => (await import('./commands/bundle-images.ts')).bundleImagesCommand },
  inspect: { name: 'bundle inspect', summary: 'show what a bundle holds', load: async () => (await import('./commands/bundle-inspect.ts')).bundleInspectCommand },
  split: { name: 'bundle split', summary: 'split a bundle tar into parts for removable media', load: async () => (await import('./commands/bundle-split.ts')).bundleSplitCommand },
  join: { name: 'bundle join', summary: 'join the parts of a split bundle into one tar', load: async () => (await import('./commands/bundle-split.ts')).bundleJoinCommand },
  sign: { name: 'bundle sign', summary: 'sign a bundle with an SSH key (FILE.tar.sig)', load: async () => (await import('./commands/bundle-sign.ts')).bundleSignCommand },
  install: { name: 'bundle install', summary: 'push a bundle into the site registry', load: async () => (await import('./commands/bundle-install.ts')).bundleInstallCommand },
};

const CHECKLIST_IMPORT: CommandEntry = {
  name: 'checklist import',
  summary: 'turn a filled checklist workbook into a site file',
  load: async () => (await import('./commands/checklist-import.ts')).checklistImportCommand,
};

const REPORT_MERGE: CommandEntry = {
  name: 'report merge',
  summary: 'merge per-node JSON reports into one site report',
  load: async () => (await import('./commands/report-merge.ts')).reportMergeCommand,
};

const PREFLIGHT: CommandEntry = {
  name: 'preflight',
  summary: 'check nodes before an install (default command)',
  load: async () => (await import('./commands/preflight.ts')).preflightCommand,
};

const TOP: Record<string, CommandEntry> = {
  preflight: PREFLIGHT,
  checklist: { name: 'checklist', summary: 'print a blank customer checklist (a site.yaml skeleton, a form, a workbook)', load: async () => (await import('./commands/checklist.ts')).checklistCommand },
  checks: { name: 'checks', summary: 'list every check: checklist item, what it judges, thresholds per role', load: async () => (await import('./commands/checks.ts')).checksCommand },
  profile: { name: 'profile', summary: 'print the built-in check profile (YAML) to copy and edit', load: async () => (await import('./commands/profile.ts')).profileCommand },
  schema: { name: 'schema', summary: 'print the JSON Schema of a file kind', load: async () => (await import('./commands/schema.ts')).schemaCommand },
};

export function mainHelp(): string {
  const lines = [
    `${TOOL_NAME} ${TOOL_VERSION}: preflight checks and air-gap bundles for the Astrago GPU platform`,
    '',
    'Usage:',
    `  ${TOOL_NAME} [preflight] [--site site.yaml] [--format tty|json|yaml|junit|markdown|html] ...`,
    `  ${TOOL_NAME} checklist [--lang en|ko] [--format yaml|markdown|xlsx] [--output FILE]`,
    `  ${TOOL_NAME} checklist import FORM.xlsx [--output site.yaml]`,
    `  ${TOOL_NAME} report merge R1.json R2.json... [--format FMT] [--output FILE]`,
    `  ${TOOL_NAME} checks [--format tty|markdown|json|yaml] [--profile FILE]`,
    `  ${TOOL_NAME} profile > my-profile.yaml`,
    `  ${TOOL_NAME} bundle create --spec FILE.yaml --output FILE.tar`,
    `  ${TOOL_NAME} bundle images --spec FILE.yaml [--format text|yaml|json] [--why REF] [--all]`,
    `  ${TOOL_NAME} bundle verify FILE.tar`,
    `  ${TOOL_NAME} bundle inspect FILE.tar [--format tty|json|yaml]`,
    `  ${TOOL_NAME} bundle install FILE.tar --registry HOST[:PORT][/PREFIX]`,
    `  ${TOOL_NAME} bundle sign FILE.tar --key KEYFILE`,
    `  ${TOOL_NAME} bundle split FILE.tar --size 4GiB | bundle join FILE.tar.000`,
    `  ${TOOL_NAME} schema [site|bundle-spec|report|bundle-manifest|bundle-parts|profile]`,
    `  ${TOOL_NAME} --version | --help | COMMAND --help`,
    '',
    'Commands:',
    ...[PREFLIGHT, TOP.checklist!, CHECKLIST_IMPORT, TOP.checks!, TOP.profile!, ...Object.values(BUNDLE), TOP.schema!].map(
      (c) => `  ${c.name.padEnd(17)} ${c.summary}`,
    ),
    '',
    'Exit codes: 0 ok, 1 a check or bundle operation failed, 2 bad usage or invalid input.',
  ];
  return lines.join('\n');
}

/** `astrago-check bundle --help`: the four bundle commands. */
export function bundleHelp(): string {
  return [
    `Usage: ${TOOL_NAME} bundle COMMAND [options]`,
    '',
    'Commands:',
    ...Object.values(BUNDLE).map((c) => `  ${c.name.replace(/^bundle /, '').padEnd(10)} ${c.summary}`),
    '',
    `Run '${TOOL_NAME} bundle COMMAND --help' for a command's options.`,
  ].join('\n');
}

function pick(argv: string[]): { cmd: CommandEntry; rest: string[] } | 'help' | 'version' | 'bundle-help' {
  const [first, second] = argv;
  if (first === '--version' || first === '-v' || first === 'version') return 'version';
  if (first === '--help' || first === '-h' || first === 'help') return 'help';
  if (first === 'bundle') {
    if (second === '--help' || second === '-h') return 'bundle-help';
    // No command: the bundle help, as a usage error (exit 2).
    if (second === undefined) throw new UsageError(`bundle: a command is required\n${bundleHelp()}`);
    const cmd = BUNDLE[second];
    if (!cmd) throw new UsageError(`unknown bundle command '${second}' (expected create, images, verify, inspect, install, sign, split or join)`);
    return { cmd, rest: argv.slice(2) };
  }
  if (first === 'checklist' && second === 'import') return { cmd: CHECKLIST_IMPORT, rest: argv.slice(2) };
  if (first === 'report') {
    if (second === 'merge') return { cmd: REPORT_MERGE, rest: argv.slice(2) };
    // `report --help`: its one command's help, as `bundle --help` lists its commands.
    if (second === '--help' || second === '-h') return { cmd: REPORT_MERGE, rest: ['--help'] };
    throw new UsageError(`report: expected 'report merge REPORT.json...'\nRun '${TOOL_NAME} report merge --help' for usage.`);
  }
  if (first !== undefined && TOP[first]) return { cmd: TOP[first], rest: argv.slice(1) };
  if (first !== undefined && !first.startsWith('-')) {
    throw new UsageError(`unknown command '${first}'\nRun '${TOOL_NAME} --help' for usage.`);
  }
  return { cmd: PREFLIGHT, rest: argv };
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  try {
    const picked = pick(argv);
    if (picked === 'version') {
      io.stdout.write(`${TOOL_NAME} ${TOOL_VERSION}\n`);
      return 0;
    }
    if (picked === 'help') {
      io.stdout.write(mainHelp() + '\n');
      return 0;
    }
    if (picked === 'bundle-help') {
      io.stdout.write(bundleHelp() + '\n');
      return 0;
    }
    if (picked.cmd === BUNDLE.create && !picked.rest.some((a) => a === '--help' || a === '-h')) {
      // The tar-hash worker boots on the other core while the command's modules load.
      (await import('../bundle/store/follow-hash.ts')).prestartHashWorker();
    }
    const cmd = await picked.cmd.load();
    const { values, positionals } = parseCommand(cmd, picked.rest);
    if (values.help) {
      io.stdout.write(cmd.usage + '\n');
      return 0;
    }
    const fatal = await import('./fatal.ts');
    fatal.installFatalHandlers(io);
    try {
      return await cmd.run(values, positionals, io);
    } finally {
      fatal.commandFinished();
    }
  } catch (err) {
    const code = exitCodeOf(err);
    // Last line of defence: proxy/ASTRAGO_* secrets from the environment and URL passwords never reach stderr.
    const { collectSecrets, redactText } = await import('../report/redact.ts');
    const secrets = collectSecrets(undefined, io.env, io.cwd);
    io.stderr.write(redactText(`${TOOL_NAME}: ${code === 2 ? '' : 'error: '}${errorMessage(err)}\n`, secrets));
    if (io.env.ASTRAGO_DEBUG && err instanceof Error && err.stack) io.stderr.write(redactText(err.stack + '\n', secrets));
    return code;
  }
}

// No top-level await: the single binary is a CommonJS bundle.
void main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
}).then((code) => {
  process.exitCode = code;
  // With everything written, exit now: a natural exit first tears down V8's heap and the
  // worker threads (~30-45 ms after bundle create, measured), which only the user waits for.
  // Output still queued (a pipe that was full) drains first: then the natural exit.
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit(code);
});
