// writev until every byte is on disk: a writev may write fewer bytes than asked.
import type { FileHandle } from 'node:fs/promises';

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

/** Writes the first `n` bytes of `bufs` at `position`. */
export async function writeAllv(fh: FileHandle, bufs: Buffer[], position: number, n: number): Promise<void> {
  let rest = bufs;
  for (let left = n, at = position; left > 0; ) {
    const { bytesWritten } = await fh.writev(rest, at);
    left -= bytesWritten;
    at += bytesWritten;
    if (left > 0) rest = dropFront(rest, bytesWritten);
  }
}
