// Walks a bundle tar without trusting it.
//
// The walker reads the file sequentially with positional reads; node-tar's
// Header and Pax decode the 512-byte headers (checksum, octal and base-256
// numbers, ustar prefix, pax records). Walking ourselves rather than through
// node-tar's Parser lets a caller skip an entry's data without reading it
// (inspect and install only need the headers' offsets, and then read the few
// entries they want), and lets verify hash every byte of the file in the same
// pass. Every entry is checked (tar-reader.ts) before anything sees it;
// garbled headers and truncated data are refused too, with an error naming
// the entry and its offset.
import { Header, Pax, type HeaderData } from 'tar';
import { SourceReader, whereInParts, type BundleSource } from './source.ts';
import { checkEntryPath, entryTypeProblem, sourceOf, TarFormatError, type TarEntry, type TarInput } from './tar-reader.ts';

const BLOCK = 512;
/** Largest pax or GNU long-name record accepted. */
const MAX_META_BYTES = 1 << 20;
/** Read size: one buffer of it serves the whole walk. */
const CHUNK = 1 << 20;

export interface EntrySink {
  /** `chunk` is only valid during the call (the walker reuses its buffer): copy what you keep. */
  write(chunk: Buffer): void;
  end?(): void | Promise<void>;
}

export interface WalkOptions {
  /** Called for each file or directory entry; return a sink to receive its data, or nothing to skip it. */
  onEntry?(entry: TarEntry): EntrySink | undefined | void;
  /** Every byte of the file in order (for a whole-file hash); makes the walk read everything. Valid during the call only. */
  onBytes?(chunk: Buffer): void;
  /** Bytes consumed so far (progress). */
  onProgress?(offset: number, total: number): void;
}

export interface WalkResult {
  entries: TarEntry[];
  /** Size of the tar file in bytes. */
  tarSize: number;
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/**
 * Walks every entry of `input` once, in order. Entries are safety-checked
 * before onEntry sees them; the first unsafe, garbled or truncated entry
 * throws a TarFormatError.
 */
export async function walkTar(input: TarInput, opts: WalkOptions = {}): Promise<WalkResult> {
  const src = await sourceOf(input);
  const walker = new TarWalker(src, opts);
  try {
    return await walker.walk();
  } finally {
    await walker.close();
  }
}

/** A decoded header block: what the entry checks need of it. */
interface DecodedHeader {
  header: Header;
  rawName: string;
  /** the name as shown in errors (at most 200 characters) */
  shown: string;
  typeCode: string;
  size: number;
}

/** One walk's position in the tar, and the extended headers waiting for their entry. */
class TarWalker {
  readonly #src: BundleSource;
  readonly #opts: WalkOptions;
  readonly #fh: SourceReader;
  readonly #total: number;
  readonly #scratch = Buffer.allocUnsafe(CHUNK);
  readonly #readAll: boolean;
  readonly #entries: TarEntry[] = [];
  #pos = 0;
  #ex: HeaderData | undefined;
  #gex: HeaderData | undefined;
  #longPath: string | undefined;
  #entryStart = 0;
  #previous: string | undefined;

  constructor(src: BundleSource, opts: WalkOptions) {
    this.#src = src;
    this.#opts = opts;
    this.#fh = new SourceReader(src);
    this.#total = src.size;
    this.#readAll = opts.onBytes !== undefined;
  }

