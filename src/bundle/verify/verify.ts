// bundle verify: one streaming pass over the tar (one file, or the parts of a
// split bundle read as one). Every entry is hashed as it goes by; small JSON
// blobs (manifests, indexes, configs) are kept to walk the image trees
// afterwards. The whole tar's checks (sidecar, parts, signature) run at the
// same time on a worker thread (verify-whole.ts). Memory stays flat: layers
// are hashed, never held.
import { createHash } from 'node:crypto';
import { errorMessage } from '../../errors.ts';
import type { SignerPolicy } from '../sign/bundle-signature.ts';
import { parseReference } from '../../oci/reference.ts';
import { readChartArchive } from '../charts/chart-archive.ts';
import { blobPath, digestOfBlobPath, parseIndexJson, resolveImage, REF_NAME_ANNOTATION, type Descriptor, type ImageTree } from '../inspect/layout.ts';
import { loadBundleManifest, type BundleManifestView, type DeltaBase } from '../inspect/manifest.ts';
import { entryStream, TarFormatError, walkTar, type TarEntry } from '../../archive/tar-reader.ts';
import { BundleSourceError, fileSource, inParts, openBundleSource, type BundleSource } from '../../archive/source.ts';
import { startWholeChecks } from './whole.ts';
import { parseSha256Sums } from './sums.ts';

export const MANIFEST_ENTRY = 'bundle.yaml';
export const SUMS_ENTRY = 'SHA256SUMS';
const INDEX_ENTRY = 'images/index.json';
const LAYOUT_ENTRY = 'images/oci-layout';
/** JSON blobs up to this size are kept in memory for the tree walk (manifests are far smaller). */
const KEEP_JSON_BYTES = 4 << 20;
/** ... and no more than this in all, whatever the tar holds (memory stays bounded). */
const KEEP_TOTAL_BYTES = 256 << 20;
/** bundle.yaml, SHA256SUMS, index.json, oci-layout: kept whole, up to this size. */
const KEEP_META_BYTES = 64 << 20;

export interface VerifyProblem {
  /** the entry (or 'FILE.tar.sha256', or the image reference) the problem is about */
  path: string;
  message: string;
}

export interface EntryRecord {
  entry: TarEntry;
  sha256: string;
  size: number;
}

export interface VerifiedImage {
  ref: string;
  tree: ImageTree;
}

export interface VerifyResult {
  /** the tar's name (NAME.tar for a split bundle) */
  file: string;
  /** where its bytes are (one file, or the parts) */
  source: BundleSource;
  tarSize: number;
  sidecar: { status: 'ok' | 'mismatch' | 'absent' | 'unreadable'; expected?: string; actual?: string };
  /** present when a signature was required (--allowed-signers) */
  signature?: { file: string; ok: boolean; message: string };
  manifest?: BundleManifestView;
  records: Map<string, EntryRecord>;
  /** small JSON blobs by digest (manifests, indexes, configs) */
  jsonBlobs: Map<string, Buffer>;
  images: VerifiedImage[];
  /** a delta bundle: its base, and what of the base it needs (its own bytes are verified) */
  delta?: { base: DeltaBase; needs: { blobs: Map<string, number>; bytes: number; charts: string[]; files: string[] } };
  counts: { entries: number; blobs: number; manifests: number; charts: number; files: number; images: number };
  problems: VerifyProblem[];
  /** the bundle could not be opened (a split bundle with a part missing or extra): nothing was read */
  unopened?: true;
}

export interface VerifyOptions {
  onProgress?(bytes: number, total: number): void;
  /** require a good signature (FILE.tar.sig) by a key this policy allows */
  signers?: SignerPolicy;
}

