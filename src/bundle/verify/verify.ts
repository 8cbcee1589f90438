// bundle verify: one streaming pass over the tar (one file, or the parts of a
// split bundle read as one) hashes every entry and keeps the small ones
// (entries.ts); the whole tar's checks (sidecar, parts, signature) run at the
// same time on a worker thread (whole.ts). Then what was read is checked, step
// by step: bundle.yaml, SHA256SUMS, the blobs' names, the OCI layout, the image
// trees (images.ts), and what bundle.yaml lists (listed.ts). Memory stays
// flat: layers are hashed, never held.
import { errorMessage } from '../../errors.ts';
import type { SignerPolicy } from '../sign/bundle-signature.ts';
import { digestOfBlobPath } from '../inspect/layout.ts';
import { loadBundleManifest } from '../inspect/manifest.ts';
import { TarFormatError, type TarEntry } from '../../archive/tar-reader.ts';
import { BundleSourceError, fileSource, inParts, openBundleSource, type BundleSource } from '../../archive/source.ts';
import { startWholeChecks } from './whole.ts';
import { parseSha256Sums } from './sums.ts';
import { hashEntries } from './entries.ts';
import { checkImageTrees } from './images.ts';
import { checkListedContent } from './listed.ts';
import { INDEX_ENTRY, LAYOUT_ENTRY, MANIFEST_ENTRY, SUMS_ENTRY, type KeptEntries, type Problem, type VerifyResult } from './result.ts';

export type { EntryRecord, VerifiedImage, VerifyProblem, VerifyResult } from './result.ts';

export interface VerifyOptions {
  onProgress?(bytes: number, total: number): void;
  /** require a good signature (FILE.tar.sig) by a key this policy allows */
  signers?: SignerPolicy;
}

export async function verifyBundle(input: string | BundleSource, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const result = emptyResult(input);
  const problem: Problem = (path, message) => result.problems.push({ path, message });
  let src: BundleSource;
  try {
    src = typeof input === 'string' ? await openBundleSource(input) : input;
  } catch (err) {
    if (!(err instanceof BundleSourceError)) throw err;
    result.problems.push(...err.problems);
    result.unopened = true;
    return result;
  }
  result.file = src.tarName;
  result.source = src;
  result.tarSize = src.size;
  const whole = await startWholeChecks(src, opts.signers, problem);

  const kept: KeptEntries = new Map();
  let walked: TarEntry[];
  try {
    const keepWhole = new Set([MANIFEST_ENTRY, SUMS_ENTRY, INDEX_ENTRY, LAYOUT_ENTRY]);
    const walk = await hashEntries(src, { records: result.records, kept, keepWhole, onProgress: opts.onProgress }, problem);
    walked = walk.entries;
    result.tarSize = walk.tarSize;
  } catch (err) {
    reportUnwalkable(err, problem);
    result.counts.entries = result.records.size;
    whole.cancel();
    return result;
  }
  result.counts.entries = result.records.size;

  const wholeResult = await whole.finish(problem);
  result.sidecar = wholeResult.sidecar;
  if (wholeResult.signature) result.signature = wholeResult.signature;

  checkManifestEntry(walked, kept, result, problem);
  const sumsCoverManifest = checkSums(src, kept, result, problem);
  checkBlobNames(kept, result, problem);
  checkLayout(kept, problem);
  const { byRef, neededBlobs } = await checkImageTrees(result, kept, problem);
  const needs = await checkListedContent(src, result, byRef, problem);
  const base = result.manifest?.base;
  if (base) result.delta = { base, needs: { blobs: neededBlobs, bytes: [...neededBlobs.values()].reduce((a, b) => a + b, 0), charts: needs.charts, files: needs.files } };
  const mismatch = wholeResult.sidecarMismatch;
  if (mismatch) {
    // Say where the change can be when every entry SHA256SUMS covers checked out.
    const where = result.problems.length === 0 ? `; every entry SHA256SUMS lists matches, so the change is in ${sumsCoverManifest ? 'a tar header or padding' : 'bundle.yaml (not listed in SHA256SUMS), a tar header or padding'}` : '';
    problem(mismatch.path, mismatch.message + where);
  }
  return result;
}

/** The result before anything is read: nothing found yet. */
function emptyResult(input: string | BundleSource): VerifyResult {
  return {
    file: typeof input === 'string' ? input : input.tarName,
    source: typeof input === 'string' ? fileSource(input, 0) : input,
    tarSize: 0,
    sidecar: { status: 'absent' },
    records: new Map(),
    jsonBlobs: new Map(),
    images: [],
    counts: { entries: 0, blobs: 0, manifests: 0, charts: 0, files: 0, images: 0 },
    problems: [],
  };
}

