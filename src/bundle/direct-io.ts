// Direct I/O (O_DIRECT) for the cache copy of a downloaded blob.
//
// bundle create writes every blob twice: to the cache (so a later run resumes
// and downloads nothing twice) and to the tar. Buffered, both copies go
// through the page cache; on a fresh VM each newly touched page-cache page is
// a fault in the hypervisor too, and copying 1.1 GB instead of 550 MB into it
// cost about 1.5 s of CPU per 550 MB in the bench. The cache copy is written
// once and read rarely (a resumed or repeated run), so it goes straight to the
// disk from our reused batch buffers; the tar, which is hashed right after it
// is written, stays in the page cache. (bundle create copies the cache from
// the tar behind the download, and sends only part of it direct: store.ts,
// CacheTrail and DIRECT_WRITES.)
//
// O_DIRECT wants the buffer's address, the file offset and the length aligned
// to the device's block size. Node gives no aligned allocator, but V8 backs a
// WebAssembly.Memory with whole pages, so batch buffers are carved from one.
// Anything unaligned (a blob's tail, a resume from an odd offset) is written
// through the page cache, and a filesystem that refuses O_DIRECT (EINVAL)
// turns it off for the rest of the run.
import { constants, readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { open, type FileHandle } from 'node:fs/promises';

/** Offsets and lengths of direct writes are multiples of this (4 KiB covers 512- and 4096-byte devices). */
export const DIRECT_ALIGN = 4096;

const WASM_PAGE = 64 << 10;
/** Batches per WebAssembly.Memory: few memories, since V8 reserves address space (not memory) around each. */
const BATCHES_PER_SLAB = 8;

let disabled = !constants.O_DIRECT || process.env.ASTRAGO_DIRECT_IO === '0';

/** Direct I/O is (still) in use: false where the platform or the filesystem refused it. */
export function directIoEnabled(): boolean {
  return !disabled;
}

/** Turns direct I/O off for the rest of the process (a filesystem refused it). */
export function disableDirectIo(): void {
  disabled = true;
}

/** True for the error a filesystem or device gives for O_DIRECT it cannot do. */
export function isDirectRefusal(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'EINVAL';
}

/** Page-aligned memory of `bytes` (a multiple of 64 KiB). */
function wasmSlab(bytes: number): ArrayBuffer {
  const pages = bytes / WASM_PAGE;
  return new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer;
}

/**
 * Batch buffers of `size` bytes (a multiple of 64 KiB) at page-aligned addresses,
 * handed out and taken back; the memory is kept for reuse, so the peak
 * number of batches in use bounds it. Where V8 cannot reserve a
 * WebAssembly.Memory (a `ulimit -v` can forbid the address space it wants),
 * direct I/O is turned off; while it is off, plain buffers are handed out.
 */
export class AlignedBatchPool {
  readonly size: number;
  readonly #free: Buffer[] = [];
  readonly #slab: (bytes: number) => ArrayBuffer;

  /** `slab` is for tests: where the aligned memory comes from */
  constructor(size: number, slab: (bytes: number) => ArrayBuffer = wasmSlab) {
    if (size % WASM_PAGE !== 0) throw new Error(`batch size ${size} is not a multiple of ${WASM_PAGE}`);
    this.size = size;
    this.#slab = slab;
  }

  take(): Buffer {
    if (this.#free.length > 0) return this.#free.pop()!;
    // Direct I/O off (by hand, or after a refusal or a failed slab): no slab to reserve or retry.
    if (disabled) return Buffer.allocUnsafeSlow(this.size);
    let slab: ArrayBuffer;
    try {
      slab = this.#slab(this.size * BATCHES_PER_SLAB);
    } catch {
      disableDirectIo();
      return Buffer.allocUnsafeSlow(this.size);
    }
    for (let i = BATCHES_PER_SLAB - 1; i > 0; i--) this.#free.push(Buffer.from(slab, i * this.size, this.size));
    return Buffer.from(slab, 0, this.size);
  }

  give(b: Buffer): void {
    this.#free.push(b);
  }
}

/** Opens `file` (which exists) for direct writes, or undefined where direct I/O is off or refused. */
export async function openDirect(file: string): Promise<FileHandle | undefined> {
  if (disabled) return undefined;
  try {
    return await open(file, constants.O_WRONLY | constants.O_DIRECT);
  } catch (err) {
    if (!isDirectRefusal(err)) throw err;
    disableDirectIo();
    return undefined;
  }
}

/** A write of `n` bytes at `at` from an aligned batch can go direct. */
export function directWritable(at: number, n: number): boolean {
  return at % DIRECT_ALIGN === 0 && n % DIRECT_ALIGN === 0 && n > 0;
}

/**
 * About how many dirty page-cache bytes the kernel holds before its flusher
 * starts writing them to the disk (vm.dirty_background_bytes, else
 * vm.dirty_background_ratio of the available memory; 10 % where unreadable).
 */
export function writebackThreshold(): number {
  const read = (name: string) => {
    try {
      return Number(readFileSync(`/proc/sys/vm/${name}`, 'utf8').trim());
    } catch {
      return NaN;
    }
  };
  const bytes = read('dirty_background_bytes');
  if (bytes > 0) return bytes;
  const ratio = read('dirty_background_ratio');
  return (freemem() * (ratio >= 0 ? ratio : 10)) / 100;
}
