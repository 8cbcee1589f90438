// The content-addressed store behind `bundle create --cache-dir`: an OCI image
// layout on disk (oci-layout + blobs/sha256/<hex>). A blob streams into
// <hex>.partial while its sha256 is computed and is renamed to <hex> only when
// the digest (and size, when known) match, so a file under its final name is
// always verified and is never downloaded again. An interrupted download keeps
// its .partial; the next try (or run) re-hashes what is there and asks for the
// rest with HTTP Range (when the server ignores the range, the bytes it resends
// are skipped). Each chunk is written before the next is read, so whatever
// arrived before a dropped connection is kept, and memory stays flat. A
// download holds <hex>.partial.lock (blob-lock.ts), so runs sharing the
// cache never write one partial at once.
import { createHash, type Hash } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { open as openFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { OperationError } from '../../errors.ts';
import { hexOf, sha256Digest } from '../../oci/digest.ts';
import { withRetries, type RetryPolicy } from '../../oci/registry/retry.ts';
import { lockBlob, type LockHolder } from './blob-lock.ts';
import { removeExtents } from './extents.ts';
import { hashRange, partialSize, writeFully } from './file-io.ts';
import { fetchRanged, heldBytes, keepPrefix, RangeIgnoredError, type RangeSource } from './ranged-fetch.ts';

/** Opens the source at byte `offset`; `partial` false means the stream starts at 0 regardless. */
/** `length`: the bytes this response carries (Content-Length), when it says. */
export type BlobOpener = (offset: number) => Promise<{ body: Readable; partial: boolean; length?: number }>;

export interface FetchResult {
  /** 'cached': already verified in the store; 'fetched': downloaded now (maybe resumed) */
  how: 'cached' | 'fetched';
  size: number;
  /** bytes that came over the wire in this call */
  transferred: number;
  /** bytes reused from a .partial left by an earlier run */
  resumedFrom: number;
}

export interface FetchOptions {
  what?: string;
  /** bytes as they arrive */
  onBytes?: (n: number) => void;
  /** a blob of unknown size: the bytes its first response says it carries, once */
  onLength?: (n: number) => void;
  /** the tries (default: the one policy of registry/retry.ts) */
  retry?: RetryPolicy;
  /** stops the retries (bundle create interrupted) */
  signal?: AbortSignal;
  /** byte ranges of the blob, when its server honours them: it downloads in pieces of at most ranges.pieceBytes */
  ranges?: RangeSource;
  /** the request slots a single-stream download takes one of, for all its bytes */
  limit?: <T>(fn: () => Promise<T>) => Promise<T>;
  /**
   * bytes [start, end) are in the partial, final unless onRestart comes: each piece of a ranged
   * download, a single stream every SPAN_STEP bytes (bundle create copies them into the tar early)
   */
  onSpan?: (start: number, end: number) => void;
  /** the download starts the blob over as one stream: spans reported so far may be rewritten */
  onRestart?: () => void;
}

/** How often a single-stream download reports a span (FetchOptions.onSpan). */
const SPAN_STEP = 16 << 20;

export class DigestMismatchError extends OperationError {
  constructor(what: string, expected: string, got: string, size: number) {
    super(`${what}: content has sha256:${got} (${size} bytes), expected ${expected}; refused`);
    this.name = 'DigestMismatchError';
  }
}

/** Hashes the first `size` bytes of `path` into `hash`. */
async function hashFile(path: string, size: number, hash: Hash): Promise<void> {
  const fh = await openFile(path, 'r');
  try {
    await hashRange(fh, path, 0, size, hash);
  } finally {
    await fh.close();
  }
}

/**
 * Streams `body` into `file` from byte `start` on: the first `skip` bytes are
 * dropped (a server that ignored our Range resends what we already have), each
 * further chunk is seen by `onChunk` (hash, count; it may throw to stop), then
 * written (`onWritten`: where the file now ends), before the next one is read.
 */
async function streamToFile(body: Readable, file: string, start: number, skip: number, onChunk: (chunk: Buffer) => void, onWritten?: (end: number) => void): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await openFile(file, start > 0 ? 'r+' : 'w');
  } catch (err) {
    body.destroy(); // nobody will read it: free the connection
    throw err;
  }
  let pos = start;
  let toSkip = skip;
  try {
    for await (const raw of body as AsyncIterable<Buffer>) {
      let chunk = raw;
      if (toSkip > 0) {
        const drop = Math.min(toSkip, chunk.length);
        toSkip -= drop;
        chunk = chunk.subarray(drop);
        if (chunk.length === 0) continue;
      }
      onChunk(chunk);
      try {
        await writeFully(fh, chunk, pos);
      } catch (err) {
        // A failed write (a full disk) is final, not a network error to retry.
        throw new OperationError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
      }
      pos += chunk.length;
      onWritten?.(pos);
    }
    if (toSkip > 0) throw new OperationError(`the server sent fewer bytes than the ${skip} already downloaded`);
  } catch (err) {
    body.destroy();
    throw err;
  } finally {
    await fh.close();
  }
}

export interface StoreOptions {
  /** another run holds a blob's lock: this one waits for it (blob-lock.ts) */
  onWait?: (what: string, holder: LockHolder) => void;
}

export class ContentStore {
  readonly root: string;
  readonly #blobs: string;
  readonly #inflight = new Map<string, Promise<FetchResult>>();
  readonly #onWait: StoreOptions['onWait'];

