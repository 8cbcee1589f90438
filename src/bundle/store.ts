// The content-addressed store behind `bundle create --cache-dir`: an OCI image
// layout on disk (oci-layout + blobs/sha256/<hex>). A blob streams into
// <hex>.partial while its sha256 is computed and is renamed to <hex> only when
// the digest (and size, when known) match, so a file under its final name is
// always verified and is never downloaded again. An interrupted download keeps
// its .partial; the next run re-hashes what is there and asks for the rest
// with HTTP Range (when the server ignores the range, the bytes it resends
// are skipped). A fetch may also hand every byte to a BlobSink as it is
// written (bundle create: the blob's tar entry). A sink that verifies and reads
// back (tee mode, #fetchTee) gets the bytes alone: it supplies the digest (the
// tar-hash worker's), and a CacheTrail copies its bytes into the .partial
// behind the download. Blob bodies (blob-get.ts) are copied into a few reused,
// page-aligned 1 MiB batch buffers, which go to the .partial with direct I/O
// (direct-io.ts); undici's streams are batched the same way: memory stays
// flat whatever the blob size.
import { createHash, type Hash } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { open as openFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { OperationError } from '../errors.ts';
import { writeAllv } from './write-all.ts';
import { DispatchBody, type BlobBody } from './registry/blob-get.ts';
import { AlignedBatchPool, directIoEnabled, directWritable, disableDirectIo, isDirectRefusal, openDirect } from './direct-io.ts';
import pLimit from 'p-limit';
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
  /**
   * The sha256 (hex) of the sink's bytes once all are written, computed
   * elsewhere (bundle create: the tar-hash worker, from the tar). With it and
   * readBack, a download of known size is not hashed here and its .partial is
   * copied from the sink behind the download (CacheTrail): the cache's disk
   * writes are off the download's path.
   */
  digest?(): Promise<string>;
  /** reads `buf.length` bytes at `pos` of what was written */
  readBack?(buf: Buffer, pos: number): Promise<void>;
}

/** What a sink throws once it takes no more bytes (bundle create failed): the download stops, no retry. */
export class SinkClosedError extends OperationError {
  constructor(what: string) {
    super(`${what}: stopped (the bundle is not written)`);
    this.name = 'SinkClosedError';
  }
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
  readonly #fh: FileHandle | undefined;
  #direct: FileHandle | undefined;
  readonly #sink: BlobSink | undefined;
  /** bytes that went to the file with direct I/O */
  directBytes = 0;
  /** after each batch is written: the end of what is written from `pos` on */
  onWritten: ((end: number) => void) | undefined;

  /** the batches go to the sink only (their cache copy trails them) */
  get teeOnly(): boolean {
    return !this.#fh;
  }

  /** No `fh`: the batches go to the sink only (tee mode). */
  constructor(fh: FileHandle | undefined, pos: number, sink: BlobSink | undefined, direct?: FileHandle) {
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
        await Promise.all([this.#fh && this.#toFile(bufs, at, n, aligned), this.#sink?.write(bufs, at, n)]);
      } catch (err) {
        throw (this.failed ??= new WriteFailure(err));
      }
      this.onWritten?.(at + n);
    });
    this.#chain = p;
    return p;
  }

  async #toFile(bufs: Buffer[], at: number, n: number, aligned: boolean): Promise<void> {
    if (await writeMaybeDirect(this.#fh!, this.#direct, bufs, at, n, aligned)) this.directBytes += n;
  }

  /** Waits for every write so far. */
  drain(): Promise<void> {
    return this.#chain;
  }
}

/**
 * Writes `bufs` (`n` bytes) at `at`: with direct I/O where `direct` is open and
 * the buffer (`aligned`: one page-aligned buffer), offset and length allow it,
 * else through the page cache. True when it went direct. A filesystem that
 * refuses direct I/O turns it off for the rest of the run.
 */
