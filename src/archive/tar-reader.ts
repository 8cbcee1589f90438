// Reads a bundle tar without trusting it.
//
// The walker reads the file sequentially with positional reads; node-tar's
// Header and Pax decode the 512-byte headers (checksum, octal and base-256
// numbers, ustar prefix, pax records). Walking ourselves rather than through
// node-tar's Parser lets a caller skip an entry's data without reading it
// (inspect and install only need the headers' offsets, and then read the few
// entries they want), and lets verify hash every byte of the file in the same
// pass. Every entry is checked before anything sees it: only regular files and
// directories with relative, `..`-free paths are accepted; links, devices,
// FIFOs, garbled headers and truncated data are refused with an error naming
// the entry and its offset. Extraction writes only below its directory.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { Header, Pax, type HeaderData } from 'tar';
import { OperationError } from '../errors.ts';
import { fileSource, SourceReader, sourceStream, whereInParts, type BundleSource } from './source.ts';

export const BLOCK = 512;
/** Longest path accepted in an entry (after pax/GNU long names). */
export const MAX_PATH_BYTES = 4096;
/** Largest pax or GNU long-name record accepted. */
export const MAX_META_BYTES = 1 << 20;
const CHUNK = 1 << 20;

/** A tar that is unsafe, garbled or truncated: exit 1, the entry named. */
export class TarFormatError extends OperationError {
  readonly entry: string | undefined;
  readonly offset: number;
  readonly reason: string;
  constructor(tarFile: string, offset: number, entry: string | undefined, reason: string) {
    super(`${tarFile}: ${entry !== undefined ? `entry '${entry}'` : 'entry'} at offset ${offset}: ${reason}`);
    this.name = 'TarFormatError';
    this.entry = entry;
    this.offset = offset;
    this.reason = reason;
  }
}

export interface TarEntry {
  /** Normalized relative path ('images/blobs/sha256/…', no leading './', no trailing '/'). */
  path: string;
  type: 'file' | 'directory';
  size: number;
  /** Offset of the entry's first header block (pax/long-name headers included). */
  headerOffset: number;
  /** Offset of the entry's first data byte. */
  dataOffset: number;
  /** Permission bits from the header (0o644 when it has none). */
  mode: number;
}

/**
 * Normalizes an entry path or says why it is refused (pure). Refused: empty,
 * NUL, absolute, backslashes, `..` components, over-long paths.
 */
export function checkEntryPath(raw: string): { path: string } | { problem: string } {
  if (raw.includes('\0')) return { problem: 'path contains a NUL byte' };
  if (Buffer.byteLength(raw) > MAX_PATH_BYTES) return { problem: `path longer than ${MAX_PATH_BYTES} bytes` };
  if (raw.startsWith('/')) return { problem: 'absolute path refused' };
  if (/^[A-Za-z]:/.test(raw)) return { problem: 'drive-letter path refused' };
  if (raw.includes('\\')) return { problem: 'path contains a backslash' };
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { problem: "path with a '..' component refused" };
  return { path: parts.join('/') };
}

/** Entry type codes accepted: regular files and directories only. */
const FILE_TYPES = new Set(['0', '', '7']);
const KIND_NAMES: Record<string, string> = {
  '1': 'hard link',
  '2': 'symbolic link',
  '3': 'character device',
  '4': 'block device',
  '6': 'FIFO',
  K: 'GNU long link name (links are not allowed)',
};

/** Why an entry type is refused, or undefined when it is a file or a directory (pure). */
export function entryTypeProblem(typeCode: string, linkpath?: string): string | undefined {
  if (FILE_TYPES.has(typeCode) || typeCode === '5') return undefined;
  const kind = KIND_NAMES[typeCode];
  if (kind) return `${kind}${linkpath ? ` to '${linkpath}'` : ''} refused (only regular files and directories are allowed)`;
  return `unsupported entry type '${typeCode}' refused`;
}

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

/** A tar file's path, or a bundle source (a tar, or the parts of a split one). */
export type TarInput = string | BundleSource;

