// bundle split, bundle join, and create --split: a tar into parts of a fixed
// size and back. Every output goes under a temp name first; the parts file
// (NAME.tar.parts.json) is written last, so a half-made split is never taken
// for a whole one. `inPlace` (create --split) peels the parts off the end of
// the tar instead of copying it whole: the disk holds the tar plus one part,
// not two tars, and the first part is the truncated tar itself.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { errorMessage, OperationError } from '../../errors.ts';
import type { BundleParts } from '../../schema/bundle-parts.ts';
import { openBundleSource, type BundleSource } from '../../archive/source.ts';
import { parseSidecar } from '../verify/sums.ts';
import { PART_RE, partName, partsDocument, partsFileFor, writePartsFile } from '../../archive/parts-file.ts';
import { PartWriter, tempPartName } from './part-writer.ts';

export interface SplitResult {
  partsFile: string;
  parts: BundleParts['parts'];
  sha256: string;
  size: number;
}

/** Removes parts numbered `from` and up that an earlier split with more parts left (they would read as extra parts). */
async function removeStaleParts(tarName: string, from: number): Promise<void> {
  const stem = basename(tarName);
  for (const name of await readdir(dirname(tarName))) {
    const m = PART_RE.exec(name);
    if (m && m[1] === stem && Number(m[2]) >= from) await rm(join(dirname(tarName), name), { force: true });
  }
}

async function finishSplit(tarName: string, partSize: number, size: number, sha256: string, parts: BundleParts['parts']): Promise<SplitResult> {
  await removeStaleParts(tarName, parts.length);
  const partsFile = partsFileFor(tarName);
  await writePartsFile(partsFile, partsDocument(tarName, size, sha256, partSize, parts));
  // NAME.tar.sha256 is the whole tar's, as for an unsplit bundle (`cat NAME.tar.* | sha256sum`).
  const sidecar = `${tarName}.sha256`;
  const tmp = `${sidecar}.tmp-${process.pid}`;
  await writeFile(tmp, `${sha256}  ${basename(tarName)}\n`);
  await rename(tmp, sidecar);
  return { partsFile, parts, sha256, size };
}

/** Copies FILE.tar into FILE.tar.000, .001, ... (the tar is kept). */
export async function splitTar(tarFile: string, partSize: number): Promise<SplitResult> {
  const writer = new PartWriter(tarFile, partSize);
  try {
    await rm(partsFileFor(tarFile), { force: true }); // the old split, if any, stops being one first
    await pipeline(createReadStream(tarFile, { highWaterMark: 1 << 20 }), writer);
    await writer.commit();
  } catch (err) {
    await writer.discard();
    throw new OperationError(`${tarFile}: split failed, no part written (${errorMessage(err)})`);
  }
  return await finishSplit(tarFile, partSize, writer.size, writer.whole.digest('hex'), writer.parts);
}

async function hashRange(file: string, start: number, end: number): Promise<string> {
  const h = createHash('sha256');
  if (end > start) for await (const c of createReadStream(file, { start, end: end - 1, highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * Splits FILE.tar into its parts in place: the last part is copied out and
 * the tar truncated, then the one before, ...; the tar that is left becomes
 * part 000. A failure half-way appends the copied parts back.
 */
export async function splitInPlace(tarFile: string, partSize: number): Promise<SplitResult> {
  const size = (await stat(tarFile)).size;
  let sha256: string | undefined;
  try {
    sha256 = parseSidecar(await readFile(`${tarFile}.sha256`, 'utf8'));
  } catch {
    sha256 = undefined;
  }
  sha256 ??= await hashRange(tarFile, 0, size);
  const count = Math.max(1, Math.ceil(size / partSize));
  const parts: BundleParts['parts'] = [];
  await rm(partsFileFor(tarFile), { force: true });
  let k = count - 1;
  try {
    for (; k >= 1; k--) {
      const start = k * partSize;
      const end = Math.min(size, start + partSize);
      const h = createHash('sha256');
      const out = createWriteStream(tempPartName(tarFile, k), { flags: 'wx', mode: 0o644 });
      await pipeline(createReadStream(tarFile, { start, end: end - 1, highWaterMark: 1 << 20 }).on('data', (c) => h.update(c as Buffer)), out);
      parts[k] = { file: basename(partName(tarFile, k)), size: end - start, sha256: h.digest('hex') };
      await truncate(tarFile, start);
    }
  } catch (err) {
    await restore(tarFile, k + 1, count);
    throw new OperationError(`${tarFile}: split failed; the tar is whole again (${errorMessage(err)})`);
  }
  const first = Math.min(size, partSize);
  parts[0] = { file: basename(partName(tarFile, 0)), size: first, sha256: await hashRange(tarFile, 0, first) };
  for (let i = 1; i < count; i++) await rename(tempPartName(tarFile, i), partName(tarFile, i));
  await rename(tarFile, partName(tarFile, 0));
  return await finishSplit(tarFile, partSize, size, sha256, parts);
}

/** Appends temp parts from..count-1 back to the tar, in order, and removes them. */
async function restore(tarFile: string, from: number, count: number): Promise<void> {
  for (let i = from; i < count; i++) {
    const part = tempPartName(tarFile, i);
    await pipeline(createReadStream(part), createWriteStream(tarFile, { flags: 'a' }));
    await rm(part, { force: true });
  }
  await rm(tempPartName(tarFile, from - 1), { force: true });
}

/** Writes the parts of a split bundle into one tar at `out` (temp name, then rename), checking each part and the whole as it goes. */
export async function joinParts(given: string | BundleSource, out: string): Promise<{ source: BundleSource; sha256: string; size: number }> {
  const src = typeof given === 'string' ? await openBundleSource(given) : given;
  if (!src.split) throw new OperationError(`${src.tarName}: not a split bundle (no parts ${partName(src.tarName, 0)} ...)`);
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`);
  const whole = createHash('sha256');
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      for (const p of src.parts) {
        const h = createHash('sha256');
        for await (const c of createReadStream(p.file, { highWaterMark: 1 << 20 })) {
          h.update(c as Buffer);
          whole.update(c as Buffer);
          for (let w = 0; w < (c as Buffer).length; ) w += (await fh.write(c as Buffer, w)).bytesWritten;
        }
        const hex = h.digest('hex');
        if (p.sha256 && hex !== p.sha256) throw new OperationError(`${p.file}: sha256 mismatch: ${basename(src.partsFile!)} says ${p.sha256}, the part is ${hex} (a damaged copy: copy this part again)`);
      }
    } finally {
      await fh.close();
    }
    const sha256 = whole.digest('hex');
    if (src.sha256 && sha256 !== src.sha256) throw new OperationError(`${src.tarName}: the joined tar's sha256 is ${sha256}, ${basename(src.partsFile!)} says ${src.sha256}`);
    await rename(tmp, out);
    return { source: src, sha256, size: src.size };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