async function writeMaybeDirect(fh: FileHandle, direct: FileHandle | undefined, bufs: Buffer[], at: number, n: number, aligned: boolean): Promise<boolean> {
  if (direct && aligned && bufs.length === 1 && directIoEnabled() && directWritable(at, n)) {
    try {
      await writeAllv(direct, bufs, at, n);
      return true;
    } catch (err) {
      if (!isDirectRefusal(err)) throw err;
      // This filesystem cannot: the page cache from now on (the bytes are written again below).
      disableDirectIo();
    }
  }
  await writeAllv(fh, bufs, at, n);
  return false;
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
  let direct: FileHandle | undefined;
  try {
    // Only dispatched bodies fill aligned batches; the tar copy (sink) stays in the page cache.
    ({ fh, direct } = await openPartial(file, start, body instanceof DispatchBody));
  } catch (err) {
    body.destroy(); // nobody will read it: free the connection
    throw err;
  }
  const writer = new BatchWriter(fh, start, sink, direct);
  try {
    await streamThrough(body, writer, skip, onChunk, sink?.turn, file);
  } finally {
    await Promise.all([direct?.close(), fh.close()]);
  }
  return writer.directBytes;
}

/** Opens `file` to write from byte `start` (kept), and with direct I/O too when `wantDirect` and it is on. */
async function openPartial(file: string, start: number, wantDirect: boolean): Promise<{ fh: FileHandle; direct: FileHandle | undefined }> {
  const fh = await openFile(file, start > 0 ? 'r+' : 'w');
  try {
    return { fh, direct: wantDirect ? await openDirect(file) : undefined };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Reads `body` into `writer` (see streamToFile); `target` names what a failed write was for. */
async function streamThrough(body: BlobBody, writer: BatchWriter, skip: number, onChunk: (chunk: Buffer, fresh: boolean) => void, turn: ReadTurn | undefined, target: string): Promise<void> {
  try {
    if (body instanceof DispatchBody) await readDispatched(body, writer, skip, onChunk, turn);
    else await readStream(body, writer, skip, onChunk);
    await writer.drain();
  } catch (err) {
    await writer.drain().catch(() => undefined);
    // A failed write ends the fetch for good; a network error is retried.
    if (!writer.failed) throw err;
    if (writer.failed.cause instanceof SinkClosedError) throw writer.failed.cause;
    throw new OperationError(`cannot write ${target}: ${writer.failed.message}`, { cause: writer.failed.cause });
  }
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
 * Blobs whose .partial is being copied into at once. Each copy reads from the
 * page cache and writes, so a few keep both the disk and the CPU busy without
 * taking the whole thread pool, which the tar's writes and reads share.
 */
const trailLanes = pLimit(3);

/**
 * Of those copies' writes, this many at a time go with direct I/O, the rest
 * through the page cache while the store's page-cache budget lasts
 * (ContentStore.pageCacheBudget). The disk takes direct writes only so fast
 * (on the bench VM about 400 MB/s, the same at any queue depth), and a
 * page-cache write costs CPU instead (fresh pages, about 1 ms per MB there):
 * the cache is written with both at once. Measured on the bench's five images
 * (550 MB): all direct, 0.2-0.4 s slower; all buffered, 0.3 s slower.
 */
const DIRECT_WRITES = 1;
let directWrites = 0;

/**
 * Bytes in sinks not yet in the cache, over all blobs; downloads pause at
 * BACKLOG_LIMIT until the copies catch up. This bounds what a killed run
 * (kill -9) loses, and how far the tar's page cache runs ahead of a slow disk.
 * Measured on the bench's 2.2 GB set (disk-bound): 512 MiB costs nothing
 * against no limit, 128-256 MiB made the run up to 1 s slower.
 */
const BACKLOG_LIMIT = 512 << 20;
const backlog = { bytes: 0, waiting: new Set<() => void>() };

function addBacklog(n: number): void {
  backlog.bytes += n;
  if (n < 0 && backlog.bytes < BACKLOG_LIMIT && backlog.waiting.size > 0) {
    const wake = [...backlog.waiting];
    backlog.waiting.clear();
    for (const w of wake) w();
  }
}

/**
 * Copies a blob's bytes from its sink (bundle create: its tar entry, in the
 * page cache) into its .partial, behind the download: the download's batches
 * wait only for the sink, and the cache's writes, which wait on the disk, go
 * on meanwhile. Chunks of FAST_BATCH bytes at aligned offsets may go with
 * direct I/O (DIRECT_WRITES). One write at a time per blob, in order, so the
 * .partial grows from its start and a killed run leaves a prefix to resume
 * from; the sink keeps every byte until it is copied, so memory stays flat.
 */
class CacheTrail {
  readonly #fh: FileHandle;
  readonly #direct: FileHandle | undefined;
  readonly #readBack: (buf: Buffer, pos: number) => Promise<void>;
  /** bytes handed to a copy so far, and bytes copied */
  #copied: number;
  #done: number;
  #target: number;
  #closing = false;
  #running: Promise<void> | undefined;
  #error: unknown;
  /** page-cache bytes the store's copies may still write (shared, counted down) */
  readonly #budget: { bytes: number };
  directBytes = 0;

  /** `from`: the .partial's bytes so far (they are in the sink too) */
  constructor(fh: FileHandle, direct: FileHandle | undefined, from: number, readBack: (buf: Buffer, pos: number) => Promise<void>, budget: { bytes: number }) {
    this.#budget = budget;
    this.#fh = fh;
    this.#direct = direct;
    this.#copied = from;
    this.#done = from;
    this.#target = from;
    this.#readBack = readBack;
  }

  /** The sink holds bytes [0, `filled`). */
  advance(filled: number): void {
    if (filled <= this.#target) return;
    addBacklog(filled - this.#target);
    this.#target = filled;
    this.#pump();
  }

  /** Copies all the sink holds (the last advance()), then resolves; rejects if a copy failed. */
  async finish(): Promise<void> {
    this.#closing = true;
    this.#pump();
    while (this.#running) await this.#running;
    // (after a failed copy, what is left is no longer waited for)
    addBacklog(this.#done - this.#target);
    this.#target = this.#done;
    if (this.#error) throw this.#error;
  }

  /** The next chunk: up to the next FAST_BATCH boundary, whole unless the sink is done. */
  #next(): number {
    const room = FAST_BATCH - (this.#copied % FAST_BATCH);
    const have = this.#target - this.#copied;
    return have >= room ? room : this.#closing ? have : 0;
  }

  #pump(): void {
    if (this.#running || this.#error !== undefined || this.#next() === 0) return;
    this.#running = trailLanes(() => this.#drain())
      .catch((err: unknown) => {
        this.#error = err;
      })
      .finally(() => {
        this.#running = undefined;
        this.#pump();
      });
  }

  /**
   * Copies chunks while there are any: the next chunk's read (page cache,
   * often queued behind the tar's writes in the thread pool) overlaps this
   * chunk's write, so the disk is kept busy.
   */
  async #drain(): Promise<void> {
    let writing: Promise<void> | undefined;
    try {
      for (let n = this.#next(); n > 0; n = this.#next()) {
        const at = this.#copied;
        this.#copied = at + n;
        const buf = batches.take();
        try {
          await this.#readBack(buf.subarray(0, n), at);
          await writing;
        } catch (err) {
          batches.give(buf);
          throw err;
        }
        writing = this.#write(buf, at, n);
        writing.catch(() => undefined); // awaited in the next round or below
      }
    } finally {
      await writing;
    }
  }

  async #write(buf: Buffer, at: number, n: number): Promise<void> {
    try {
      // (pool buffers are page-aligned while direct I/O is on)
      if (directWrites < DIRECT_WRITES || this.#budget.bytes < n) {
        directWrites++;
        try {
          if (await writeMaybeDirect(this.#fh, this.#direct, [buf.subarray(0, n)], at, n, true)) this.directBytes += n;
        } finally {
          directWrites--;
        }
      } else {
        this.#budget.bytes -= n;
        await writeAllv(this.#fh, [buf.subarray(0, n)], at, n);
      }
      this.#done = at + n;
      addBacklog(-n);
    } finally {
      batches.give(buf);
    }
  }
}

/**
 * A dispatched body (blob-get.ts): undici's chunks are copied straight into batch buffers, which are written as they fill.
 * With a `turn`, no region is handed out while it says no: the request pauses until the turn wakes it.
 */
async function readDispatched(body: DispatchBody, writer: BatchWriter, skip: number, onChunk: (chunk: Buffer, fresh: boolean) => void, turn?: ReadTurn): Promise<void> {
  const wake = () => body.resume();
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
        if (writer.teeOnly && backlog.bytes >= BACKLOG_LIMIT) {
          backlog.waiting.add(wake);
          return undefined;
        }
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

/** Hashes the first `size` bytes of `path` (unless `hash` is undefined); bytes the sink lacks are written to it on the way. */
async function hashFile(path: string, size: number, hash: Hash | undefined, sink?: BlobSink): Promise<void> {
  const fh = await openFile(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(size, 1)));
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) throw new OperationError(`${path}: shorter than ${size} bytes`);
      const chunk = buf.subarray(0, bytesRead);
      hash?.update(chunk);
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
  readonly #pageCache = { bytes: 0 };

  /**
   * Bytes of tee-mode cache copies that may still go through the page cache
   * (CacheTrail); the rest go direct. 0 (the default): all direct. Written
   * pages cost only CPU while the kernel keeps them dirty in memory, but
   * once dirty memory passes its writeback threshold they go to the disk
   * during the run as well, beside the direct writes: bundle create sets
   * what fits under that threshold beside the tar.
   */
  set pageCacheBudget(bytes: number) {
    this.#pageCache.bytes = Math.max(0, bytes);
  }

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
    const sink = opts.sink;
    if (sink?.digest && sink.readBack && size !== undefined && size > 0) return this.#fetchTee(digest, size, open, opts, sink);
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

  /**
   * A download into a sink that verifies (BlobSink.digest) and reads back
   * (readBack): bytes go to the sink only; a CacheTrail copies them into the
   * .partial behind the download, and the .partial becomes the blob once the
   * sink's digest matches and every byte is copied. A .partial from an earlier
   * run goes to the sink first (no byte downloaded twice); a retry resumes at
   * what the sink holds.
   */
  async #fetchTee(digest: string, size: number, open: BlobOpener, opts: FetchOptions, sink: BlobSink): Promise<FetchResult> {
    const what = opts.what ?? `blob ${digest}`;
    const final = this.path(digest);
    const partial = `${final}.partial`;
    const attempts = opts.attempts ?? 5;
    let resumedFrom = await stat(partial).then((st) => st.size, () => 0);
    // A partial longer than the blob cannot be ours: start it over.
    if (resumedFrom > size) {
      await rm(partial, { force: true });
      resumedFrom = 0;
    }
    const { fh, direct } = await openPartial(partial, resumedFrom, true);
    const trail = new CacheTrail(fh, direct, resumedFrom, (buf, pos) => sink.readBack!(buf, pos), this.#pageCache);
    let transferred = 0;
    let ok = false;
    let refused = false;
    try {
      if (resumedFrom > sink.filled) await hashFile(partial, resumedFrom, undefined, sink);
      trail.advance(sink.filled);
      for (let attempt = 1; sink.filled < size; attempt++) {
        const offset = sink.filled;
        try {
          const src = await open(offset);
          // A server that ignored the range sends from byte 0: skip what we have.
          const skip = !src.partial && offset > 0 ? offset : 0;
          let got = offset;
          const writer = new BatchWriter(undefined, offset, sink);
          writer.onWritten = (end) => trail.advance(end);
          await streamThrough(
            src.body,
            writer,
            skip,
            (chunk, fresh) => {
              got += chunk.length;
              transferred += chunk.length;
              opts.onBytes?.(chunk.length, fresh);
              if (got > size) throw new OperationError(`${what}: more than the expected ${size} bytes`);
            },
            sink.turn,
            `${what} (its copy in the bundle)`,
          );
          if (got < size) {
            refused = true;
            throw new OperationError(`${what}: the server sent ${got} bytes, expected ${size}; refused`);
          }
        } catch (err) {
          if (refused || attempt >= attempts || !isTransientError(err)) {
            throw err instanceof OperationError ? err : new OperationError(`${what}: ${(err as Error).message}`, { cause: err });
          }
          // The sink keeps what arrived: the next try resumes after it, after a backoff with jitter.
          await sleep(retryDelay(attempt, undefined));
        }
      }
      // Every byte is in the sink: other downloads may read now, while the copy and the digest finish.
      sink.turn?.leave();
      const [hex] = await Promise.all([sink.digest!(), trail.finish()]);
      if (hex !== hexOf(digest)) {
        refused = true;
        throw new DigestMismatchError(what, digest, hex, size);
      }
      ok = true;
    } finally {
      // Whatever reached the sink reaches the partial too, so a failure loses no downloaded byte ...
      await trail.finish().catch(() => undefined);
      await Promise.all([direct?.close(), fh.close()]);
      // ... unless the content was refused: a bad partial must not poison the next run.
      if (refused) await rm(partial, { force: true });
    }
    if (ok) await rename(partial, final);
    return { how: 'fetched', size, transferred, resumedFrom, direct: trail.directBytes };
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
