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
import { open as openFile, truncate, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { OperationError } from '../../errors.ts';
import { withRetries, type RetryPolicy } from '../../oci/registry/retry.ts';
import { addExtent, coveredEnd, missingExtents, readExtents, removeExtents, writeExtents, type Extent } from './extents.ts';
import { hashRange, partialSize, writeFully } from './file-io.ts';

export interface RangeSource {
  /** GET bytes [start, end); `partial` false: the server ignored the range */
  open(start: number, end: number, signal: AbortSignal): Promise<{ body: Readable; partial: boolean }>;
  /** the request slots all downloads share */
  limit<T>(fn: () => Promise<T>): Promise<T>;
  /** the largest piece */
  pieceBytes: number;
  /** from this byte of the blob on, pieces of at most `bytes` (the end of a run's queue: layers.ts) */
  tail?: { from: number; bytes: number };
}

export interface RangedOptions {
  what: string;
  onBytes?: (n: number) => void;
  /** a piece is complete in the partial: bytes [start, end) */
  onSpan?: (start: number, end: number) => void;
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

/** Splits the missing spans into pieces of at most `max` bytes (`tail.bytes` from `tail.from` on). */
function planPieces(missing: readonly Extent[], max: number, tail?: RangeSource['tail']): Extent[] {
  const out: Extent[] = [];
  for (const [a, b] of missing) {
    for (let s = a; s < b; ) {
      const inTail = tail !== undefined && s >= tail.from;
      let e = Math.min(b, s + (inTail ? tail.bytes : max));
      if (tail && !inTail && e > tail.from) e = tail.from;
      out.push([s, e]);
      s = e;
    }
  }
  return out;
}

/**
 * The extents `partial` already holds: its record, else its length (a prefix
 * left by a single-stream download), and whether there is a record.
 */
async function heldExtents(partial: string, size: number): Promise<{ list: Extent[]; recorded: boolean }> {
  const length = await partialSize(partial);
  const held = await readExtents(partial, size);
  if (held) return { list: held.filter(([, b]) => b <= length), recorded: true };
  return { list: length > 0 ? [[0, Math.min(length, size)]] : [], recorded: false };
}

/** How many bytes of a `size`-byte blob `partial` holds that a download will not fetch again. */
export async function heldBytes(partial: string, size: number): Promise<number> {
  return spanBytes((await heldExtents(partial, size)).list);
}

const spanBytes = (list: readonly Extent[]) => list.reduce((n, [a, b]) => n + b - a, 0);

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
  const resumedFrom = spanBytes(held.list);
  const pieces = planPieces(missingExtents(held.list, size), src.pieceBytes, src.tail);
  // One piece that continues the prefix keeps it a prefix; anything else is
  // recorded before its first byte is written, so a partial with holes always has a record.
  const recorded = held.recorded || pieces.length > 1 || (pieces.length === 1 && pieces[0]![0] !== coveredEnd(held.list, 0));
  if (recorded && !held.recorded) await writeExtents(partial, size, held.list);
  const fh = await openFile(partial, existsSync(partial) ? 'r+' : 'w+');
  const d = new RangedDownload(partial, size, fh, held.list, recorded, src, opts);
  try {
    await d.run(pieces);
    return { hash: d.hash, transferred: d.transferred, resumedFrom };
  } finally {
    await d.settled();
    await fh.close();
  }
}

/** One blob's pieces in flight, what they covered, and the hash of its covered prefix. */
class RangedDownload {
  readonly hash = createHash('sha256');
  transferred = 0;
  #hashedTo = 0;
  #extents: Extent[];
  // Record writes and hashing run one at a time, in the order pieces finish;
  // the first failure among them is kept for the end.
  #chain: Promise<void> = Promise.resolve();
  #chainError: unknown;
  // One piece failing for good stops the others (what they wrote is recorded);
  // the first failure in time is the reason (the others' errors are its echoes,
  // which the registry client may wrap in errors of its own).
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  readonly #partial: string;
  readonly #size: number;
  readonly #fh: FileHandle;
  readonly #recorded: boolean;
  readonly #src: RangeSource;
  readonly #opts: RangedOptions;

  constructor(partial: string, size: number, fh: FileHandle, extents: Extent[], recorded: boolean, src: RangeSource, opts: RangedOptions) {
    this.#partial = partial;
    this.#size = size;
    this.#fh = fh;
    this.#extents = extents;
    this.#recorded = recorded;
    this.#src = src;
    this.#opts = opts;
    this.#signal = opts.signal ? AbortSignal.any([opts.signal, this.#stop.signal]) : this.#stop.signal;
  }

  async run(pieces: Extent[]): Promise<void> {
    void this.#advanceHash(); // what an earlier run left
    const results = await Promise.allSettled(pieces.map((p) => this.#src.limit(() => this.#piece(p))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.#record();
      throw this.#stop.signal.aborted ? this.#stop.signal.reason : failed.reason;
    }
    await this.#advanceHash();
    if (this.#chainError) throw this.#chainError;
    if (this.#hashedTo !== this.#size) throw new OperationError(`${this.#opts.what}: ${this.#hashedTo} of ${this.#size} bytes written`);
  }

  /** Waits for the record writes and hashing still queued. */
  settled(): Promise<void> {
    return this.#chain;
  }

  #after(step: () => Promise<void>): Promise<void> {
    return (this.#chain = this.#chain.then(step).catch((err: unknown) => {
      this.#chainError ??= err;
    }));
  }

  /** Hashes the covered run from the frontier on (read back from the partial). */
  #advanceHash(): Promise<void> {
    return this.#after(async () => {
      const end = coveredEnd(this.#extents, this.#hashedTo);
      if (end > this.#hashedTo) await hashRange(this.#fh, this.#partial, this.#hashedTo, end, this.hash);
      this.#hashedTo = end;
    });
  }

  #record(): Promise<void> {
    return this.#after(() => (this.#recorded ? writeExtents(this.#partial, this.#size, this.#extents) : Promise.resolve()));
  }

  /** Downloads bytes [start, end), each retry from where the last try stopped. */
  async #piece([start, end]: Extent): Promise<void> {
    const at = { done: 0 };
    try {
      await withRetries(() => this.#try(start, end, at), { ...(this.#opts.retry ? { policy: this.#opts.retry } : {}), signal: this.#signal });
    } catch (err) {
      this.#stop.abort(err);
      throw err;
    } finally {
      this.#extents = addExtent(this.#extents, start, start + at.done);
    }
    this.#opts.onSpan?.(start, end);
    void this.#record();
    void this.#advanceHash();
  }

  /** One request for what piece [start, end) still lacks; `at.done` counts what it has. */
  async #try(start: number, end: number, at: { done: number }): Promise<void> {
    const { what } = this.#opts;
    this.#signal.throwIfAborted();
    const from = start + at.done;
    const res = await this.#src.open(from, end, this.#signal);
    // (a whole-blob answer to a piece that is the whole blob is just what was asked for)
    if (!res.partial && !(from === 0 && end === this.#size)) {
      res.body.destroy();
      throw new RangeIgnoredError();
    }
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (start + at.done + chunk.length > end) throw new OperationError(`${what}: more bytes than the range ${from}-${end - 1} asked for`);
        // The piece at the hashed frontier is hashed as it arrives (a single-stream
        // blob, all of it); the others are read back once the frontier reaches them.
        if (start + at.done === this.#hashedTo) {
          this.hash.update(chunk);
          this.#hashedTo += chunk.length;
        }
        try {
          await writeFully(this.#fh, chunk, start + at.done);
        } catch (err) {
          throw new OperationError(`cannot write ${this.#partial}: ${(err as Error).message}`, { cause: err });
        }
        at.done += chunk.length;
        this.transferred += chunk.length;
        this.#opts.onBytes?.(chunk.length);
      }
    } catch (err) {
      res.body.destroy();
      throw err;
    }
    if (start + at.done < end) throw new OperationError(`${what}: the server sent ${start + at.done - from} of the ${end - from} bytes of range ${from}-${end - 1}`);
  }
}
