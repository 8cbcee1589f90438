// The content-addressed store behind `bundle create --cache-dir`: an OCI image
// layout on disk (oci-layout + blobs/sha256/<hex>). A blob streams into
// <hex>.partial while its sha256 is computed and is renamed to <hex> only when
// the digest (and size, when known) match, so a file under its final name is
// always verified and is never downloaded again. An interrupted download keeps
// its .partial; the next run re-hashes what is there and asks for the rest
// with HTTP Range (when the server ignores the range, the bytes it resends
// are skipped). A fetch may also hand every byte to a BlobSink as it is
// written (bundle create: the blob's tar entry). Blob bodies (blob-get.ts) are copied
// into a few reused, page-aligned 1 MiB batch buffers, which go to the .partial with
// direct I/O (direct-io.ts); undici's streams are batched the same way:
// memory stays flat whatever the blob size.
import { createHash, type Hash } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { open as openFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { OperationError } from '../errors.ts';
import { writeAllv } from './write-all.ts';
import { DispatchBody, type BlobBody } from './registry/blob-get.ts';
import { AlignedBatchPool, directWritable, disableDirectIo, isDirectRefusal, openDirect } from './direct-io.ts';
import type { ReadTurn } from './head-first.ts';
import { isTransientError, retryDelay } from './registry/retry.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Opens the source at byte `offset`; `partial` false means the stream starts at 0 regardless. */
export type BlobOpener = (offset: number) => Promise<{ body: BlobBody; partial: boolean }>;

export interface FetchResult {
  /** 'cached': already verified in the store; 'fetched': downloaded now (maybe resumed) */
  how: 'cached' | 'fetched';
  size: number;
  /** bytes that came over the wire in this call */
  transferred: number;
  /** bytes reused from a .partial left by an earlier run */
  resumedFrom: number;
  /** of the bytes transferred, those written to the cache with direct I/O (direct-io.ts) */
  direct?: number;
}

export interface FetchOptions {
  what?: string;
  /** bytes as they arrive; `fresh` when they came in newly allocated buffers (undici's socket reads), not in reused ones */
  onBytes?: (n: number, fresh: boolean) => void;
  attempts?: number;
  /** gets every byte of the blob too, as it is downloaded (or read back from a partial) */
  sink?: BlobSink;
}

export class DigestMismatchError extends OperationError {
  constructor(what: string, expected: string, got: string, size: number) {
    super(`${what}: content has sha256:${got} (${size} bytes), expected ${expected}; refused`);
    this.name = 'DigestMismatchError';
  }
}

function hexOf(digest: string): string {
  if (!DIGEST_RE.test(digest)) throw new OperationError(`unsupported digest ${digest} (expected sha256:<64 hex>)`);
  return digest.slice(7);
}

/**
 * Where a blob's bytes go besides its .partial (bundle create: its tar entry).
 * Writes come in order; `pos` is the offset in the blob. `filled` is how many
 * bytes from 0 it holds.
 */
export interface BlobSink {
  readonly filled: number;
  write(bufs: Buffer[], pos: number, n: number): Promise<void>;
  /** when set, a registry download takes bytes only while its turn allows (bundle create's head-first pacing) */
  readonly turn?: ReadTurn;
}

/** A write that failed: the .partial and the sink may disagree now, so no retry. */
class WriteFailure extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
  }
}

/**
 * Writes batches in order at increasing positions, to the file and (the same
 * buffers, in parallel) to the sink; one batch in flight at a time, so the
 * file grows contiguously and never has holes. A batch from the aligned pool
 * goes to the file with direct I/O where it can (direct-io.ts).
 */
class BatchWriter {
  #chain: Promise<void> = Promise.resolve();
  #pos: number;
  failed: WriteFailure | undefined;
  readonly #fh: FileHandle;
  #direct: FileHandle | undefined;
  readonly #sink: BlobSink | undefined;
  /** bytes that went to the file with direct I/O */
  directBytes = 0;

  constructor(fh: FileHandle, pos: number, sink: BlobSink | undefined, direct?: FileHandle) {
    this.#fh = fh;
    this.#pos = pos;
    this.#sink = sink;
    this.#direct = direct;
  }