export async function sourceOf(input: TarInput): Promise<BundleSource> {
  if (typeof input !== 'string') return input;
  try {
    return fileSource(input, (await stat(input)).size);
  } catch (err) {
    throw new OperationError(`${input}: cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * Walks every entry of `input` once, in order. Entries are safety-checked
 * before onEntry sees them; the first unsafe, garbled or truncated entry
 * throws a TarFormatError.
 */
export async function walkTar(input: TarInput, opts: WalkOptions = {}): Promise<WalkResult> {
  const src = await sourceOf(input);
  const file = src.tarName;
  const fh = new SourceReader(src);
  try {
    const total = src.size;
    const scratch = Buffer.allocUnsafe(CHUNK);
    const readAll = opts.onBytes !== undefined;
    let pos = 0;
    const entries: TarEntry[] = [];
    const fail = (offset: number, entry: string | undefined, reason: string): never => {
      throw new TarFormatError(file, offset, entry, reason + whereInParts(src, offset));
    };

    /** Fills `buf` from the file at pos (pos itself does not move). */
    const fill = async (buf: Buffer, entry: string | undefined): Promise<void> => {
      for (let got = 0; got < buf.length; ) {
        const bytesRead = await fh.read(buf, got, buf.length - got, pos + got);
        if (bytesRead === 0) fail(pos, entry, 'truncated archive: file shrank while reading');
        got += bytesRead;
      }
    };

    /** Reads exactly n bytes at pos (n small: headers, pax records). */
    const readBytes = async (n: number, entry: string | undefined, what: string): Promise<Buffer> => {
      if (pos + n > total) fail(pos, entry, `truncated archive: ${what} needs ${n} bytes, only ${total - pos} remain`);
      const buf = Buffer.alloc(n);
      await fill(buf, entry);
      opts.onBytes?.(buf);
      pos += n;
      opts.onProgress?.(pos, total);
      return buf;
    };

    /** Passes n data bytes (plus padding) to sink, or skips them. */
    const pump = async (n: number, entryPath: string, sink: EntrySink | undefined): Promise<void> => {
      const full = padded(n);
      if (pos + n > total) fail(pos, entryPath, `truncated archive: data needs ${n} bytes, only ${total - pos} remain`);
      if (!sink && !readAll) {
        pos = Math.min(pos + full, total);
        opts.onProgress?.(pos, total);
        return;
      }
      let left = full;
      let dataLeft = n;
      while (left > 0 && pos < total) {
        const want = Math.min(CHUNK, left, total - pos);
        // One buffer reused for every chunk keeps memory flat: sinks copy what they keep.
        const buf = scratch.subarray(0, want);
        await fill(buf, entryPath);
        opts.onBytes?.(buf);
        if (sink && dataLeft > 0) {
          const data = dataLeft >= want ? buf : buf.subarray(0, dataLeft);
          sink.write(data);
          dataLeft -= data.length;
        }
        pos += want;
        left -= want;
        opts.onProgress?.(pos, total);
      }
      // The padding of the last entry may be cut short only when nothing follows:
      // the missing end-of-archive blocks are reported by the caller's loop.
    };

    let ex: HeaderData | undefined;
    let gex: HeaderData | undefined;
    let longPath: string | undefined;
    let entryStart = 0;
    let previous: string | undefined;
    for (;;) {
      if (pos >= total) {
        fail(pos, undefined, `truncated archive: no end-of-archive marker${previous ? ` after '${previous}'` : ''}`);
      }
      const headerOffset = pos;
      if (ex === undefined && longPath === undefined) entryStart = pos;
      const block = await readBytes(BLOCK, undefined, 'a header');
      if (isZeroBlock(block)) {
        // End of archive: one zero block is enough to stop; the rest is padding.
        if (ex !== undefined || longPath !== undefined) fail(headerOffset, undefined, 'extended header not followed by an entry');
        if (readAll) {
          while (pos < total) await pump(Math.min(CHUNK, total - pos), '(end of archive)', undefined);
        }
        break;
      }
      let h: Header;
      try {
        h = new Header(block, 0, longPath !== undefined ? { ...ex, path: longPath } : ex, gex);
      } catch (err) {
        // node-tar throws plain Errors for some garbage (e.g. a bad base-256 number field).
        return fail(headerOffset, undefined, `garbled header (${(err as Error).message})${previous ? ` after entry '${previous}'` : ''}`);
      }
      const rawName = h.path ?? '';
      const shown = rawName.slice(0, 200);
      if (!h.cksumValid) fail(headerOffset, shown || undefined, `garbled header (checksum mismatch)${previous ? ` after entry '${previous}'` : ''}`);
      const typeCode = block.toString('latin1', 156, 157).replace('\0', '');
      const size = h.size;
      if (size === undefined || !Number.isSafeInteger(size) || size < 0) fail(headerOffset, shown, 'garbled header (bad size field)');
      const sz = size as number;

      if (typeCode === 'x' || typeCode === 'g' || typeCode === 'L') {
        if (sz > MAX_META_BYTES) fail(headerOffset, shown, `oversized extended header (${sz} bytes)`);
        const data = await readBytes(padded(sz), shown, 'an extended header');
        const text = data.toString('utf8', 0, sz);
        if (typeCode === 'x') ex = Pax.parse(text, ex, false);
        else if (typeCode === 'g') gex = Pax.parse(text, gex, true);
        else longPath = text.replace(/\0.*$/s, '');
        continue;
      }
      ex = undefined;
      longPath = undefined;

      const kind = entryTypeProblem(typeCode === '' ? '0' : typeCode, h.linkpath);
      if (kind) fail(headerOffset, shown, kind);
      const checked = checkEntryPath(rawName);
      if ('problem' in checked) fail(headerOffset, shown, checked.problem);
      const path = (checked as { path: string }).path;
      const type = typeCode === '5' ? 'directory' : 'file';
      if (type === 'file' && path === '') fail(headerOffset, shown, 'file entry without a name');
      const entry: TarEntry = { path, type, size: type === 'file' ? sz : 0, headerOffset: entryStart, dataOffset: pos , mode: (h.mode ?? 0o644) & 0o777 };
      entries.push(entry);
      previous = path;
      const sink = opts.onEntry?.(entry) ?? undefined;
      // A directory's size field is ignored (node-tar does the same), so its data is nothing.
      await pump(entry.size, path, sink);
      await sink?.end?.();
    }
    return { entries, tarSize: total };
  } finally {
    await fh.close();
  }
}

/** Scans headers only (no data read): the entry list with offsets. */
export async function listTar(input: TarInput): Promise<WalkResult> {
  return await walkTar(input);
}

/** A stream of one entry's data (across parts for a split bundle). */
export function entryStream(src: BundleSource, entry: TarEntry, opts: { highWaterMark?: number } = {}): Readable {
  if (entry.size === 0) return Readable.from([], { objectMode: false });
  return sourceStream(src, entry.dataOffset, entry.dataOffset + entry.size - 1, opts.highWaterMark ?? CHUNK);
}

/** Reads one (small) entry into memory; refuses entries above maxBytes. */
export async function readEntry(input: TarInput, entry: TarEntry, maxBytes = 16 << 20): Promise<Buffer> {
  const src = await sourceOf(input);
  const file = src.tarName;
  if (entry.size > maxBytes) throw new OperationError(`${file}: entry '${entry.path}' is ${entry.size} bytes, more than the ${maxBytes} expected`);
  const fh = new SourceReader(src);
  try {
    const buf = Buffer.alloc(entry.size);
    let got = 0;
    while (got < entry.size) {
      const bytesRead = await fh.read(buf, got, entry.size - got, entry.dataOffset + got);
      if (bytesRead === 0) throw new TarFormatError(file, entry.dataOffset, entry.path, 'truncated archive');
      got += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/**
 * Resolves `entryPath` below `destDir` and proves it stays there, even
 * through symlinks already present in destDir (realpath of the parent).
 */
export async function safeDestination(destDir: string, entryPath: string): Promise<string> {
  const checked = checkEntryPath(entryPath);
  if ('problem' in checked || checked.path === '') {
    throw new OperationError(`refusing to extract '${entryPath}': ${'problem' in checked ? checked.problem : 'empty path'}`);
  }
  const root = await realpath(destDir);
  const target = resolve(root, checked.path);
  await mkdir(dirname(target), { recursive: true });
  const parent = await realpath(dirname(target));
  const rel = relative(root, join(parent, 'x'));
  if (rel.startsWith('..') || rel.startsWith(sep)) {
    throw new OperationError(`refusing to extract '${entryPath}': it would land outside ${destDir}`);
  }
  return join(parent, basename(target));
}

/** An entry copied to a temp name beside its destination: `commit()` renames it there, `discard()` removes it. */
export interface StagedEntry {
  dest: string;
  tmp: string;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * Copies one entry to a temp name beside destDir/asPath (default: its own
 * path), checking its sha256 on the way when `expectSha256` is given; the
 * final name is untouched until commit(). `mode`: the file's permission bits.
 */
export async function stageEntry(input: TarInput, entry: TarEntry, destDir: string, asPath = entry.path, expectSha256?: string, mode = 0o644): Promise<StagedEntry> {
  const src = await sourceOf(input);
  const file = src.tarName;
  if (entry.type !== 'file') throw new OperationError(`refusing to extract '${entry.path}': not a regular file`);
  const dest = await safeDestination(destDir, asPath);
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    // 'wx': never follows or reuses whatever already sits at the temp name.
    const hash = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(entryStream(src, entry), hashing, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
    // The tar may have changed since it was verified: check again before the final name.
    const got = hash.digest('hex');
    if (expectSha256 && got !== expectSha256) throw new OperationError(`${file}: entry '${entry.path}' changed since it was verified (sha256 ${got}, expected ${expectSha256})`);
    // (explicitly: the umask does not apply to chmod, so an executable stays executable)
    await chmod(tmp, mode);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { dest, tmp, commit: () => rename(tmp, dest), discard: () => rm(tmp, { force: true }) };
}

/**
 * Copies one entry to destDir/asPath (default: its own path) through a temp
 * name, renamed only when complete: a failure (ENOSPC…) leaves nothing under
 * the final name.
 */
export async function extractEntry(input: TarInput, entry: TarEntry, destDir: string, asPath = entry.path, expectSha256?: string): Promise<string> {
  const staged = await stageEntry(input, entry, destDir, asPath, expectSha256);
  try {
    await staged.commit();
  } catch (err) {
    await staged.discard();
    throw err;
  }
  return staged.dest;
}
