// bundle verify: what bundle.yaml lists against what the tar holds: each
// chart (and the name and version its Chart.yaml gives), each file, each
// image (in index.json, with the digest and size bundle.yaml says). A delta
// bundle leaves out charts and files its base carries: needed, not missing.
import { errorMessage } from '../../errors.ts';
import { entryStream } from '../../archive/tar-reader.ts';
import type { BundleSource } from '../../archive/source.ts';
import { parseReference } from '../../oci/reference.ts';
import { readChartArchive } from '../charts/chart-archive.ts';
import type { Descriptor } from '../inspect/layout.ts';
import type { BundleManifestView } from '../inspect/manifest.ts';
import { INDEX_ENTRY, type EntryRecord, type Problem, type VerifyResult } from './result.ts';

/** The charts and files a delta leaves out, needed from its base (entry paths). */
export interface ListedNeeds {
  charts: string[];
  files: string[];
}

/** Checks bundle.yaml's charts, files and images (when it was read), counting them in `result`. */
export async function checkListedContent(src: BundleSource, result: VerifyResult, byRef: Map<string, Descriptor>, problem: Problem): Promise<ListedNeeds> {
  const needs: ListedNeeds = { charts: [], files: [] };
  const m = result.manifest;
  if (!m) return needs;
  const omittedPaths = new Set([...(m.base?.omitted.charts ?? []), ...(m.base?.omitted.files ?? [])]);
  await checkCharts(src, m, result, omittedPaths, needs.charts, problem);
  for (const f of m.files) {
    result.counts.files++;
    if (f.file !== `files/${f.name}`) problem(f.file, `file ${f.name}: bundle.yaml places it at ${f.file}, expected files/${f.name}`);
    if (omittedPaths.has(f.file) && !result.records.has(f.file)) needs.files.push(f.file);
    else checkListed(result.records, f.file, f.digest, f.size, `file ${f.name}`, problem);
  }
  checkImagesListed(m, result, byRef, problem);
  return needs;
}

async function checkCharts(src: BundleSource, m: BundleManifestView, result: VerifyResult, omittedPaths: Set<string>, needed: string[], problem: Problem): Promise<void> {
  for (const c of m.charts) {
    result.counts.charts++;
    const what = `chart ${c.name} ${c.version}`;
    if (omittedPaths.has(c.file) && !result.records.has(c.file)) {
      needed.push(c.file);
      continue;
    }
    if (!checkListed(result.records, c.file, c.digest, c.size, what, problem)) continue;
    // Install names the OCI chart after bundle.yaml: it must be what the chart says it is.
    const e = result.records.get(c.file)!.entry;
    try {
      const { metadata } = await readChartArchive(entryStream(src, e), c.file);
      if (metadata.name !== c.name || metadata.version !== c.version) problem(c.file, `${what}: bundle.yaml says ${c.name} ${c.version}, its Chart.yaml says ${metadata.name} ${metadata.version}`);
    } catch (err) {
      problem(c.file, `${what}: ${errorMessage(err).replace(`${c.file}: `, '')}`);
    }
  }
}

/** bundle.yaml's images and index.json's: the same references, the same digests, and the sizes bundle.yaml gives. */
function checkImagesListed(m: BundleManifestView, result: VerifyResult, byRef: Map<string, Descriptor>, problem: Problem): void {
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

/** Checks an entry against bundle.yaml's digest and size; true when it matches. */
function checkListed(records: Map<string, EntryRecord>, path: string, digest: string, size: number, what: string, problem: Problem): boolean {
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
