// A streaming, reproducible tar writer (POSIX ustar headers).
//
// Why not the `tar` package: node-tar's Pack takes entries from the file system
// (stat + read) or as ReadEntry objects and emits pax headers for long names and
// some metadata; getting byte-identical output needs portable mode, a fixed
// mtime and sorted input anyway, and its streaming of a blob we are hashing at
// the same time is awkward. The ustar header is 512 bytes of fixed fields, so
// writing it here keeps the output fully under our control: fixed mtime,
// uid/gid 0, empty user/group names, fixed modes, no pax headers, ever.
// Sizes beyond the 8 GiB octal limit use the GNU base-256 size field, which GNU
// tar, bsdtar and node-tar all read.
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';

export const BLOCK = 512;

export interface TarHeader {
  name: string;
  size: number;
  /** 'file' (default) or 'dir' */
  type?: 'file' | 'dir';
  /** default 0o644 for files, 0o755 for directories */
  mode?: number;
  /** seconds since the epoch; default 0 */
  mtime?: number;
}

function writeString(buf: Buffer, off: number, len: number, s: string): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > len) throw new Error(`tar: field too long: ${s}`);
  b.copy(buf, off);
}

function writeOctal(buf: Buffer, off: number, len: number, n: number): void {
  // len-1 octal digits, NUL terminated.
  const s = n.toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) throw new Error(`tar: number ${n} does not fit`);
  writeString(buf, off, len, s);
  buf[off + len - 1] = 0;
}

