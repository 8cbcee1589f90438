// The last line of defence: an error that escaped every handler (thrown from
// an event callback inside a dependency, or a rejection nobody awaited) ends
// the run as any other failure does — one line on stderr naming what was in
// flight, temp files removed (in-flight.ts), exit 1 — never a stack trace
// (ASTRAGO_DEBUG=1 adds it).
import { collectSecrets, redactText } from '../report/redact.ts';
import { itemsInFlight, runFatalCleanups } from '../in-flight.ts';
import { TOOL_NAME } from '../version.ts';

/** The one line for an uncaught `err`, naming the items in flight. */
export function fatalLine(err: unknown, items: string[]): string {
  const text = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  const during = items.length === 0 ? '' : ` while ${items[0]}${items.length > 1 ? ` (and ${items.length - 1} other item${items.length > 2 ? 's' : ''})` : ''}`;
  return `${TOOL_NAME}: error: internal error${during}: ${flat}; nothing was written under the output's name (run again to resume)`;
}

export function installFatalHandlers(io: { stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv; cwd: string }): void {
  let done = false;
  const die = (err: unknown) => {
    if (done) return;
    done = true;
    const secrets = collectSecrets(undefined, io.env, io.cwd);
    try {
      runFatalCleanups();
      io.stderr.write(redactText(fatalLine(err, itemsInFlight()) + '\n', secrets));
      if (io.env.ASTRAGO_DEBUG && err instanceof Error && err.stack) io.stderr.write(redactText(err.stack + '\n', secrets));
    } finally {
      process.exit(1);
    }
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
  // Nothing left to wait for, yet the command never finished (a promise nobody settles):
  // a failure, not a silent exit 0.
  process.on('beforeExit', () => {
    if (!finished) die(new Error('the command stopped without finishing (nothing was left to wait for)'));
  });
}

let finished = false;

/** The command has returned (its exit code is set): a natural exit is expected now. */
export function commandFinished(): void {
  finished = true;
}