  /** `aligned`: the one buffer in `bufs` starts at a page-aligned address. */
  write(bufs: Buffer[], n: number, aligned = false): Promise<void> {
    const at = this.#pos;
    this.#pos += n;
    const p = this.#chain.then(async () => {
      try {
        await Promise.all([this.#toFile(bufs, at, n, aligned), this.#sink?.write(bufs, at, n)]);
      } catch (err) {
        throw (this.failed ??= new WriteFailure(err));
      }
    });
    this.#chain = p;
    return p;
  }

  async #toFile(bufs: Buffer[], at: number, n: number, aligned: boolean): Promise<void> {
    if (this.#direct && aligned && bufs.length === 1 && directWritable(at, n)) {
      try {
        await writeAllv(this.#direct, bufs, at, n);
        this.directBytes += n;
        return;
      } catch (err) {
        if (!isDirectRefusal(err)) throw err;
        // This filesystem cannot: the page cache from now on (the bytes are written again below).
        disableDirectIo();
        this.#direct = undefined;
      }
    }
    await writeAllv(this.#fh, bufs, at, n);
  }

  /** Waits for every write so far. */
  drain(): Promise<void> {
    return this.#chain;
  }
}

/**
 * Streams `body` into `file` from byte `start` on: the first `skip` bytes are
 * dropped (a server that ignored our Range resends what we already have),
 * each further chunk is seen by `onChunk` (hash, count; it may throw to stop),
 * then written (to the file and the sink). Bytes
 * that arrived before an error are written before it is thrown, so a retry
 * resumes after them. Memory per blob is bounded: a few batch buffers.
 */
async function streamToFile(body: BlobBody, file: string, start: number, skip: number, onChunk: (chunk: Buffer, fresh: boolean) => void, sink?: BlobSink): Promise<number> {
  let fh: FileHandle;
  try {
    fh = await openFile(file, start > 0 ? 'r+' : 'w');
  } catch (err) {
    body.destroy(); // nobody will read it: free the connection
    throw err;
  }
  let direct: FileHandle | undefined;
  try {
    // Only dispatched bodies fill aligned batches; the tar copy (sink) stays in the page cache.
    if (body instanceof DispatchBody) direct = await openDirect(file);
  } catch (err) {
    await fh.close();
    body.destroy();
    throw err;
  }
  const writer = new BatchWriter(fh, start, sink, direct);
  try {
    if (body instanceof DispatchBody) await readDispatched(body, writer, skip, onChunk, sink?.turn);
    else await readStream(body, writer, skip, onChunk);
    await writer.drain();
  } catch (err) {
    await writer.drain().catch(() => undefined);
    // A failed write ends the fetch for good; a network error is retried.
    throw writer.failed ? new OperationError(`cannot write ${file}: ${writer.failed.message}`, { cause: writer.failed.cause }) : err;
  } finally {
    await Promise.all([direct?.close(), fh.close()]);
  }
  return writer.directBytes;
}

/**
 * One write per network chunk cost about a quarter of a second of main-thread
 * time per 150 MB in dispatch alone: chunks are gathered up to WRITE_BATCH
 * bytes and written with one writev before more is read, so back-pressure
 * reaches the socket and at most one batch per blob sits in memory.
 */
const WRITE_BATCH = 256 << 10;

async function readStream(body: Readable, writer: BatchWriter, skip: number, onChunk: (chunk: Buffer, fresh: boolean) => void): Promise<void> {
  let toSkip = skip;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async () => {
    if (batched === 0) return;
    const bufs = batch;
    const n = batched;
    batch = [];
    batched = 0;
    await writer.write(bufs, n);
  };
  try {
    for await (const raw of body as AsyncIterable<Buffer>) {
      let chunk = raw;
      if (toSkip > 0) {
        const drop = Math.min(toSkip, chunk.length);
        toSkip -= drop;
        chunk = chunk.subarray(drop);
        if (chunk.length === 0) continue;
      }
      onChunk(chunk, true);
      batch.push(chunk);
      batched += chunk.length;
      // Write when a batch is full, or when nothing more is waiting (a slow stream stays live for followers).
      if (batched >= WRITE_BATCH || batch.length >= 256 || body.readableLength === 0) await flush();
    }
    await flush();
    if (toSkip > 0) throw new OperationError(`the server sent fewer bytes than the ${skip} already downloaded`);
  } catch (err) {
    body.destroy();
    // Bytes that arrived before a dropped connection are good: keep them so the retry resumes after them.
    await flush().catch(() => {});
    throw err;
  }
}

/** Batch buffers for dispatched bodies, page-aligned for direct I/O and reused across blobs (memory stays flat). */
const FAST_BATCH = 1 << 20;
const FAST_BUFFERS_PER_BLOB = 3;
const batches = new AlignedBatchPool(FAST_BATCH);

/**
 * A dispatched body (blob-get.ts): undici's chunks are copied straight into batch buffers, which are written as they fill.
 * With a `turn`, no region is handed out while it says no: the request pauses until the turn wakes it.
 */
async function readDispatched(body: DispatchBody, writer: BatchWriter, skip: number, onChunk: (chunk: Buffer, fresh: boolean) => void, turn?: ReadTurn): Promise<void> {
  let toSkip = skip;
  const free: Buffer[] = [];
  for (let i = 0; i < FAST_BUFFERS_PER_BLOB; i++) free.push(batches.take());
  let cur: Buffer | undefined;
  let fill = 0;
  let writeError: unknown;
  const giveBack = (b: Buffer) => {
    free.push(b);
  };
  const submit = () => {
    const b = cur!;
    const n = fill;
    cur = undefined;
    fill = 0;
    if (n === 0) return giveBack(b);
    writer.write([b.subarray(0, n)], n, true).then(
      () => {
        giveBack(b);
        body.resume();
      },
      (err) => {
        writeError ??= err;
        body.destroy();
      },
    );
  };
  turn?.onWake(() => body.resume());
  try {
    await body.consume({
      region: () => {
        if (writeError) return undefined;
        if (turn && !turn.mayRead()) return undefined;
        if (!cur) {
          cur = free.pop();
          fill = 0;
          if (!cur) return undefined;
        }
        return cur.subarray(fill);
      },
      filled: (n) => {
        turn?.took(n);
        let at = fill;
        if (toSkip > 0) {
          const drop = Math.min(toSkip, n);
          toSkip -= drop;
          if (drop < n) cur!.copyWithin(at, at + drop, at + n);
          n -= drop;
          if (n === 0) return;
        }
        // `fresh`: the batch buffer is reused, but undici read these bytes into a new socket buffer (garbage now).
        onChunk(cur!.subarray(at, at + n), true);
        fill = at + n;
        if (fill === cur!.length) submit();
      },
    });
    if (cur) submit();
    if (toSkip > 0) throw new OperationError(`the server sent fewer bytes than the ${skip} already downloaded`);
  } catch (err) {
    // Bytes that arrived before a dropped connection are good (hashed already): write them too.
    if (cur) submit();
    throw err;
  } finally {
    turn?.onWake(undefined);
    await writer.drain().catch(() => undefined);
    for (const b of free.splice(0)) batches.give(b);
  }
  if (writeError) throw writeError;
}

/** Hashes the first `size` bytes of `path`; bytes the sink lacks are written to it on the way. */
async function hashFile(path: string, size: number, hash: Hash, sink?: BlobSink): Promise<void> {
  const fh = await openFile(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(size, 1)));
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) throw new OperationError(`${path}: shorter than ${size} bytes`);
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      if (sink && pos + bytesRead > sink.filled) {
        const from = Math.max(sink.filled - pos, 0);
        await sink.write([chunk.subarray(from)], pos + from, bytesRead - from);
      }
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

