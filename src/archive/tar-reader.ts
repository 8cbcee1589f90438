// Reads a bundle tar without trusting it: what an entry may be (only regular
// files and directories with relative, `..`-free paths; links, devices and
// FIFOs are refused), and reading or extracting one entry the walk
// (tar-walk.ts) found. Extraction writes only below its directory.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { OperationError } from '../errors.ts';
import { fileSource, SourceReader, sourceStream, type BundleSource } from './source.ts';

/** Longest path accepted in an entry (after pax/GNU long names). */
export const MAX_PATH_BYTES = 4096;
/** Read size of an entry's stream. */
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
