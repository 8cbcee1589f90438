// Native fsync latency on this machine, the way etcd writes its WAL: small
// records (2300 bytes) into a preallocated file, each followed by fdatasync.
import { open, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const RECORD_BYTES = 2300;

export interface FsyncSamples {
  file: string;
  /** Milliseconds per write+fdatasync, in the order measured. */
  latenciesMs: number[];
  /** True when the time budget or the signal ended sampling early. */
  truncated: boolean;
}

export class NotWritableError extends Error {
  readonly code: string;
  constructor(dir: string, code: string) {
    super(`cannot create a file in ${dir} (${code})`);
    this.code = code;
  }
}

export async function measureFsyncLocal(dir: string, samples: number, budgetMs: number, signal?: AbortSignal): Promise<FsyncSamples> {
  const file = join(dir, `.astrago-check-fsync-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fh;
  try {
    fh = await open(file, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT') throw new NotWritableError(dir, code);
    throw err;
  }
  const latenciesMs: number[] = [];
  let truncated = false;
  try {
    // Preallocate like etcd's WAL segments, so each fdatasync flushes data, not a growing size.
    await fh.write(Buffer.alloc(RECORD_BYTES * samples));
    await fh.sync();
    const record = randomBytes(RECORD_BYTES);
    const deadline = performance.now() + budgetMs;
    for (let i = 0; i < samples; i++) {
      if (signal?.aborted || performance.now() > deadline) {
        truncated = true;
        break;
      }
      const t0 = performance.now();
      await fh.write(record, 0, RECORD_BYTES, i * RECORD_BYTES);
      await fh.datasync();
      latenciesMs.push(performance.now() - t0);
    }
  } finally {
    await fh.close().catch(() => {});
    await unlink(file).catch(() => {});
  }
  return { file, latenciesMs, truncated };
}
