// bundle create's tar, built from verified blobs: every entry's offset is
// known up front (TarLayout), so each blob is copied from the content store
// into its entry as soon as its download is verified, while the others still
// download; the small entries and the headers are written meanwhile. The
// spans a download has finished (its pieces) are copied in already while the
// rest of it downloads, and count once the blob is verified, so little is
// left to copy when the last layer is in. A worker (follow-hash.ts) hashes the
// tar's finished prefix for FILE.tar.sha256. The
// tar is written under a temp name beside the output and renamed at the end;
// a failure, a signal or a fatal error leaves nothing under the final name.
import { closeSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { signatureFileFor } from '../sign/signature-file.ts';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { onFatalExit } from '../../in-flight.ts';
import type { FollowHash } from '../store/follow-hash.ts';
import { DigestMismatchError, type ContentStore } from '../store/store.ts';
import { TarLayout } from '../../archive/tar-writer.ts';
import { addExtent, type Extent } from '../store/extents.ts';
import type { LayerDownloads } from './layers.ts';
import type { SpanFeed } from './span-feed.ts';

export interface TarEntry {
  path: string;
  size: number;
  sha256: string;
  mode?: number;
  /** in-memory content, or a store blob to copy */
  data?: Buffer;
  blob?: string;
}

/** The temp name the tar is written under (beside the final one, with our pid). */
export function tempTarName(out: string): string {
  return join(dirname(out), `.${basename(out)}.${process.pid}.partial`);
}

/** Removes temp tars that killed runs (kill -9, power loss) left beside `out`; live runs keep theirs. */
function removeStaleTemps(out: string): void {
  const re = new RegExp(`^\\.${basename(out).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.partial(\\.sha256)?$`);
  for (const name of readdirSync(dirname(out))) {
    const m = re.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(dirname(out), name), { force: true });
    }
  }
}

/**
 * Copies blob entry `i` from the store. A blob this run downloaded was verified
 * by the store a moment ago; one from an earlier run's cache is re-hashed on
 * the way, so a cache file changed on disk cannot slip into a bundle.
 */
async function copyBlob(tar: TarLayout, i: number, e: TarEntry, store: ContentStore, verifiedNow: boolean, written: readonly Extent[]): Promise<void> {
  const src = await open(store.path(e.blob!), 'r');
  try {
    if (verifiedNow) return await tar.copy(i, src, undefined, written);
    const h = createHash('sha256');
    await tar.copy(i, src, (c) => h.update(c));
    const got = h.digest('hex');
    if (got !== e.sha256) throw new DigestMismatchError(`cache file ${store.path(e.blob!)} (for ${e.path}); delete it and run again`, `sha256:${e.sha256}`, got, e.size);
  } finally {
    await src.close();
  }
}

/**
 * Copies each span of blob entry `i` into the tar as its download reports it (from the
 * .partial, or the blob once renamed); stop() returns the spans written, none when the
 * download started over meanwhile. A span that could not be copied is left to copyBlob.
 */
function followDownload(tar: TarLayout, i: number, blob: string, feed: SpanFeed, limit: ReturnType<typeof pLimit>): { stop(): Promise<readonly Extent[]> } {
  const generation = feed.generation;
  let written: Extent[] = [];
  let chain = Promise.resolve();
  let stopped = false;
  const prefill = async ([a, b]: Extent) => {
    const src = await open(`${blob}.partial`, 'r').catch(() => open(blob, 'r'));
    try {
      await tar.prefill(i, src, a, b);
    } finally {
      await src.close();
    }
    written = addExtent(written, a, b);
  };
  const unfollow = feed.follow((s) => {
    chain = chain.then(() => (stopped || feed.generation !== generation ? undefined : limit(() => prefill(s)).catch(() => undefined)));
  });
  return {
    async stop() {
      unfollow();
      stopped = true;
      await chain;
      return feed.generation === generation ? written : [];
    },
  };
}

