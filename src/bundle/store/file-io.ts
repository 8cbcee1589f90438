// Positional file reads and writes the content store builds on.
import type { Hash } from 'node:crypto';
import { stat, type FileHandle } from 'node:fs/promises';
import { OperationError } from '../../errors.ts';

/** Writes all of `chunk` at `position`. */
export async function writeFully(fh: FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let off = 0; off < chunk.length; ) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position + off);
    off += bytesWritten;
  }
}

/** Hashes bytes [from, to) of the open file `fh` (named `path` in errors) into `hash`. */
export async function hashRange(fh: FileHandle, path: string, from: number, to: number, hash: Hash): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(256 << 10, Math.max(to - from, 1)));
  for (let pos = from; pos < to; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, to - pos), pos);
    if (bytesRead === 0) throw new OperationError(`${path}: shorter than ${to} bytes`);
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/** The length of `file`, 0 when there is none (a partial not started yet). */
export const partialSize = (file: string): Promise<number> => stat(file).then((st) => st.size, () => 0);