export class ContentStore {
  readonly root: string;
  readonly #blobs: string;
  readonly #inflight = new Map<string, Promise<FetchResult>>();

  constructor(root: string) {
    this.root = root;
    this.#blobs = join(root, 'blobs', 'sha256');
    mkdirSync(this.#blobs, { recursive: true });
    const marker = join(root, 'oci-layout');
    if (!existsSync(marker)) writeFileSync(marker, '{"imageLayoutVersion":"1.0.0"}');
  }

  path(digest: string): string {
    return join(this.#blobs, hexOf(digest));
  }

  /** Size of a verified blob, or undefined. */
  sizeOf(digest: string): number | undefined {
    try {
      return statSync(this.path(digest)).size;
    } catch {
      return undefined;
    }
  }

  /** Stores small content we already hold (manifests, generated files); returns its digest. */
  async putBuffer(data: Buffer, expected?: string, what = 'blob'): Promise<string> {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (expected && digest !== expected) throw new DigestMismatchError(what, expected, digest.slice(7), data.length);
    const final = this.path(digest);
    if (this.sizeOf(digest) === data.length) return digest;
    const tmp = `${final}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, final);
    return digest;
  }

  /**
   * Streams content whose digest is not known beforehand (a chart without an
   * index digest) into the store; returns its digest and size.
   */
  async ingest(body: Readable, what: string): Promise<{ digest: string; size: number }> {
    const tmp = join(this.#blobs, `ingest-${process.pid}-${Math.random().toString(36).slice(2)}.tmp`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await streamToFile(body, tmp, 0, 0, (chunk) => {
        hash.update(chunk);
        size += chunk.length;
      });
    } catch (err) {
      await rm(tmp, { force: true });
      throw new OperationError(`${what}: ${(err as Error).message}`, { cause: err });
    }
    const digest = `sha256:${hash.digest('hex')}`;
    await rename(tmp, this.path(digest));
    return { digest, size };
  }

  /**
   * Makes sure blob `digest` is in the store, downloading it through `open`
   * when it is not. Concurrent calls for one digest share one download.
   */
  fetch(digest: string, size: number | undefined, open: BlobOpener, opts: FetchOptions = {}): Promise<FetchResult> {
    let p = this.#inflight.get(digest);
    if (!p) {
      p = this.#fetch(digest, size, open, opts).finally(() => this.#inflight.delete(digest));
      this.#inflight.set(digest, p);
    }
    return p;
  }

  async #fetch(digest: string, size: number | undefined, open: BlobOpener, opts: FetchOptions): Promise<FetchResult> {
    const what = opts.what ?? `blob ${digest}`;
    const final = this.path(digest);
    const have = this.sizeOf(digest);
    if (have !== undefined && (size === undefined || have === size)) return { how: 'cached', size: have, transferred: 0, resumedFrom: 0 };
    const partial = `${final}.partial`;
    const attempts = opts.attempts ?? 5;
    let transferred = 0;
    let resumedFrom = 0;
    let direct = 0;
    // A partial longer than the blob cannot be ours: start it over.
    if (size !== undefined && (await stat(partial).then((st) => st.size, () => 0)) > size) await rm(partial, { force: true });
    for (let attempt = 1; ; attempt++) {
      // Re-hash what an earlier try (or run) left, then ask for the rest.
      const hash = createHash('sha256');
      const offset = await stat(partial).then((st) => st.size, () => 0);
      if (offset > 0) await hashFile(partial, offset, hash, opts.sink);
      if (attempt === 1) resumedFrom = offset;
      try {
        const src = await open(offset);
        // A server that ignored the range sends from byte 0: skip what we have.
        const skip = !src.partial && offset > 0 ? offset : 0;
        let got = offset;
        direct += await streamToFile(
          src.body,
          partial,
          offset,
          skip,
          (chunk, fresh) => {
            hash.update(chunk);
            got += chunk.length;
            transferred += chunk.length;
            opts.onBytes?.(chunk.length, fresh);
            if (size !== undefined && got > size) throw new OperationError(`${what}: more than the expected ${size} bytes`);
          },
          opts.sink,
        );
        return { ...(await this.#seal(digest, size, partial, final, hash, got, what, transferred, resumedFrom)), direct };
      } catch (err) {
        if (err instanceof DigestMismatchError) throw err;
        if (attempt >= attempts || !isTransientError(err)) {
          throw err instanceof OperationError ? err : new OperationError(`${what}: ${(err as Error).message}`, { cause: err });
        }
        // Keep the partial: the next try resumes from its end, after a backoff with jitter.
        await sleep(retryDelay(attempt, undefined));
      }
    }
  }

  async #seal(digest: string, size: number | undefined, partial: string, final: string, hash: Hash, got: number, what: string, transferred: number, resumedFrom: number): Promise<FetchResult> {
    const hex = hash.digest('hex');
    if (hex !== hexOf(digest) || (size !== undefined && got !== size)) {
      // A bad partial must not poison the next run.
      await rm(partial, { force: true });
      if (size !== undefined && got !== size && hex !== hexOf(digest)) {
        throw new DigestMismatchError(`${what} (${got} bytes, expected ${size})`, digest, hex, got);
      }
      throw new DigestMismatchError(what, digest, hex, got);
    }
    await rename(partial, final);
    return { how: 'fetched', size: got, transferred, resumedFrom };
  }
}
