// Clock readings of a node for the time-skew check, over one exec channel: a shell reads a
// line, runs `date +%s.%N` (the clock the node's own tools see), reads the next line, and so
// on; each reading is bracketed by when we asked and when the answer came.
import type { ClientChannel } from 'ssh2';
import { shQuote } from '../quote.ts';
import { abortError } from '../abort.ts';

export interface ClockReading {
  sentAt: number;
  receivedAt: number;
  text: string;
}

/** The command line the channel runs. */
export const clockCommand = `exec env LC_ALL=C sh -c ${shQuote('while IFS= read -r _; do date +%s.%N; done')}`;

/** `count` readings from a channel running clockCommand (which the caller closes). */
export function readClock(ch: ClientChannel, node: string, count: number, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<ClockReading[]> {
  const { signal } = opts;
  const now = () => performance.timeOrigin + performance.now();
  const readings: ClockReading[] = [];
  return new Promise((resolve, reject) => {
    let buf = '';
    let sentAt = 0;
    const timer = setTimeout(() => fail(new Error(`no clock reading within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const onAbort = () => fail(abortError(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      done();
      reject(err);
    };
    const ask = () => {
      sentAt = now();
      ch.write('\n');
    };
    ch.setEncoding('utf8');
    ch.on('data', (d: string) => {
      const receivedAt = now();
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        readings.push({ sentAt, receivedAt, text: buf.slice(0, nl).trim() });
        buf = buf.slice(nl + 1);
        if (readings.length >= count) {
          done();
          return resolve(readings);
        }
        ask();
      }
    });
    ch.stderr.on('data', () => {});
    ch.on('close', () => fail(new Error(`the clock reader on ${node} ended after ${readings.length} readings`)));
    ch.on('error', (err: Error) => fail(err));
    ask();
  });
}