/** Why the walk stopped: the entry and offset of an unreadable tar, or the read error. */
function reportUnwalkable(err: unknown, problem: Problem): void {
  if (err instanceof TarFormatError) {
    problem(err.entry ?? '(tar)', `${err.reason} (at offset ${err.offset}); the rest of the tar was not read`);
  } else {
    problem('(tar)', errorMessage(err));
  }
}

/** bundle.yaml: the first entry, and valid (then `result.manifest`). */
function checkManifestEntry(walked: TarEntry[], kept: KeptEntries, result: VerifyResult, problem: Problem): void {
  const firstFile = walked.find((e) => e.type === 'file');
  if (!result.records.has(MANIFEST_ENTRY)) problem(MANIFEST_ENTRY, 'missing');
  else if (firstFile?.path !== MANIFEST_ENTRY) problem(MANIFEST_ENTRY, `is not the first entry (first is '${firstFile?.path}')`);
  const manifestText = kept.get(MANIFEST_ENTRY);
  if (manifestText) {
    try {
      result.manifest = loadBundleManifest(manifestText.toString('utf8'));
    } catch (err) {
      problem(MANIFEST_ENTRY, errorMessage(err).replace(/^bundle\.yaml:\s*/, ''));
    }
  }
}

/** SHA256SUMS: every other entry, no more, no less. True when it lists bundle.yaml too. */
function checkSums(src: BundleSource, kept: KeptEntries, result: VerifyResult, problem: Problem): boolean {
  const sumsText = kept.get(SUMS_ENTRY);
  if (!sumsText) {
    problem(SUMS_ENTRY, 'missing');
    return false;
  }
  const records = result.records;
  const { sums, problems: bad } = parseSha256Sums(sumsText.toString('utf8'));
  for (const b of bad) problem(SUMS_ENTRY, b.replace(/^SHA256SUMS:/, 'line '));
  for (const [path, hex] of sums) {
    const rec = records.get(path);
    if (!rec) problem(path, 'missing from the tar (listed in SHA256SUMS)');
    else if (rec.sha256 !== hex) {
      // A blob whose content still matches its name means the SHA256SUMS line is what changed.
      if (digestOfBlobPath(path) === `sha256:${rec.sha256}`) problem(SUMS_ENTRY, `the line for ${path} says ${hex}, but that blob's content matches its name (sha256:${rec.sha256}): SHA256SUMS is damaged`);
      else problem(path, `sha256 mismatch: SHA256SUMS says ${hex}, the content is ${rec.sha256} (${rec.size} bytes)${inParts(src, rec.entry.dataOffset, rec.size)}`);
    }
  }
  for (const path of records.keys()) {
    if (path !== MANIFEST_ENTRY && path !== SUMS_ENTRY && !sums.has(path)) problem(path, 'extra entry: not listed in SHA256SUMS');
  }
  return sums.has(MANIFEST_ENTRY);
}

/** Blobs: a blob's name is its digest. The kept (JSON) ones that match go to `result.jsonBlobs`. */
function checkBlobNames(kept: KeptEntries, result: VerifyResult, problem: Problem): void {
  for (const [path, rec] of result.records) {
    if (!path.startsWith('images/blobs/')) continue;
    result.counts.blobs++;
    const digest = digestOfBlobPath(path);
    if (!digest) problem(path, 'not a blob path (expected images/blobs/sha256/<64 hex>)');
    else if (!digest.startsWith('sha256:') || digest.length !== 71) problem(path, 'unsupported digest (expected sha256:<64 hex>)');
    else if (digest !== `sha256:${rec.sha256}`) problem(path, `blob content is sha256:${rec.sha256}, its name says ${digest}`);
    else {
      const json = kept.get(path);
      if (json) result.jsonBlobs.set(digest, json);
    }
  }
}

/** images/oci-layout: JSON with an imageLayoutVersion. */
function checkLayout(kept: KeptEntries, problem: Problem): void {
  const layoutText = kept.get(LAYOUT_ENTRY);
  if (!layoutText) {
    problem(LAYOUT_ENTRY, 'missing');
    return;
  }
  try {
    const v = (JSON.parse(layoutText.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    if (typeof v !== 'string') problem(LAYOUT_ENTRY, "no 'imageLayoutVersion'");
  } catch {
    problem(LAYOUT_ENTRY, 'not valid JSON');
  }
}