/** Creates the temp tar beside `out`, open for writing; a fatal exit removes it (and its sidecar) until forget(). */
async function openTempTar(out: string): Promise<{ tmp: string; sidecarTmp: string; fh: FileHandle; forget: () => void }> {
  mkdirSync(dirname(out), { recursive: true });
  removeStaleTemps(out);
  const tmp = tempTarName(out);
  const sidecarTmp = `${tmp}.sha256`;
  // Created on this thread, then opened without O_CREAT: a fatal error's cleanup
  // (on this thread too) either removes the file or runs before it exists; an
  // open still under way elsewhere cannot bring the name back.
  closeSync(openSync(tmp, 'w'));
  const forget = onFatalExit(() => {
    rmSync(tmp, { force: true });
    rmSync(sidecarTmp, { force: true });
  });
  try {
    return { tmp, sidecarTmp, fh: await open(tmp, 'r+'), forget };
  } catch (err) {
    forget();
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Moves the finished tar and its sidecar (hash `hex`) to their final names; true when it removed a signature of the old tar. */
async function publishTar(out: string, tmp: string, sidecarTmp: string, hex: string): Promise<boolean> {
  await writeFile(sidecarTmp, `${hex}  ${basename(out)}\n`);
  const before = await readFile(`${out}.sha256`, 'utf8').then((t) => t.split(/\s/)[0], () => undefined);
  await rename(tmp, out);
  await rename(sidecarTmp, `${out}.sha256`);
  // A signature beside the old tar signs other bytes; a byte-identical rebuild keeps it valid.
  return before !== hex && (await rm(signatureFileFor(out)).then(() => true, () => false));
}

/**
 * Writes `entries` into `out` (temp name, then rename) and FILE.tar.sha256.
 * `layers.downloads` says, per blob digest, when it is in the store ('fetched'
 * now or 'cached' from before); a blob not listed is already there. The first
 * failure stops the rest.
 */
export async function writeTar(
  out: string,
  entries: TarEntry[],
  store: ContentStore,
  mtime: number,
  layers: Pick<LayerDownloads, 'downloads' | 'spans'>,
  copiers: number,
  hasher: FollowHash,
): Promise<{ sha256: string; size: number; staleSignature: boolean }> {
  const { tmp, sidecarTmp, fh, forget } = await openTempTar(out);
  const tar = new TarLayout(
    fh,
    entries.map((e) => ({ name: e.path, size: e.size, mode: e.mode })),
    { mtime, onProgress: (n) => hasher.progress(n) },
  );
  const limit = pLimit(copiers);
  let stopped = false;
  let firstError: unknown;
  const fill = async (i: number, e: TarEntry): Promise<void> => {
    if (e.data) return tar.fill(i, e.data);
    const feed = layers.spans.get(e.blob!);
    const early = feed ? followDownload(tar, i, store.path(e.blob!), feed, limit) : undefined;
    let how: 'fetched' | 'cached';
    let written: readonly Extent[];
    try {
      how = await (layers.downloads.get(e.blob!) ?? 'cached');
    } finally {
      written = (await early?.stop()) ?? [];
    }
    // (a queued copy gives up once another job failed; clearQueue would leave its promise unsettled)
    await limit(() => (stopped ? Promise.reject(new Error('stopped')) : copyBlob(tar, i, e, store, how === 'fetched', how === 'fetched' ? written : [])));
  };
  try {
    const stop = (err: unknown) => {
      if (!stopped) firstError = err;
      stopped = true;
      hasher.cancel();
      throw err;
    };
    // Every job is awaited together below; none may reject unobserved meanwhile.
    const jobs = [tar.writeFrame(), ...entries.map((e, i) => fill(i, e))].map((p) => p.catch(stop));
    const results = await Promise.allSettled(jobs);
    // (the first failure is the reason; the jobs it stopped are not)
    if (results.some((r) => r.status === 'rejected')) throw firstError;
    await fh.close();
    const hex = await hasher.finish();
    return { sha256: hex, size: tar.size, staleSignature: await publishTar(out, tmp, sidecarTmp, hex) };
  } catch (err) {
    stopped = true;
    hasher.cancel();
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    await rm(sidecarTmp, { force: true });
    throw err;
  } finally {
    forget();
  }
}
