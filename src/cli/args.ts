// Argument parsing on node:util parseArgs; every problem becomes a UsageError (exit 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  /** e.g. 'preflight' or 'bundle create' */
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec;
  /** How many positionals are allowed: [min, max]. */
  positionals?: [number, number];
  run(values: Record<string, unknown>, positionals: string[], io: CommandIO): Promise<number>;
}

export interface CommandIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const helpOption: OptionSpec = { help: { type: 'boolean', short: 'h' } };

export function parseCommand(cmd: Command, argv: string[]): { values: Record<string, unknown>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...cmd.options, ...helpOption }, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${cmd.name}: ${msg}\nRun 'astrago-check ${cmd.name} --help' for usage.`);
  }
  const [min, max] = cmd.positionals ?? [0, 0];
  if (!parsed.values.help) {
    if (parsed.positionals.length < min) throw new UsageError(`${cmd.name}: missing argument\n${cmd.usage}`);
    if (parsed.positionals.length > max) {
      throw new UsageError(`${cmd.name}: unexpected argument '${parsed.positionals[max]}'\nRun 'astrago-check ${cmd.name} --help' for usage.`);
    }
  }
  return { values: parsed.values as Record<string, unknown>, positionals: parsed.positionals };
}

export function oneOf<T extends string>(cmd: string, flag: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${cmd}: --${flag} must be one of ${allowed.join(', ')} (got '${String(value)}')`);
  }
  return value as T;
}

/** Parses 5s, 500ms, 2m, or a bare number of seconds. */
export function parseDuration(cmd: string, flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(value));
  if (!m) throw new UsageError(`${cmd}: --${flag} expects a duration like 5s, 500ms or 2m (got '${String(value)}')`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms <= 0 || ms > 3_600_000) throw new UsageError(`${cmd}: --${flag} must be between 1ms and 1h (got '${String(value)}')`);
  return ms;
}

export function positiveInt(cmd: string, flag: string, value: unknown, max = 1024): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > max) {
    throw new UsageError(`${cmd}: --${flag} expects a whole number from 1 to ${max} (got '${s}')`);
  }
  return Number(s);
}

/** Comma-separated lists, possibly repeated: --only a,b --only c */
export function listOption(value: unknown): string[] {
  if (value === undefined) return [];
  const arr = Array.isArray(value) ? value : [value];
  return arr.flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
}
