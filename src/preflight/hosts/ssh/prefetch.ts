// The batch read behind SshHost.prefetch: the declared facts read in one exec channel
// (../batch.ts), kept in a BatchCache that readFile/readDir/exec/statFs/uid consult first.
import { randomBytes } from 'node:crypto';
import type { Gather } from '../../types.ts';
import { BatchParser, batchEntries, batchScript } from '../batch.ts';
import { BatchCache } from '../batch-cache.ts';
import { shQuote } from '../quote.ts';
import { abortError } from '../abort.ts';
import type { ExecChannels } from './exec.ts';

/** A batch read whose output piles up beyond this without a marker is abandoned (runaway command). */
const MAX_BATCH_PENDING = 64 * 1024 * 1024;

/**
 * Starts the batch on its own exec channel and returns its cache at once (undefined when
 * nothing but the uid would be read). Never rejects: a failed batch only ends the cache,
 * and the facts are then read one by one.
 */
export function startBatch(channels: ExecChannels, gather: Gather, opts: { signal?: AbortSignal; timeoutMs: number; uid: boolean }): BatchCache | undefined {
  const entries = batchEntries(gather, { uid: opts.uid });
  if (entries.filter((e) => e.kind !== 'uid').length === 0) return undefined;
  const cache = new BatchCache(entries);
  const nonce = randomBytes(16).toString('hex');
  const parser = new BatchParser(nonce, (r) => cache.record(r));
  // bash when the node has it (its builtins spare a process per file), else sh.
  const script = shQuote(batchScript(entries, nonce));
  channels
    .stream(`S=${script}; command -v bash >/dev/null 2>&1 && exec bash -c "$S"; exec sh -c "$S"`, {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      stdout: (b) => parser.stdout(b),
      stderr: (b) => parser.stderr(b),
      tooMuch: () => parser.pendingBytes > MAX_BATCH_PENDING,
    })
    .catch(() => {}) // a failed batch only means the facts are read one by one
    .finally(() => cache.end());
  return cache;
}

/** A batch answer, waited for (abortably); undefined when there is none. */
export async function fromBatch<T>(cache: BatchCache | undefined, get: (c: BatchCache) => Promise<T | undefined> | undefined, signal?: AbortSignal): Promise<T | undefined> {
  const p = cache ? get(cache) : undefined;
  if (!p) return undefined;
  if (!signal) return p;
  if (signal.aborted) throw abortError(signal);
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError(signal));
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}
