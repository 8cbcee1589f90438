#!/usr/bin/env node
// Entry point: picks the command, parses its flags, maps errors to exit codes.
import { errorMessage, exitCodeOf, UsageError } from '../errors.ts';
import { TOOL_NAME, TOOL_VERSION } from '../version.ts';
import { collectSecrets, redactText } from '../report/redact.ts';
import { parseCommand, type Command, type CommandIO } from './args.ts';
import { preflightCommand } from './commands/preflight.ts';
import { checklistCommand } from './commands/checklist.ts';
import { schemaCommand } from './commands/schema.ts';
import { bundleCreateCommand } from './commands/bundle-create.ts';
import { bundleVerifyCommand } from './commands/bundle-verify.ts';
import { bundleInspectCommand } from './commands/bundle-inspect.ts';
import { bundleInstallCommand } from './commands/bundle-install.ts';

const BUNDLE: Record<string, Command> = {
  create: bundleCreateCommand,
  verify: bundleVerifyCommand,
  inspect: bundleInspectCommand,
  install: bundleInstallCommand,
};

const TOP: Record<string, Command> = {
  preflight: preflightCommand,
  checklist: checklistCommand,
  schema: schemaCommand,
};

export function mainHelp(): string {
  const lines = [
    `${TOOL_NAME} ${TOOL_VERSION}: preflight checks and air-gap bundles for the Astrago GPU platform`,
    '',
    'Usage:',
    `  ${TOOL_NAME} [preflight] [--site site.yaml] [--format tty|json|yaml|junit|markdown] ...`,
    `  ${TOOL_NAME} checklist [--lang en|ko] [--format yaml|markdown]`,
    `  ${TOOL_NAME} bundle create --spec FILE.yaml --output FILE.tar`,
    `  ${TOOL_NAME} bundle verify FILE.tar`,
    `  ${TOOL_NAME} bundle inspect FILE.tar [--format tty|json|yaml]`,
    `  ${TOOL_NAME} bundle install FILE.tar --registry HOST[:PORT][/PREFIX]`,
    `  ${TOOL_NAME} schema [site|bundle-spec|report|bundle-manifest|profile]`,
    `  ${TOOL_NAME} --version | --help | COMMAND --help`,
    '',
    'Commands:',
    ...[preflightCommand, checklistCommand, ...Object.values(BUNDLE), schemaCommand].map(
      (c) => `  ${c.name.padEnd(16)} ${c.summary}`,
    ),
    '',
    'Exit codes: 0 ok, 1 a check or bundle operation failed, 2 bad usage or invalid input.',
  ];
  return lines.join('\n');
}

function pick(argv: string[]): { cmd: Command; rest: string[] } | 'help' | 'version' {
  const [first, second] = argv;
  if (first === '--version' || first === '-v' || first === 'version') return 'version';
  if (first === '--help' || first === '-h' || first === 'help') return 'help';
  if (first === 'bundle') {
    if (second === undefined || second === '--help' || second === '-h') return 'help';
    const cmd = BUNDLE[second];
    if (!cmd) throw new UsageError(`unknown bundle command '${second}' (expected create, verify, inspect or install)`);
    return { cmd, rest: argv.slice(2) };
  }
  if (first !== undefined && TOP[first]) return { cmd: TOP[first], rest: argv.slice(1) };
  if (first !== undefined && !first.startsWith('-')) {
    throw new UsageError(`unknown command '${first}'\nRun '${TOOL_NAME} --help' for usage.`);
  }
  return { cmd: preflightCommand, rest: argv };
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
    const { values, positionals } = parseCommand(picked.cmd, picked.rest);
    if (values.help) {
      io.stdout.write(picked.cmd.usage + '\n');
      return 0;
    }
    return await picked.cmd.run(values, positionals, io);
  } catch (err) {
    const code = exitCodeOf(err);
    // Last line of defence: proxy/ASTRAGO_* secrets from the environment and URL passwords never reach stderr.
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
  // exitCode, not exit(): lets a large report piped to a file drain first.
  process.exitCode = code;
});