export async function verifyBundle(input: string | BundleSource, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const problems: VerifyProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path, message });
  const records = new Map<string, EntryRecord>();
  const kept = new Map<string, Buffer>(); // entry path -> bytes (bundle.yaml, SHA256SUMS, index.json, JSON blobs)
  const result: VerifyResult = {
    file: typeof input === 'string' ? input : input.tarName,
    source: typeof input === 'string' ? fileSource(input, 0) : input,
    tarSize: 0,
    sidecar: { status: 'absent' },
    records,
    jsonBlobs: new Map(),
    images: [],
    counts: { entries: 0, blobs: 0, manifests: 0, charts: 0, files: 0, images: 0 },
    problems,
  };

  let src: BundleSource;
  try {
    src = typeof input === 'string' ? await openBundleSource(input) : input;
  } catch (err) {
    if (!(err instanceof BundleSourceError)) throw err;
    problems.push(...err.problems);
    result.unopened = true;
    return result;
  }
  result.file = src.tarName;
  result.source = src;
  result.tarSize = src.size;
  const whole = await startWholeChecks(src, opts.signers, problem);

  const keepAll = new Set([MANIFEST_ENTRY, SUMS_ENTRY, INDEX_ENTRY, LAYOUT_ENTRY]);
  let walked: TarEntry[] = [];
  let sumsCoverManifest = false;
  let keptBytes = 0;
  let keepOverflow = false;
  try {
    const walk = await walkTar(src, {
      onProgress: opts.onProgress,
      onEntry(entry) {
        if (entry.type !== 'file') return undefined;
        const hash = createHash('sha256');
        let size = 0;
        const isBlob = entry.path.startsWith('images/blobs/');
        if (keepAll.has(entry.path) && entry.size > KEEP_META_BYTES) problem(entry.path, `${entry.size} bytes: far larger than it can be (limit ${KEEP_META_BYTES >> 20} MiB)`);
        let keep: Buffer[] | undefined = (keepAll.has(entry.path) && entry.size <= KEEP_META_BYTES) || (isBlob && entry.size <= KEEP_JSON_BYTES) ? [] : undefined;
        if (keep && isBlob && keptBytes + entry.size > KEEP_TOTAL_BYTES) {
          // Real manifests and configs are kilobytes; a tar full of large JSON blobs is not ours.
          if (!keepOverflow) problem(entry.path, `more than ${KEEP_TOTAL_BYTES >> 20} MiB of JSON documents in images/blobs: not a bundle this tool made`);
          keepOverflow = true;
          keep = undefined;
        }
        let first = true;
        return {
          write(chunk) {
            hash.update(chunk);
            size += chunk.length;
            if (keep && first && isBlob) {
              // Only JSON documents are worth keeping; layers start with gzip/zstd magic.
              const c = chunk.toString('latin1', 0, Math.min(16, chunk.length)).trimStart();
              if (!c.startsWith('{')) keep = undefined;
            }
            first = false;
            keep?.push(Buffer.from(chunk)); // the walker reuses its buffer
          },
          end() {
            if (records.has(entry.path)) problem(entry.path, 'appears twice in the tar');
            records.set(entry.path, { entry, sha256: hash.digest('hex'), size });
            if (keep) {
              const data = Buffer.concat(keep);
              kept.set(entry.path, data);
              if (isBlob) keptBytes += data.length;
            }
          },
        };
      },
    });
    walked = walk.entries;
    result.tarSize = walk.tarSize;
  } catch (err) {
    if (err instanceof TarFormatError) {
      problem(err.entry ?? '(tar)', `${err.reason} (at offset ${err.offset}); the rest of the tar was not read`);
    } else {
      problem('(tar)', errorMessage(err));
    }
    result.counts.entries = records.size;
    whole.cancel();
    return result;
  }
  result.counts.entries = records.size;

  const wholeResult = await whole.finish(problem);
  result.sidecar = wholeResult.sidecar;
  if (wholeResult.signature) result.signature = wholeResult.signature;
  const sidecarMismatch = wholeResult.sidecarMismatch;

  // bundle.yaml: the first entry, and valid.
  const firstFile = walked.find((e) => e.type === 'file');
  if (!records.has(MANIFEST_ENTRY)) problem(MANIFEST_ENTRY, 'missing');
  else if (firstFile?.path !== MANIFEST_ENTRY) problem(MANIFEST_ENTRY, `is not the first entry (first is '${firstFile?.path}')`);
  const manifestText = kept.get(MANIFEST_ENTRY);
  if (manifestText) {
    try {
      result.manifest = loadBundleManifest(manifestText.toString('utf8'));
    } catch (err) {
      problem(MANIFEST_ENTRY, errorMessage(err).replace(/^bundle\.yaml:\s*/, ''));
    }
  }

  // SHA256SUMS: every other entry, no more, no less.
  const sumsText = kept.get(SUMS_ENTRY);
  if (!sumsText) problem(SUMS_ENTRY, 'missing');
  else {
    const { sums, problems: bad } = parseSha256Sums(sumsText.toString('utf8'));
    sumsCoverManifest = sums.has(MANIFEST_ENTRY);
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
  }

  // Blobs: a blob's name is its digest.
  for (const [path, rec] of records) {
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

  // The OCI layout and each image tree.
  const layoutText = kept.get(LAYOUT_ENTRY);
  if (!layoutText) problem(LAYOUT_ENTRY, 'missing');
  else {
    try {
      const v = (JSON.parse(layoutText.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
      if (typeof v !== 'string') problem(LAYOUT_ENTRY, "no 'imageLayoutVersion'");
    } catch {
      problem(LAYOUT_ENTRY, 'not valid JSON');
    }
  }
  const base = result.manifest?.base;
  const omittedBlobs = new Map((base?.omitted.blobs ?? []).map((b) => [b.digest, b.size]));
  const omittedPaths = new Set([...(base?.omitted.charts ?? []), ...(base?.omitted.files ?? [])]);
  const needs = { blobs: new Map<string, number>(), charts: [] as string[], files: [] as string[] };
  const indexText = kept.get(INDEX_ENTRY);
  const byRef = new Map<string, Descriptor>();
  if (!indexText) problem(INDEX_ENTRY, 'missing');
  else {
    const idx = parseIndexJson(indexText, INDEX_ENTRY);
    for (const p of idx.problems) problem(INDEX_ENTRY, p.replace(`${INDEX_ENTRY} `, ''));
    const verifiedBlob = (d: Descriptor): boolean => result.jsonBlobs.has(d.digest) || verifiedRecord(records, d) !== undefined;
    for (const root of idx.manifests) {
      const ref = root.annotations?.[REF_NAME_ANNOTATION] ?? root.digest;
      if (!root.annotations?.[REF_NAME_ANNOTATION]) problem(INDEX_ENTRY, `manifest ${root.digest} has no ${REF_NAME_ANNOTATION} annotation`);
      byRef.set(ref, root);
      const tree = await resolveImage(root, async (digest) => result.jsonBlobs.get(digest) ?? (records.has(blobPath(digest)) ? null : undefined));
      for (const p of tree.problems) problem(ref, p);
      for (const b of tree.blobs) {
        const rec = records.get(blobPath(b.digest));
        if (!rec && omittedBlobs.has(b.digest)) {
          // A delta leaves out what its base carries: needed from the base, not missing.
          if (omittedBlobs.get(b.digest) !== b.size) problem(ref, `blob ${b.digest}: bundle.yaml's base.omitted says ${omittedBlobs.get(b.digest)} bytes, its descriptor says ${b.size}`);
          needs.blobs.set(b.digest, b.size);
        } else if (!rec) problem(ref, `blob ${b.digest} (${b.mediaType || 'blob'}) is missing from images/blobs`);
        else if (rec.size !== b.size) problem(ref, `blob ${b.digest}: ${rec.size} bytes, its descriptor says ${b.size}`);
        else if (!verifiedBlob(b)) problem(ref, `blob ${b.digest} does not match its digest`);
      }
      result.counts.manifests += tree.manifests.length;
      result.images.push({ ref, tree });
    }
  }

  // bundle.yaml against the content.
  const m = result.manifest;
  if (m) {
    for (const c of m.charts) {
      result.counts.charts++;
      const what = `chart ${c.name} ${c.version}`;
      if (omittedPaths.has(c.file) && !records.has(c.file)) {
        needs.charts.push(c.file);
        continue;
      }
      if (!checkListed(records, c.file, c.digest, c.size, what, problem)) continue;
      // Install names the OCI chart after bundle.yaml: it must be what the chart says it is.
      const e = records.get(c.file)!.entry;
      try {
        const { metadata } = await readChartArchive(entryStream(src, e), c.file);
        if (metadata.name !== c.name || metadata.version !== c.version) problem(c.file, `${what}: bundle.yaml says ${c.name} ${c.version}, its Chart.yaml says ${metadata.name} ${metadata.version}`);
      } catch (err) {
        problem(c.file, `${what}: ${errorMessage(err).replace(`${c.file}: `, '')}`);
      }
    }
    for (const f of m.files) {
      result.counts.files++;
      if (f.file !== `files/${f.name}`) problem(f.file, `file ${f.name}: bundle.yaml places it at ${f.file}, expected files/${f.name}`);
      if (omittedPaths.has(f.file) && !records.has(f.file)) needs.files.push(f.file);
      else checkListed(records, f.file, f.digest, f.size, `file ${f.name}`, problem);
    }
    const listed = new Set<string>();
    for (const img of m.images) {
      result.counts.images++;
      listed.add(img.ref);
      try {
        parseReference(img.ref);
      } catch (err) {
        problem(img.ref, errorMessage(err));
      }
      const root = byRef.get(img.ref);
      if (!root) problem(img.ref, `listed in bundle.yaml but not in ${INDEX_ENTRY}`);
      else if (root.digest !== img.digest) problem(img.ref, `${INDEX_ENTRY} has ${root.digest}, bundle.yaml says ${img.digest}`);
      else {
        // bundle.yaml's size: every manifest and blob of the image, shared ones counted per image.
        const tree = result.images.find((i) => i.ref === img.ref)?.tree;
        const actual = tree ? tree.blobs.reduce((n, d) => n + d.size, 0) + tree.manifests.reduce((n, x) => n + x.descriptor.size, 0) : undefined;
        if (typeof img.size === 'number' && actual !== undefined && tree!.problems.length === 0 && img.size !== actual) problem(img.ref, `bundle.yaml says ${img.size} bytes, its manifests and blobs add up to ${actual}`);
      }
    }
    for (const ref of byRef.keys()) if (!listed.has(ref)) problem(ref, `in ${INDEX_ENTRY} but not listed in bundle.yaml`);
  }
  if (base) result.delta = { base, needs: { blobs: needs.blobs, bytes: [...needs.blobs.values()].reduce((a, b) => a + b, 0), charts: needs.charts, files: needs.files } };
  if (sidecarMismatch) {
    // Say where the change can be when every entry SHA256SUMS covers checked out.
    const where = problems.length === 0 ? `; every entry SHA256SUMS lists matches, so the change is in ${sumsCoverManifest ? 'a tar header or padding' : 'bundle.yaml (not listed in SHA256SUMS), a tar header or padding'}` : '';
    problem(sidecarMismatch.path, sidecarMismatch.message + where);
  }
  return result;
}

function verifiedRecord(records: Map<string, EntryRecord>, d: Descriptor): EntryRecord | undefined {
  const rec = records.get(blobPath(d.digest));
  return rec && `sha256:${rec.sha256}` === d.digest ? rec : undefined;
}

/** Checks an entry against bundle.yaml's digest and size; true when it matches. */
function checkListed(records: Map<string, EntryRecord>, path: string, digest: string, size: number, what: string, problem: (p: string, m: string) => void): boolean {
  const rec = records.get(path);
  if (!rec) {
    problem(path, `${what}: listed in bundle.yaml but missing from the tar`);
    return false;
  }
  let ok = true;
  if (`sha256:${rec.sha256}` !== digest) {
    problem(path, `${what}: sha256 mismatch: bundle.yaml says ${digest}, the content is sha256:${rec.sha256}`);
    ok = false;
  }
  if (rec.size !== size) {
    problem(path, `${what}: size mismatch: bundle.yaml says ${size} bytes, the content is ${rec.size}`);
    ok = false;
  }
  return ok;
}
