// One blob downloaded as byte ranges (pieces) that share the run's request
// slots with every other download. Over a link that caps each connection
// (a WAN, a CDN), one stream per blob leaves the last large blobs running
// alone at one connection's rate; in pieces, they keep every slot busy to the
// end. Each piece is written at its offset in the blob's .partial; what each
// wrote is kept in the extents record (extents.ts), so after a stop (a signal,
// a failure) the next try asks only for what is missing. The sha256 follows
// the covered prefix: the piece at its edge as it arrives, the ones beyond it
// read back as the edge reaches them, so little is left to hash at the end.
import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open as openFile, stat, truncate } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { OperationError } from '../../errors.ts';
import { withRetries, type RetryPolicy } from '../../oci/registry/retry.ts';
import { addExtent, coveredEnd, missingExtents, readExtents, removeExtents, writeExtents, type Extent } from './extents.ts';
import { hashRange, writeFully } from './file-io.ts';

export interface RangeSource {
  /** GET bytes [start, end); `partial` false: the server ignored the range */
  open(start: number, end: number, signal: AbortSignal): Promise<{ body: Readable; partial: boolean }>;
  /** the request slots all downloads share */
  limit<T>(fn: () => Promise<T>): Promise<T>;
  /** the largest piece */
  pieceBytes: number;
}

export interface RangedOptions {
  what: string;
  onBytes?: (n: number) => void;
  retry?: RetryPolicy;
  signal?: AbortSignal;
}

/** The server answered a range with the whole blob: the caller downloads it as one stream instead. */
export class RangeIgnoredError extends Error {
  constructor() {
    super('the server ignored the byte range');
    this.name = 'RangeIgnoredError';
  }
}

/** Splits the missing spans into pieces of at most `max` bytes. */
export function planPieces(missing: readonly Extent[], max: number): Extent[] {
  const out: Extent[] = [];
  for (const [a, b] of missing) for (let s = a; s < b; s += max) out.push([s, Math.min(b, s + max)]);
  return out;
}

/**
 * The extents `partial` already holds: its record, else its length (a prefix
 * left by a single-stream download), and whether there is a record.
 */
async function heldExtents(partial: string, size: number): Promise<{ list: Extent[]; recorded: boolean }> {
  const length = await stat(partial).then((st) => st.size, () => 0);
  const held = await readExtents(partial, size);
  if (held) return { list: held.filter(([, b]) => b <= length), recorded: true };
  return { list: length > 0 ? [[0, Math.min(length, size)]] : [], recorded: false };
}

/** Makes a partial left by a ranged download a prefix again (for a single-stream download): cut at its first hole. */
export async function keepPrefix(partial: string, size: number): Promise<void> {
  const held = await readExtents(partial, size);
  if (!held) return;
  if (existsSync(partial)) await truncate(partial, coveredEnd(held, 0));
  await removeExtents(partial);
}

/**
 * Fills `partial` to `size` bytes from `src`; returns the sha256 of all of it
 * (for the store to check) and the bytes that came over the wire.
 */
export async function fetchRanged(partial: string, size: number, src: RangeSource, opts: RangedOptions): Promise<{ hash: Hash; transferred: number; resumedFrom: number }> {
  const held = await heldExtents(partial, size);
  let extents = held.list;
  const resumedFrom = extents.reduce((n, [a, b]) => n + b - a, 0);
  const pieces = planPieces(missingExtents(extents, size), src.pieceBytes);
  // One piece that continues the prefix keeps it a prefix; anything else is
  // recorded before its first byte is written, so a partial with holes always has a record.
  const recorded = held.recorded || pieces.length > 1 || (pieces.length === 1 && pieces[0]![0] !== coveredEnd(extents, 0));
  if (recorded && !held.recorded) await writeExtents(partial, size, extents);
  const fh = await openFile(partial, existsSync(partial) ? 'r+' : 'w+');
  const hash = createHash('sha256');
  let hashedTo = 0;
  let transferred = 0;
  // Record writes and hashing run one at a time, in the order pieces finish;
  // the first failure among them is kept for the end.
  let chain: Promise<void> = Promise.resolve();
  let chainError: unknown;
  const after = (step: () => Promise<void>) =>
    (chain = chain.then(step).catch((err: unknown) => {
      chainError ??= err;
    }));
  const advanceHash = () =>
    after(async () => {
      const end = coveredEnd(extents, hashedTo);
      if (end > hashedTo) await hashRange(fh, partial, hashedTo, end, hash);
      hashedTo = end;
    });
  const record = () => after(() => (recorded ? writeExtents(partial, size, extents) : Promise.resolve()));
  // One piece failing for good stops the others (what they wrote is recorded);
  // the first failure in time is the reason (the others' errors are its echoes,
  // which the registry client may wrap in errors of its own).
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;

  const piece = async ([start, end]: Extent): Promise<void> => {
    let done = 0;
    try {
      await withRetries(
        async () => {
          signal.throwIfAborted();
          const from = start + done;
          const res = await src.open(from, end, signal);
          // (a whole-blob answer to a piece that is the whole blob is just what was asked for)
          if (!res.partial && !(from === 0 && end === size)) {
            res.body.destroy();
            throw new RangeIgnoredError();
          }
          try {
            for await (const chunk of res.body as AsyncIterable<Buffer>) {
              if (start + done + chunk.length > end) throw new OperationError(`${opts.what}: more bytes than the range ${from}-${end - 1} asked for`);
              // The piece at the hashed frontier is hashed as it arrives (a single-stream
              // blob, all of it); the others are read back once the frontier reaches them.
              if (start + done === hashedTo) {
                hash.update(chunk);
                hashedTo += chunk.length;
              }
              try {
                await writeFully(fh, chunk, start + done);
              } catch (err) {
                throw new OperationError(`cannot write ${partial}: ${(err as Error).message}`, { cause: err });
              }
              done += chunk.length;
              transferred += chunk.length;
              opts.onBytes?.(chunk.length);
            }
          } catch (err) {
            res.body.destroy();
            throw err;
          }
          if (start + done < end) throw new OperationError(`${opts.what}: the server sent ${start + done - from} of the ${end - from} bytes of range ${from}-${end - 1}`);
        },
        { ...(opts.retry ? { policy: opts.retry } : {}), signal },
      );
    } catch (err) {
      stop.abort(err);
      throw err;
    } finally {
      extents = addExtent(extents, start, start + done);
    }
    void record();
    void advanceHash();
  };

  try {
    void advanceHash(); // what an earlier run left
    const results = await Promise.allSettled(pieces.map((p) => src.limit(() => piece(p))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await record();
      throw stop.signal.aborted ? stop.signal.reason : failed.reason;
    }
    await advanceHash();
    if (chainError) throw chainError;
    if (hashedTo !== size) throw new OperationError(`${opts.what}: ${hashedTo} of ${size} bytes written`);
    return { hash, transferred, resumedFrom };
  } finally {
    await chain;
    await fh.close();
  }
}
