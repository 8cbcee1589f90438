// A semaphore for session channels (sshd limits them per connection: MaxSessions).
import { abortError } from '../abort.ts';

export class Slots {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async take(signal?: AbortSignal): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve, reject) => {
        const w = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          reject(abortError(signal!));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(w);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
