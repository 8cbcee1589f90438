// bundle verify's one streaming pass over the tar: every file entry is hashed
// as it goes by, and what the checks after the walk read is kept: the entries
// named to keep whole (bundle.yaml, SHA256SUMS, …) and the small JSON blobs
// (manifests, indexes, configs) to walk the image trees. Memory stays
// bounded: layers are hashed, never held.
import { createHash } from 'node:crypto';
import type { BundleSource } from '../../archive/source.ts';
import type { TarEntry } from '../../archive/tar-reader.ts';
import { walkTar, type EntrySink, type WalkResult } from '../../archive/tar-walk.ts';
import type { EntryRecord, KeptEntries, Problem } from './result.ts';

/** JSON blobs up to this size are kept in memory for the tree walk (manifests are far smaller). */
const KEEP_JSON_BYTES = 4 << 20;
/** ... and no more than this in all, whatever the tar holds (memory stays bounded). */
const KEEP_TOTAL_BYTES = 256 << 20;
/** The entries kept whole: up to this size. */
const KEEP_META_BYTES = 64 << 20;

export interface HashEntriesOptions {
  /** filled with each file entry's sha256 and size */
  records: Map<string, EntryRecord>;
  /** filled with the bytes of the entries kept */
  kept: KeptEntries;
  /** entries kept whole, by path */
  keepWhole: Set<string>;
  onProgress?(bytes: number, total: number): void;
}

/** The JSON blob bytes kept so far, and whether the limit was reached (said once). */
interface KeepBudget {
  bytes: number;
  overflow: boolean;
}

/** Walks the tar once, recording and keeping as it goes; a tar that cannot be walked throws. */
export async function hashEntries(src: BundleSource, opts: HashEntriesOptions, problem: Problem): Promise<WalkResult> {
  const { records, kept } = opts;
  const budget: KeepBudget = { bytes: 0, overflow: false };
  return await walkTar(src, {
    onProgress: opts.onProgress,
    onEntry(entry) {
      if (entry.type !== 'file') return undefined;
      const isBlob = entry.path.startsWith('images/blobs/');
      const keep = keepPlan(entry, isBlob, opts.keepWhole, budget, problem);
      return hashingSink(entry, isBlob, keep, (record, data) => {
        if (records.has(entry.path)) problem(entry.path, 'appears twice in the tar');
        records.set(entry.path, record);
        if (data) {
          kept.set(entry.path, data);
          if (isBlob) budget.bytes += data.length;
        }
      });
    },
  });
}

/** An empty list to keep the entry's bytes in, or undefined when they are not kept (saying so when they should have been). */
function keepPlan(entry: TarEntry, isBlob: boolean, keepWhole: Set<string>, budget: KeepBudget, problem: Problem): Buffer[] | undefined {
  const whole = keepWhole.has(entry.path);
  if (whole && entry.size > KEEP_META_BYTES) problem(entry.path, `${entry.size} bytes: far larger than it can be (limit ${KEEP_META_BYTES >> 20} MiB)`);
  if (!((whole && entry.size <= KEEP_META_BYTES) || (isBlob && entry.size <= KEEP_JSON_BYTES))) return undefined;
  if (isBlob && budget.bytes + entry.size > KEEP_TOTAL_BYTES) {
    // Real manifests and configs are kilobytes; a tar full of large JSON blobs is not ours.
    if (!budget.overflow) problem(entry.path, `more than ${KEEP_TOTAL_BYTES >> 20} MiB of JSON documents in images/blobs: not a bundle this tool made`);
    budget.overflow = true;
    return undefined;
  }
  return [];
}

/** Hashes an entry's data, and keeps it in `keep` (a blob's only when it is JSON); `done` gets both at the end. */
function hashingSink(entry: TarEntry, isBlob: boolean, keep: Buffer[] | undefined, done: (record: EntryRecord, data: Buffer | undefined) => void): EntrySink {
  const hash = createHash('sha256');
  let size = 0;
  let first = true;
  return {
    write(chunk) {
      hash.update(chunk);
      size += chunk.length;
      if (keep && first && isBlob) {
        // Only JSON documents are worth keeping; layers start with gzip/zstd magic.
        const c = chunk.toString('latin1', 0, Math.min(16, chunk.length)).trimStart();
        if (!c.startsWith('{')) keep = undefined;
      }
      first = false;
      keep?.push(Buffer.from(chunk)); // the walker reuses its buffer
    },
    end() {
      done({ entry, sha256: hash.digest('hex'), size }, keep && Buffer.concat(keep));
    },
  };
}
