// One error type per kind of failure; the CLI edge maps each to an exit code.

/** Bad command-line usage: exit 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A file the user wrote is invalid: exit 2, with file, line and field. */
export class InputError extends Error {
  readonly exitCode = 2;
  readonly file: string;
  readonly line: number | undefined;
  readonly field: string | undefined;
  readonly expected: string;
  constructor(opts: { file: string; line?: number; field?: string; expected: string }) {
    const where = opts.line !== undefined ? `${opts.file}:${opts.line}` : opts.file;
    const field = opts.field ? ` field '${opts.field}':` : '';
    super(`${where}:${field} ${opts.expected}`);
    this.name = 'InputError';
    this.file = opts.file;
    this.line = opts.line;
    this.field = opts.field;
    this.expected = opts.expected;
  }
}

/** Several input problems found at once (all reported, one exit 2). */
export class InputErrors extends Error {
  readonly exitCode = 2;
  readonly errors: InputError[];
  constructor(errors: InputError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'InputErrors';
    this.errors = errors;
  }
}

/** A bundle or preflight operation failed at run time: exit 1. */
export class OperationError extends Error {
  readonly exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OperationError';
  }
}

/** The run was stopped by a signal (SIGINT, SIGTERM): exit 128 + its number, as a shell reports it. */
export class InterruptedError extends Error {
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals, message: string) {
    super(message);
    this.name = 'InterruptedError';
    this.exitCode = 128 + (signal === 'SIGTERM' ? 15 : 2);
  }
}

export function exitCodeOf(err: unknown): number {
  if (err && typeof err === 'object' && 'exitCode' in err && typeof err.exitCode === 'number') {
    return err.exitCode;
  }
  return 1;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
