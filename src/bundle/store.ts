// The content-addressed store behind `bundle create --cache-dir`: an OCI image
// layout on disk (oci-layout + blobs/sha256/<hex>). A blob streams into
// <hex>.partial while its sha256 is computed and is renamed to <hex> only when
// the digest (and size, when known) match, so a file under its final name is
// always verified and is never downloaded again. An interrupted download keeps
// its .partial; the next run re-hashes what is there and asks for the rest
// with HTTP Range (when the server ignores the range, the bytes it resends
// are skipped). While a blob downloads, a reader may follow its .partial
// (live()): bundle create copies it into the tar as it arrives.
// Streams only: memory stays flat whatever the blob size.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { open as openFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { OperationError } from '../errors.ts';
import { isTransientError, retryDelay } from './registry/retry.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Opens the source at byte `offset`; `partial` false means the stream starts at 0 regardless. */
export type BlobOpener = (offset: number) => Promise<{ body: Readable; partial: boolean }>;

export interface FetchResult {
  /** 'cached': already verified in the store; 'fetched': downloaded now (maybe resumed) */
  how: 'cached' | 'fetched';
  size: number;
  /** bytes that came over the wire in this call */
  transferred: number;
  /** bytes reused from a .partial left by an earlier run */
  resumedFrom: number;
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
 * Streams `body` into `file`: the first `skip` bytes are dropped (a server
 * that ignored our Range resends what we already have), each further chunk is
 * seen by `onChunk` (hash, count; it may throw to stop), chunks are gathered
 * up to WRITE_BATCH bytes and written with one writev, then reported to
 * `onWritten` before more is read, so back-pressure reaches the socket and at
 * most one batch per blob sits in memory. (One write per network chunk cost
 * about a quarter of a second of main-thread time per 150 MB in dispatch alone.)
 */
const WRITE_BATCH = 256 << 10;

async function streamToFile(body: Readable, file: string, flags: 'w' | 'a', skip: number, onChunk: (chunk: Buffer) => void, onWritten?: (n: number) => void): Promise<void> {
  const fh = await openFile(file, flags);
  let toSkip = skip;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async () => {
    const n = batched;
    if (n === 0) return;
    let rest = batch;
    batch = [];
    batched = 0;
    for (let left = n; left > 0; ) {
      const { bytesWritten } = await fh.writev(rest);
      left -= bytesWritten;
      if (left > 0) rest = dropFront(rest, bytesWritten);
    }
    onWritten?.(n);
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
      onChunk(chunk);
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
  } finally {
    await fh.close();
  }
}

/** The buffers left after the first `n` bytes were written (a short writev). */
function dropFront(bufs: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of bufs) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return out;
}

/**
 * A blob being downloaded right now, which a reader may follow: bytes below
 * written() are in the file; the file is renamed (same inode, an open handle
 * stays valid) when verified. finished() with the fetch promise rejected
 * means the content must not be used.
 */
export interface LiveBlob {
  path: string;
  written(): number;
  finished(): boolean;
  /** resolves on the next write or at the end */
  next(): Promise<void>;
}

interface LiveRecord {
  path: string;
  written: number;
  done: boolean;
  waiters: Array<() => void>;
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

export class ContentStore {
  readonly root: string;
  readonly #blobs: string;
  readonly #inflight = new Map<string, Promise<FetchResult>>();
  readonly #live = new Map<string, LiveRecord>();

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

  /** The download of `digest` in progress, if any (see LiveBlob). */
  live(digest: string): LiveBlob | undefined {
    const r = this.#live.get(digest);
    if (!r) return undefined;
    return {
      path: r.path,
      written: () => r.written,
      finished: () => r.done,
      next: () => (r.done ? Promise.resolve() : new Promise<void>((res) => r.waiters.push(res))),
    };
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
      await streamToFile(body, tmp, 'w', 0, (chunk) => {
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
  fetch(digest: string, size: number | undefined, open: BlobOpener, opts: { what?: string; onBytes?: (n: number) => void; attempts?: number } = {}): Promise<FetchResult> {
    let p = this.#inflight.get(digest);
    if (!p) {
      p = this.#fetch(digest, size, open, opts).finally(() => this.#inflight.delete(digest));
      this.#inflight.set(digest, p);
    }
    return p;
  }

  async #fetch(digest: string, size: number | undefined, open: BlobOpener, opts: { what?: string; onBytes?: (n: number) => void; attempts?: number }): Promise<FetchResult> {
    const what = opts.what ?? `blob ${digest}`;
    const final = this.path(digest);
    const have = this.sizeOf(digest);
    if (have !== undefined && (size === undefined || have === size)) return { how: 'cached', size: have, transferred: 0, resumedFrom: 0 };
    const partial = `${final}.partial`;
    const attempts = opts.attempts ?? 5;
    let transferred = 0;
    let resumedFrom = 0;
    // A partial longer than the blob cannot be ours: start it over.
    if (size !== undefined && (await stat(partial).then((st) => st.size, () => 0)) > size) await rm(partial, { force: true });
    const live: LiveRecord = { path: partial, written: 0, done: false, waiters: [] };
    const wake = () => live.waiters.splice(0).forEach((w) => w());
    this.#live.set(digest, live);
    try {
      for (let attempt = 1; ; attempt++) {
        // Re-hash what an earlier try (or run) left, then ask for the rest.
        // Partials only ever grow during a run, so a reader following one never sees bytes change.
        const hash = createHash('sha256');
        const offset = await stat(partial).then((st) => st.size, () => 0);
        if (offset > 0) await hashFile(partial, hash);
        live.written = offset;
        if (attempt === 1) resumedFrom = offset;
        try {
          const src = await open(offset);
          // A server that ignored the range sends from byte 0: skip what we have.
          const skip = !src.partial && offset > 0 ? offset : 0;
          let got = offset;
          await streamToFile(
            src.body,
            partial,
            offset > 0 ? 'a' : 'w',
            skip,
            (chunk) => {
              hash.update(chunk);
              got += chunk.length;
              transferred += chunk.length;
              opts.onBytes?.(chunk.length);
              if (size !== undefined && got > size) throw new OperationError(`${what}: more than the expected ${size} bytes`);
            },
            (n) => {
              live.written += n;
              wake();
            },
          );
          return await this.#seal(digest, size, partial, final, hash, got, what, transferred, resumedFrom);
        } catch (err) {
          if (err instanceof DigestMismatchError) throw err;
          if (attempt >= attempts || !isTransientError(err)) {
            throw err instanceof OperationError ? err : new OperationError(`${what}: ${(err as Error).message}`, { cause: err });
          }
          // Keep the partial: the next try resumes from its end, after a backoff with jitter.
          await sleep(retryDelay(attempt, undefined));
        }
      }
    } finally {
      live.done = true;
      this.#live.delete(digest);
      wake();
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
