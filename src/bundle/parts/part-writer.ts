// A writable that rolls the tar's bytes over into parts of a fixed size
// (NAME.tar.000, .001, ...), each under a temp name until commit(), hashing
// each part and the whole as the bytes pass. Concatenated, the parts are the
// bytes written, byte for byte.
import { createHash, type Hash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { BundleParts } from '../../schema/bundle-parts.ts';
import { partName } from '../../archive/parts-file.ts';

export function tempPartName(tarName: string, index: number): string {
  return `${partName(tarName, index)}.tmp-${process.pid}`;
}

export class PartWriter extends Writable {
  readonly tarName: string;
  readonly partSize: number;
  readonly whole: Hash = createHash('sha256');
  readonly parts: BundleParts['parts'] = [];
  #fh: FileHandle | undefined;
  #hash: Hash | undefined;
  #filled = 0;
  #size = 0;

  constructor(tarName: string, partSize: number) {
    super({ highWaterMark: 1 << 20 });
    this.tarName = tarName;
    this.partSize = partSize;
  }

  get size(): number {
    return this.#size;
  }

  async #closePart(): Promise<void> {
    if (!this.#fh) return;
    await this.#fh.close();
    this.#fh = undefined;
    const i = this.parts.length;
    this.parts.push({ file: partName(this.tarName, i).replace(/^.*\//, ''), size: this.#filled, sha256: this.#hash!.digest('hex') });
  }

  async #put(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      if (!this.#fh) {
        this.#fh = await open(tempPartName(this.tarName, this.parts.length), 'wx', 0o644);
        this.#hash = createHash('sha256');
        this.#filled = 0;
      }
      const n = Math.min(chunk.length - off, this.partSize - this.#filled);
      const piece = chunk.subarray(off, off + n);
      for (let w = 0; w < n; ) w += (await this.#fh.write(piece, w, n - w)).bytesWritten;
      this.#hash!.update(piece);
      this.whole.update(piece);
      this.#filled += n;
      this.#size += n;
      off += n;
      if (this.#filled === this.partSize) await this.#closePart();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#put(chunk).then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.#closePart().then(() => done(), done);
  }

  /** Gives the parts their final names (after the stream finished). */
  async commit(): Promise<void> {
    for (let i = 0; i < this.parts.length; i++) await rename(tempPartName(this.tarName, i), partName(this.tarName, i));
  }

  /** Removes every temp part (after a failure). */
  async discard(): Promise<void> {
    await this.#fh?.close().catch(() => undefined);
    for (let i = 0; i <= this.parts.length; i++) await rm(tempPartName(this.tarName, i), { force: true });
  }
}