function writeSize(buf: Buffer, off: number, n: number): void {
  if (n < 0o77777777777) return writeOctal(buf, off, 12, n);
  // GNU base-256: high bit of the first byte set, big-endian value in the rest.
  buf[off] = 0x80;
  let v = BigInt(n);
  for (let i = 11; i >= 1; i--) {
    buf[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Splits a path into ustar prefix (<=155) and name (<=100) at a slash. */
function splitName(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { prefix, name };
  }
  throw new Error(`tar: path too long for a ustar header: ${path}`);
}

/** One 512-byte ustar header; deterministic for the same input. */
export function tarHeader(h: TarHeader): Buffer {
  const type = h.type ?? 'file';
  const buf = Buffer.alloc(BLOCK, 0);
  let path = h.name;
  if (type === 'dir' && !path.endsWith('/')) path += '/';
  const { prefix, name } = splitName(path);
  writeString(buf, 0, 100, name);
  writeOctal(buf, 100, 8, h.mode ?? (type === 'dir' ? 0o755 : 0o644));
  writeOctal(buf, 108, 8, 0); // uid
  writeOctal(buf, 116, 8, 0); // gid
  writeSize(buf, 124, type === 'dir' ? 0 : h.size);
  writeOctal(buf, 136, 12, h.mtime ?? 0);
  buf.fill(0x20, 148, 156); // checksum counted as spaces
  buf[156] = type === 'dir' ? 0x35 /* '5' */ : 0x30; /* '0' */
  writeString(buf, 257, 6, 'ustar');
  buf[262] = 0;
  writeString(buf, 263, 2, '00');
  // uname/gname stay empty; devmajor/devminor zero.
  writeOctal(buf, 329, 8, 0);
  writeOctal(buf, 337, 8, 0);
  writeString(buf, 345, 155, prefix);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += buf[i]!;
  writeString(buf, 148, 8, sum.toString(8).padStart(6, '0'));
  buf[154] = 0;
  buf[155] = 0x20;
  return buf;
}

export function paddingFor(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** Copy buffer size for TarLayout.copy (two are used, alternately). */
const COPY_CHUNK = 1 << 20;

/**
 * Writes entries to a stream in the order given (the caller sorts), honouring
 * back-pressure, and hashes every byte it writes (sha256 of the whole tar).
 * For large archives filled in parallel, see TarLayout below.
 */
export class TarWriter {
  readonly #out: Writable;
  readonly #hash: Hash = createHash('sha256');
  readonly #mtime: number;
  #bytes = 0;

  constructor(out: Writable, opts: { mtime?: number } = {}) {
    this.#out = out;
    this.#mtime = opts.mtime ?? 0;
  }

  get bytesWritten(): number {
    return this.#bytes;
  }

  async #write(chunk: Buffer): Promise<void> {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    if (!this.#out.write(chunk)) await once(this.#out, 'drain');
  }

  async addDirectory(name: string): Promise<void> {
    await this.#write(tarHeader({ name, size: 0, type: 'dir', mtime: this.#mtime }));
  }

  /** Adds a file whose content is `source` (a buffer or a byte stream of exactly `size` bytes). */
  async addFile(name: string, size: number, source: Buffer | AsyncIterable<Buffer>, mode?: number): Promise<void> {
    await this.#write(tarHeader({ name, size, mode, mtime: this.#mtime }));
    let n = 0;
    if (Buffer.isBuffer(source)) {
      n = source.length;
      if (n > 0) await this.#write(source);
    } else {
      for await (const chunk of source) {
        n += chunk.length;
        if (n > size) throw new Error(`tar: ${name} is larger than its declared ${size} bytes`);
        await this.#write(chunk);
      }
    }
    if (n !== size) throw new Error(`tar: ${name} has ${n} bytes, expected ${size}`);
    const pad = paddingFor(size);
    if (pad) await this.#write(Buffer.alloc(pad));
  }

  /** Two zero blocks end the archive; returns the tar's sha256 (hex). */
  async finish(): Promise<string> {
    await this.#write(Buffer.alloc(BLOCK * 2));
    return this.#hash.digest('hex');
  }
}

export interface LayoutEntry {
  name: string;
  size: number;
  mode?: number;
}

/**
 * The same archive TarWriter would write, with every entry's offset known up
 * front (all sizes are), so entries can be filled in any order and in
 * parallel with positional writes — bundle create copies several blobs at
 * once as they download. `contiguous()` is how far from byte 0 the file is
 * complete, for a hasher that follows it.
 */
export class TarLayout {
  readonly #fh: FileHandle;
  readonly #entries: LayoutEntry[];
  readonly #mtime: number;
  readonly #dataAt: number[] = [];
  readonly #done: boolean[];
  /** bytes of each entry's content written so far, from its start (copies are sequential) */
  readonly #filled: number[];
  readonly size: number;
  #prefixEntry = 0;
  readonly #onProgress: ((bytes: number) => void) | undefined;

  constructor(fh: FileHandle, entries: LayoutEntry[], opts: { mtime?: number; onProgress?: (contiguousBytes: number) => void } = {}) {
    this.#fh = fh;
    this.#entries = entries;
    this.#mtime = opts.mtime ?? 0;
    this.#onProgress = opts.onProgress;
    let pos = 0;
    for (const e of entries) {
      this.#dataAt.push(pos + BLOCK);
      pos += BLOCK + e.size + paddingFor(e.size);
    }
    this.size = pos + 2 * BLOCK;
    this.#done = entries.map((e) => e.size === 0);
    this.#filled = entries.map(() => 0);
    this.#framed = false;
  }

  #framed: boolean;

  async #writeAt(buf: Buffer, position: number): Promise<void> {
    for (let off = 0; off < buf.length; ) off += (await this.#fh.write(buf, off, buf.length - off, position + off)).bytesWritten;
  }

  /** Headers, padding and the end blocks: everything but the entries' content. */
  async writeFrame(): Promise<void> {
    // All at once (they never overlap each other or any content): one thread-pool round trip, not one per header.
    const writes: Promise<void>[] = [];
    for (let i = 0; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      writes.push(this.#writeAt(tarHeader({ name: e.name, size: e.size, mode: e.mode, mtime: this.#mtime }), this.#dataAt[i]! - BLOCK));
      const pad = paddingFor(e.size);
      if (pad) writes.push(this.#writeAt(Buffer.alloc(pad), this.#dataAt[i]! + e.size));
    }
    writes.push(this.#writeAt(Buffer.alloc(2 * BLOCK), this.size - 2 * BLOCK));
    await Promise.all(writes);
    this.#framed = true;
    this.#advance();
  }

  /** Completes entry `i` from memory. */
  async fill(i: number, data: Buffer): Promise<void> {
    if (data.length !== this.#entries[i]!.size) throw new Error(`tar: ${this.#entries[i]!.name} has ${data.length} bytes, expected ${this.#entries[i]!.size}`);
    await this.#writeAt(data, this.#dataAt[i]!);
    this.#complete(i);
  }

  /**
   * Completes entry `i` from an open file, reusing two buffers (the next read
   * overlaps the last write), so copying gigabytes allocates nothing and memory
   * stays flat. `onChunk` sees every content chunk (e.g. to re-hash). `written`:
   * sorted, disjoint spans [start, end) of the content that prefill() wrote
   * from this same content; they are not copied again.
   */
  async copy(i: number, src: FileHandle, onChunk?: (chunk: Buffer) => void, written: readonly (readonly [number, number])[] = []): Promise<void> {
    const { size } = this.#entries[i]!;
    let pos = 0;
    for (const [a, b] of [...written, [size, size] as [number, number]]) {
      if (a > pos) await this.#copySpan(i, src, pos, a, true, onChunk);
      pos = Math.max(pos, b);
      this.#progressIn(i, Math.min(pos, size));
    }
    this.#complete(i);
  }

  /**
   * Writes bytes [from, to) of entry `i`'s content from `src` (at the same offsets) ahead of
   * its copy(): they count towards the finished prefix only once copy() completes the entry.
   */
  async prefill(i: number, src: FileHandle, from: number, to: number): Promise<void> {
    if (to > this.#entries[i]!.size) throw new Error(`tar: ${this.#entries[i]!.name}: bytes to ${to}, more than its ${this.#entries[i]!.size}`);
    await this.#copySpan(i, src, from, to, false);
  }

  /** Buffer pairs of finished copies, reused: a download's spans come every piece, and fresh buffers each time stay allocated until a GC finds them. */
  readonly #buffers: Buffer[][] = [];

  async #copySpan(i: number, src: FileHandle, from: number, to: number, progress: boolean, onChunk?: (chunk: Buffer) => void): Promise<void> {
    const bufs = this.#buffers.pop() ?? [Buffer.allocUnsafe(COPY_CHUNK), Buffer.allocUnsafe(COPY_CHUNK)];
    await this.#copyWith(bufs, i, src, from, to, progress, onChunk);
    // Only after success: a failed copy may still have a write in flight from one of them.
    this.#buffers.push(bufs);
  }

  async #copyWith(bufs: Buffer[], i: number, src: FileHandle, from: number, to: number, progress: boolean, onChunk?: (chunk: Buffer) => void): Promise<void> {
    const { name } = this.#entries[i]!;
    const base = this.#dataAt[i]!;
    let pos = from;
    let k = 0;
    const readInto = async (b: Buffer) => {
      if (pos >= to) return 0;
      return (await src.read(b, 0, Math.min(b.length, to - pos), pos)).bytesRead;
    };
    let n = await readInto(bufs[0]!);
    while (n > 0) {
      const cur = bufs[k]!.subarray(0, n);
      const at = base + pos;
      pos += n;
      onChunk?.(cur);
      const [, next] = await Promise.all([this.#writeAt(cur, at), readInto(bufs[1 - k]!)]);
      k = 1 - k;
      n = next;
      if (progress) this.#progressIn(i, pos);
    }
    if (pos !== to) throw new Error(`tar: ${name} has ${pos} bytes, expected ${to}`);
  }

  /** Entry `i` is final up to `pos`: the entry at the head of the unfinished ones moves the hashable prefix. */
  #progressIn(i: number, pos: number): void {
    this.#filled[i] = pos;
    if (i === this.#prefixEntry && this.#framed) this.#onProgress?.(this.contiguous());
  }

  #complete(i: number): void {
    this.#done[i] = true;
    this.#advance();
  }

  #advance(): void {
    while (this.#prefixEntry < this.#entries.length && this.#done[this.#prefixEntry]) this.#prefixEntry++;
    if (this.#framed) this.#onProgress?.(this.contiguous());
  }

  /** Where entry `i`'s content starts in the file. */
  dataOffset(i: number): number {
    return this.#dataAt[i]!;
  }

  /** Bytes from the start of the file that are final (headers are, once writeFrame is done). */
  contiguous(): number {
    if (!this.#framed) return 0;
    return this.#prefixEntry >= this.#entries.length ? this.size : this.#dataAt[this.#prefixEntry]! + this.#filled[this.#prefixEntry]!;
  }
}
