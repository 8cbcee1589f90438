// How a running command's promise settles, for the local and the SSH host alike: once, by
// whichever comes first of its end, an error, an abort of the caller's signal (the command is
// killed, the promise rejects with the signal's reason) or its timeout (killed, `onTimeout`).
import { abortError } from './abort.ts';

export interface SettleOnceOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /** Stops the command (on abort and on timeout), before the promise settles. */
  kill(): void;
  /** Rejects the promise (with the signal's reason, on abort). */
  reject(err: Error): void;
  /** Settles the promise once timeoutMs has passed. */
  onTimeout(): void;
}

export interface Settlement {
  /** Whether the promise has settled. */
  readonly done: boolean;
  /** Runs `settle` (a resolve or reject) unless already settled; stops the timer and the abort listener. */
  finish(settle: () => void): void;
}

/** Arms the abort listener and the timer; call inside the promise's executor. */
export function settleOnce(opts: SettleOnceOptions): Settlement {
  const { signal, timeoutMs } = opts;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const settlement: Settlement = {
    get done() {
      return done;
    },
    finish(settle) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    },
  };
  const onAbort = () => {
    opts.kill();
    settlement.finish(() => opts.reject(abortError(signal!)));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (timeoutMs) {
    timer = setTimeout(() => {
      opts.kill();
      settlement.finish(opts.onTimeout);
    }, timeoutMs);
  }
  return settlement;
}
