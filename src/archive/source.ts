// A bundle as verify, inspect and install read it: one tar file, or the parts
// of a split one (NAME.tar.000, .001, ...) read as one run of bytes, never
// joined on disk. Given the tar, its first part (or any part), or its
// NAME.tar.parts.json, the parts are found beside it; a missing part, an extra
// one and a part of the wrong size are named before anything is read.
import { createReadStream } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { errorMessage, InputError, OperationError } from '../errors.ts';
import { PART_RE, partName, partsFileFor, PARTS_SUFFIX, readPartsFile } from './parts-file.ts';

export interface SourcePart {
  file: string;
  /** offset of the part's first byte in the whole tar */
  start: number;
  size: number;
  /** from NAME.tar.parts.json, when there is one */
  sha256?: string;
}

export interface BundleSource {
  /** the tar's path as the user knows it: FILE.tar, or NAME.tar for a split bundle (its .sha256 and .sig sit beside) */
  tarName: string;
  parts: SourcePart[];
  size: number;
  split: boolean;
  /** NAME.tar.parts.json when the split bundle has one */
  partsFile?: string;
  /** the whole tar's sha256 the parts file gives */
  sha256?: string;
}

/** A split bundle with parts missing, extra or of the wrong size: each one named. */
export class BundleSourceError extends OperationError {
  readonly problems: Array<{ path: string; message: string }>;
  constructor(tarName: string, problems: Array<{ path: string; message: string }>) {
    super(`${tarName}: the split bundle is incomplete:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'BundleSourceError';
    this.problems = problems;
  }
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const s = await stat(file);
    return s.isFile() ? s.size : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OperationError(`${file}: cannot read (${errorMessage(err)})`);
  }
}

/** Opens FILE.tar, NAME.tar.NNN or NAME.tar.parts.json as one bundle. */
export async function openBundleSource(given: string): Promise<BundleSource> {
  let tarName = given;
  if (given.endsWith(PARTS_SUFFIX)) tarName = given.slice(0, -PARTS_SUFFIX.length);
  else {
    const size = await sizeOf(given);
    const m = PART_RE.exec(given);
    if (m && size !== undefined && (await sizeOf(partName(m[1]!, 0))) !== undefined) tarName = m[1]!;
    else if (size !== undefined) return { tarName: given, parts: [{ file: given, start: 0, size }], size, split: false };
    else if ((await sizeOf(partsFileFor(given))) === undefined && (await sizeOf(partName(given, 0))) === undefined) {
      throw new InputError({ file: given, expected: 'file not found' });
    }
  }
  return await openParts(tarName);
}

async function openParts(tarName: string): Promise<BundleSource> {
  const dir = dirname(tarName);
  const stem = basename(tarName);
  const partsFile = partsFileFor(tarName);
  const listed = (await sizeOf(partsFile)) !== undefined ? await readPartsFile(partsFile) : undefined;
  // Parts on disk by number (NAME.tar.000 ... as partName writes them).
  const onDisk = new Map<number, string>();
  for (const name of await readdir(dir || '.')) {
    const m = PART_RE.exec(name);
    if (m && m[1] === stem && partName(stem, Number(m[2])) === name) onDisk.set(Number(m[2]), join(dir, name));
  }
  const problems: Array<{ path: string; message: string }> = [];
  const parts: SourcePart[] = [];
  let start = 0;
  const count = listed ? listed.parts.length : Math.max(-1, ...onDisk.keys()) + 1;
  for (let i = 0; i < count; i++) {
    const file = join(dir, partName(stem, i));
    const size = await sizeOf(file);
    const want = listed?.parts[i];
    if (size === undefined) problems.push({ path: file, message: `missing${listed ? ` (${basename(partsFile)} lists ${count} parts)` : ` (parts ${partName(stem, 0)} to ${partName(stem, count - 1)} are expected)`}` });
    else if (want && size !== want.size) problems.push({ path: file, message: `${size} bytes, ${basename(partsFile)} says ${want.size}: truncated, or a part of another bundle` });
    parts.push({ file, start, size: want?.size ?? size ?? 0, ...(want ? { sha256: want.sha256 } : {}) });
    start += want?.size ?? size ?? 0;
  }
  for (const [i, file] of onDisk) if (i >= count) problems.push({ path: file, message: `extra part: ${basename(partsFile)} lists ${count} parts` });
  if (count === 0) problems.push({ path: tarName, message: `no parts found (${partName(stem, 0)} ...)` });
  if (problems.length) throw new BundleSourceError(tarName, problems);
  return { tarName, parts, size: start, split: true, ...(listed ? { partsFile, sha256: listed.sha256 } : {}) };
}

/** A source of one file, already known to exist (tests, create). */
export function fileSource(file: string, size: number): BundleSource {
  return { tarName: file, parts: [{ file, start: 0, size }], size, split: false };
}

/** Where an offset of the whole tar lies, for messages: ' (part NAME.tar.001, offset N)' for a split bundle. */
export function whereInParts(src: BundleSource, offset: number): string {
  if (!src.split) return '';
  const p = src.parts.find((x) => offset >= x.start && offset < x.start + x.size) ?? src.parts.at(-1)!;
  return ` (part ${basename(p.file)}, offset ${offset - p.start})`;
}

/** The parts an entry's bytes lie in. */
export function partsOf(src: BundleSource, start: number, length: number): SourcePart[] {
  return src.parts.filter((p) => p.start < start + Math.max(1, length) && start < p.start + p.size);
}

/** For messages about an entry of a split bundle: ' (in part NAME.tar.002)', '' for one tar. */
export function inParts(src: BundleSource, start: number, length: number): string {
  if (!src.split) return '';
  const names = partsOf(src, start, length).map((p) => basename(p.file));
  return ` (in part${names.length === 1 ? '' : 's'} ${names.join(', ')})`;
}

/** Positional reads across the parts (each opened on first use). */
export class SourceReader {
  readonly source: BundleSource;
  #handles = new Map<number, Promise<FileHandle>>();
  constructor(source: BundleSource) {
    this.source = source;
  }

  #handle(i: number): Promise<FileHandle> {
    let h = this.#handles.get(i);
    if (!h) {
      const file = this.source.parts[i]!.file;
      h = open(file, 'r').catch((err: NodeJS.ErrnoException) => {
        throw new OperationError(`${file}: cannot open (${err.code ?? errorMessage(err)})`);
      });
      this.#handles.set(i, h);
    }
    return h;
  }

  /** Reads up to `length` bytes at `position` of the whole tar; 0 at its end. */
  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    const parts = this.source.parts;
    let got = 0;
    while (got < length) {
      const pos = position + got;
      const i = parts.findIndex((p) => pos >= p.start && pos < p.start + p.size);
      if (i === -1) break;
      const p = parts[i]!;
      const fh = await this.#handle(i);
      const { bytesRead } = await fh.read(buf, offset + got, Math.min(length - got, p.start + p.size - pos), pos - p.start);
      if (bytesRead === 0) break; // the part shrank since it was opened
      got += bytesRead;
    }
    return got;
  }

  async close(): Promise<void> {
    const all = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.allSettled(all.map(async (h) => (await h).close()));
  }
}

/** A stream of the whole tar's bytes start..end (inclusive), across parts. */
export function sourceStream(src: BundleSource, start: number, end: number, highWaterMark = 1 << 20): Readable {
  if (src.parts.length === 1) return createReadStream(src.parts[0]!.file, { start, end, highWaterMark });
  async function* bytes(): AsyncGenerator<Buffer> {
    for (const p of partsOf(src, start, end - start + 1)) {
      const from = Math.max(start, p.start) - p.start;
      const to = Math.min(end, p.start + p.size - 1) - p.start;
      if (to >= from) yield* createReadStream(p.file, { start: from, end: to, highWaterMark }) as AsyncIterable<Buffer>;
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}
