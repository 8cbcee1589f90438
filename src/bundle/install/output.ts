// What bundle install writes on the local disk: the charts directory (chart
// .tgz files, index.yaml, registry-values.yaml, the runtime mirrors' text
// files) and the files directory (the
// bundle's files/: helm, kubectl binaries..., with their modes). Install
// writes them only after every push succeeded, and all or nothing: each file
// goes to a temp name beside its final one first, and only when all are
// complete are they renamed, so a failure (a full disk) leaves what was
// there before — a good registry-values.yaml stays good.
import { rmSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { onFatalExit } from '../../in-flight.ts';
import { dirname, join } from 'node:path';
import { OperationError } from '../../errors.ts';
import { safeDestination, stageEntry, type StagedEntry, type TarEntry, type TarInput } from '../../archive/tar-reader.ts';
import type { BundleSource } from '../../archive/source.ts';

export interface TextFile {
  /** path relative to the directory */
  path: string;
  content: string;
}

export interface InstallOutputs {
  chartsDir: string;
  /** chart .tgz entries (charts/NAME-VERSION.tgz); one with a source comes from there (a delta's base) */
  charts: Array<TarEntry | SourcedEntry>;
  index?: TarEntry;
  /** text files by path relative to the charts directory (registry-values.yaml, containerd/certs.d/…) */
  texts: TextFile[];
  filesDir?: string;
  /** the bundle's files/ entries, each written as its base name with the entry's mode */
  files?: Array<TarEntry | SourcedEntry>;
  /** sha256 per entry path from the verification, checked again on the way */
  sha256?: (path: string) => string | undefined;
}

/** A text file at a temp name beside `dest`, like stageEntry's. */
async function stageText(dir: string, name: string, text: string): Promise<StagedEntry> {
  // (safeDestination makes the parent directories and proves they stay below `dir`)
  const dest = await safeDestination(dir, name);
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, text, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { dest, tmp, commit: () => rename(tmp, dest), discard: () => rm(tmp, { force: true }) };
}

/** An entry of another tar than the bundle's (a delta's base). */
export interface SourcedEntry {
  source: BundleSource;
  entry: TarEntry;
}

export async function writeInstallOutputs(file: TarInput, out: InstallOutputs): Promise<void> {
  const at = (e: TarEntry | SourcedEntry): [TarInput, TarEntry] => ('source' in e ? [e.source, e.entry] : [file, e]);
  const staged: StagedEntry[] = [];
  const where = (dir: string) => (dir === out.chartsDir ? 'the charts directory' : 'the files directory');
  let current = out.chartsDir;
  // (stopped by a signal or a fatal error meanwhile: no temp file is left behind)
  const forget = onFatalExit(() => {
    for (const s of staged) rmSync(s.tmp, { force: true });
  });
  try {
    await mkdir(out.chartsDir, { recursive: true });
    for (const [src, c] of out.charts.map(at)) staged.push(await stageEntry(src, c, out.chartsDir, c.path.replace(/^charts\//, ''), out.sha256?.(c.path)));
    if (out.index) staged.push(await stageEntry(file, out.index, out.chartsDir, 'index.yaml', out.sha256?.(out.index.path)));
    for (const t of out.texts) staged.push(await stageText(out.chartsDir, t.path, t.content));
    if (out.filesDir && out.files?.length) {
      current = out.filesDir;
      await mkdir(out.filesDir, { recursive: true });
      for (const [src, f] of out.files.map(at)) staged.push(await stageEntry(src, f, out.filesDir, f.path.replace(/^files\//, ''), out.sha256?.(f.path), f.mode));
    }
  } catch (err) {
    await Promise.all(staged.map((s) => s.discard()));
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new OperationError(`disk full while writing ${where(current)} ${current}: no file there was changed, no partial file is left. Free some space or choose another ${current === out.chartsDir ? '--charts-dir' : '--files-dir'}.`);
    }
    throw err;
  } finally {
    forget();
  }
  // Renames only: they need no space and do not fail on a full disk.
  for (const s of staged) await s.commit();
}

/** Where the files go when --files-dir is not given: beside the charts directory. */
export function defaultFilesDir(chartsDir: string): string {
  return join(dirname(chartsDir), 'astrago-files');
}