  async walk(): Promise<WalkResult> {
    for (;;) {
      if (this.#pos >= this.#total) {
        this.#fail(this.#pos, undefined, `truncated archive: no end-of-archive marker${this.#previous ? ` after '${this.#previous}'` : ''}`);
      }
      const headerOffset = this.#pos;
      if (this.#ex === undefined && this.#longPath === undefined) this.#entryStart = this.#pos;
      const block = await this.#readBytes(BLOCK, undefined, 'a header');
      if (isZeroBlock(block)) {
        await this.#endOfArchive(headerOffset);
        break;
      }
      const decoded = this.#decodeHeader(block, headerOffset);
      if (decoded.typeCode === 'x' || decoded.typeCode === 'g' || decoded.typeCode === 'L') {
        await this.#readExtendedHeader(decoded, headerOffset);
        continue;
      }
      this.#ex = undefined;
      this.#longPath = undefined;
      await this.#passEntry(this.#checkedEntry(decoded, headerOffset));
    }
    return { entries: this.#entries, tarSize: this.#total };
  }

  close(): Promise<void> {
    return this.#fh.close();
  }

  #fail(offset: number, entry: string | undefined, reason: string): never {
    throw new TarFormatError(this.#src.tarName, offset, entry, reason + whereInParts(this.#src, offset));
  }

  /** Fills `buf` from the file at pos (pos itself does not move). */
  async #fill(buf: Buffer, entry: string | undefined): Promise<void> {
    for (let got = 0; got < buf.length; ) {
      const bytesRead = await this.#fh.read(buf, got, buf.length - got, this.#pos + got);
      if (bytesRead === 0) this.#fail(this.#pos, entry, 'truncated archive: file shrank while reading');
      got += bytesRead;
    }
  }

  /** Reads exactly n bytes at pos (n small: headers, pax records). */
  async #readBytes(n: number, entry: string | undefined, what: string): Promise<Buffer> {
    if (this.#pos + n > this.#total) this.#fail(this.#pos, entry, `truncated archive: ${what} needs ${n} bytes, only ${this.#total - this.#pos} remain`);
    const buf = Buffer.alloc(n);
    await this.#fill(buf, entry);
    this.#opts.onBytes?.(buf);
    this.#pos += n;
    this.#opts.onProgress?.(this.#pos, this.#total);
    return buf;
  }

  /** Passes n data bytes (plus padding) to sink, or skips them. */
  async #pump(n: number, entryPath: string, sink: EntrySink | undefined): Promise<void> {
    const total = this.#total;
    const full = padded(n);
    if (this.#pos + n > total) this.#fail(this.#pos, entryPath, `truncated archive: data needs ${n} bytes, only ${total - this.#pos} remain`);
    if (!sink && !this.#readAll) {
      this.#pos = Math.min(this.#pos + full, total);
      this.#opts.onProgress?.(this.#pos, total);
      return;
    }
    let left = full;
    let dataLeft = n;
    while (left > 0 && this.#pos < total) {
      const want = Math.min(CHUNK, left, total - this.#pos);
      // One buffer reused for every chunk keeps memory flat: sinks copy what they keep.
      const buf = this.#scratch.subarray(0, want);
      await this.#fill(buf, entryPath);
      this.#opts.onBytes?.(buf);
      if (sink && dataLeft > 0) {
        const data = dataLeft >= want ? buf : buf.subarray(0, dataLeft);
        sink.write(data);
        dataLeft -= data.length;
      }
      this.#pos += want;
      left -= want;
      this.#opts.onProgress?.(this.#pos, total);
    }
    // The padding of the last entry may be cut short only when nothing follows:
    // the missing end-of-archive blocks are reported by the caller's loop.
  }

  /** A zero block: the end of the archive, unless an extended header still waits for its entry. */
  async #endOfArchive(headerOffset: number): Promise<void> {
    // One zero block is enough to stop; the rest is padding.
    if (this.#ex !== undefined || this.#longPath !== undefined) this.#fail(headerOffset, undefined, 'extended header not followed by an entry');
    if (this.#readAll) {
      while (this.#pos < this.#total) await this.#pump(Math.min(CHUNK, this.#total - this.#pos), '(end of archive)', undefined);
    }
  }

  /** Decodes a header block, refusing a garbled one (bad number fields, checksum, size). */
  #decodeHeader(block: Buffer, headerOffset: number): DecodedHeader {
    const after = this.#previous ? ` after entry '${this.#previous}'` : '';
    let header: Header;
    try {
      header = new Header(block, 0, this.#longPath !== undefined ? { ...this.#ex, path: this.#longPath } : this.#ex, this.#gex);
    } catch (err) {
      // node-tar throws plain Errors for some garbage (e.g. a bad base-256 number field).
      return this.#fail(headerOffset, undefined, `garbled header (${(err as Error).message})${after}`);
    }
    const rawName = header.path ?? '';
    const shown = rawName.slice(0, 200);
    if (!header.cksumValid) this.#fail(headerOffset, shown || undefined, `garbled header (checksum mismatch)${after}`);
    const typeCode = block.toString('latin1', 156, 157).replace('\0', '');
    const size = header.size;
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) this.#fail(headerOffset, shown, 'garbled header (bad size field)');
    return { header, rawName, shown, typeCode, size: size as number };
  }

  /** A pax ('x', 'g') or GNU long-name ('L') header: kept for the entry (or entries) that follow. */
  async #readExtendedHeader(d: DecodedHeader, headerOffset: number): Promise<void> {
    if (d.size > MAX_META_BYTES) this.#fail(headerOffset, d.shown, `oversized extended header (${d.size} bytes)`);
    const data = await this.#readBytes(padded(d.size), d.shown, 'an extended header');
    const text = data.toString('utf8', 0, d.size);
    if (d.typeCode === 'x') this.#ex = Pax.parse(text, this.#ex, false);
    else if (d.typeCode === 'g') this.#gex = Pax.parse(text, this.#gex, true);
    else this.#longPath = text.replace(/\0.*$/s, '');
  }

  /** The entry a header describes, refused unless it is a regular file or directory with a safe path. */
  #checkedEntry(d: DecodedHeader, headerOffset: number): TarEntry {
    const kind = entryTypeProblem(d.typeCode === '' ? '0' : d.typeCode, d.header.linkpath);
    if (kind) this.#fail(headerOffset, d.shown, kind);
    const checked = checkEntryPath(d.rawName);
    if ('problem' in checked) this.#fail(headerOffset, d.shown, checked.problem);
    const path = (checked as { path: string }).path;
    const type = d.typeCode === '5' ? 'directory' : 'file';
    if (type === 'file' && path === '') this.#fail(headerOffset, d.shown, 'file entry without a name');
    return { path, type, size: type === 'file' ? d.size : 0, headerOffset: this.#entryStart, dataOffset: this.#pos, mode: (d.header.mode ?? 0o644) & 0o777 };
  }

  /** Shows the entry to onEntry and passes its data to the sink it returns (or skips it). */
  async #passEntry(entry: TarEntry): Promise<void> {
    this.#entries.push(entry);
    this.#previous = entry.path;
    const sink = this.#opts.onEntry?.(entry) ?? undefined;
    // A directory's size field is ignored (node-tar does the same), so its data is nothing.
    await this.#pump(entry.size, entry.path, sink);
    await sink?.end?.();
  }
}

/** Scans headers only (no data read): the entry list with offsets. */
export async function listTar(input: TarInput): Promise<WalkResult> {
  return await walkTar(input);
}