  constructor(root: string, opts: StoreOptions = {}) {
    this.root = root;
    this.#onWait = opts.onWait;
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

  /** Bytes of blob `digest` (`size` bytes) that an interrupted run left in the store, so this one will not download them. */
  async resumableBytes(digest: string, size: number): Promise<number> {
    const partial = `${this.path(digest)}.partial`;
    // (a partial longer than the blob is started over: see #fetch)
    return (await partialSize(partial)) > size ? 0 : await heldBytes(partial, size);
  }

  /** Stores small content we already hold (manifests, generated files); returns its digest. */
  async putBuffer(data: Buffer, expected?: string, what = 'blob'): Promise<string> {
    const digest = sha256Digest(data);
    if (expected && digest !== expected) throw new DigestMismatchError(what, expected, hexOf(digest), data.length);
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

  /** The blob when the store has it (verified), else undefined. */
  #cached(digest: string, size: number | undefined): FetchResult | undefined {
    const have = this.sizeOf(digest);
    return have !== undefined && (size === undefined || have === size) ? { how: 'cached', size: have, transferred: 0, resumedFrom: 0 } : undefined;
  }

  async #fetch(digest: string, size: number | undefined, open: BlobOpener, opts: FetchOptions): Promise<FetchResult> {
    const what = opts.what ?? `blob ${digest}`;
    const cached = this.#cached(digest, size);
    if (cached) return cached;
    // One writer per partial across runs sharing this cache; a run that waited finds the blob stored.
    const partial = `${this.path(digest)}.partial`;
    const release = await lockBlob(partial, { ...(opts.signal ? { signal: opts.signal } : {}), onWait: (holder) => this.#onWait?.(what, holder) });
    try {
      return this.#cached(digest, size) ?? (await this.#download(digest, size, open, opts, what));
    } finally {
      await release();
    }
  }

  async #download(digest: string, size: number | undefined, open: BlobOpener, opts: FetchOptions, what: string): Promise<FetchResult> {
    const final = this.path(digest);
    const partial = `${final}.partial`;
    // A partial longer than the blob cannot be ours: start it over.
    if (size !== undefined && (await partialSize(partial)) > size) await rm(partial, { force: true });
    if (size !== undefined && size > 0 && opts.ranges) {
      try {
        const r = await fetchRanged(partial, size, opts.ranges, { ...opts, what });
        return await this.#seal(digest, size, partial, final, r.hash, size, what, r.transferred, r.resumedFrom);
      } catch (err) {
        if (!(err instanceof RangeIgnoredError)) throw err instanceof OperationError ? err : new OperationError(`${what}: ${(err as Error).message}`, { cause: err });
        opts.onRestart?.();
      }
    }
    // One stream from where the partial ends (a ranged download's partial is cut at its first hole).
    if (size !== undefined) await keepPrefix(partial, size);
    const resumedFrom = await partialSize(partial);
    let transferred = 0;
    let announced = false;
    try {
      const slot = opts.limit ?? opts.ranges?.limit ?? (<T>(fn: () => Promise<T>) => fn());
      return await withRetries(
        async () => slot(async () => {
          // Re-hash what an earlier try (or run) left, then ask for the rest.
          const hash = createHash('sha256');
          const offset = await partialSize(partial);
          if (offset > 0) await hashFile(partial, offset, hash);
          const src = await open(offset);
          // A server that ignored the range sends from byte 0: skip what we have.
          const skip = !src.partial && offset > 0 ? offset : 0;
          if (size === undefined && !announced && src.length !== undefined && Number.isSafeInteger(src.length)) {
            announced = true;
            opts.onLength?.(src.length - skip);
          }
          let got = offset;
          let spanFrom = offset;
          const onWritten = (end: number) => {
            if (end - spanFrom < SPAN_STEP) return;
            opts.onSpan?.(spanFrom, end);
            spanFrom = end;
          };
          await streamToFile(src.body, partial, offset, skip, (chunk) => {
            hash.update(chunk);
            got += chunk.length;
            transferred += chunk.length;
            opts.onBytes?.(chunk.length);
            if (size !== undefined && got > size) throw new OperationError(`${what}: more than the expected ${size} bytes`);
          }, opts.onSpan ? onWritten : undefined);
          return await this.#seal(digest, size, partial, final, hash, got, what, transferred, resumedFrom);
        }),
        { ...(opts.retry ? { policy: opts.retry } : {}), ...(opts.signal ? { signal: opts.signal } : {}) },
      );
    } catch (err) {
      throw err instanceof OperationError ? err : new OperationError(`${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  async #seal(digest: string, size: number | undefined, partial: string, final: string, hash: Hash, got: number, what: string, transferred: number, resumedFrom: number): Promise<FetchResult> {
    const hex = hash.digest('hex');
    if (hex !== hexOf(digest) || (size !== undefined && got !== size)) {
      // A bad partial must not poison the next run.
      await rm(partial, { force: true });
      await removeExtents(partial);
      if (size !== undefined && got !== size && hex !== hexOf(digest)) {
        throw new DigestMismatchError(`${what} (${got} bytes, expected ${size})`, digest, hex, got);
      }
      throw new DigestMismatchError(what, digest, hex, got);
    }
    await rename(partial, final);
    await removeExtents(partial);
    return { how: 'fetched', size: got, transferred, resumedFrom };
  }
}
