// bundle verify: images/index.json and each image tree it names, against the
// blobs the walk hashed. A delta bundle leaves out blobs its base carries:
// those are needed from the base, not missing.
import { blobPath, parseIndexJson, resolveImage, REF_NAME_ANNOTATION, type Descriptor, type ImageTree } from '../inspect/layout.ts';
import { INDEX_ENTRY, type EntryRecord, type KeptEntries, type Problem, type VerifyResult } from './result.ts';

export interface ImageChecks {
  /** index.json's manifests by reference (its ref.name annotation, else its digest) */
  byRef: Map<string, Descriptor>;
  /** blobs left out of a delta, needed from its base: digest -> size */
  neededBlobs: Map<string, number>;
}

/** Walks each image tree of index.json; adds them to `result.images` and their manifests to its counts. */
export async function checkImageTrees(result: VerifyResult, kept: KeptEntries, problem: Problem): Promise<ImageChecks> {
  const omitted = new Map((result.manifest?.base?.omitted.blobs ?? []).map((b) => [b.digest, b.size]));
  const checks: ImageChecks = { byRef: new Map(), neededBlobs: new Map() };
  const indexText = kept.get(INDEX_ENTRY);
  if (!indexText) {
    problem(INDEX_ENTRY, 'missing');
    return checks;
  }
  const idx = parseIndexJson(indexText, INDEX_ENTRY);
  for (const p of idx.problems) problem(INDEX_ENTRY, p.replace(`${INDEX_ENTRY} `, ''));
  for (const root of idx.manifests) {
    const ref = root.annotations?.[REF_NAME_ANNOTATION] ?? root.digest;
    if (!root.annotations?.[REF_NAME_ANNOTATION]) problem(INDEX_ENTRY, `manifest ${root.digest} has no ${REF_NAME_ANNOTATION} annotation`);
    checks.byRef.set(ref, root);
    const tree = await resolveImage(root, async (digest) => result.jsonBlobs.get(digest) ?? (result.records.has(blobPath(digest)) ? null : undefined));
    for (const p of tree.problems) problem(ref, p);
    checkTreeBlobs(ref, tree, result, omitted, checks.neededBlobs, problem);
    result.counts.manifests += tree.manifests.length;
    result.images.push({ ref, tree });
  }
  return checks;
}

/** Each blob a tree names: in the tar with its descriptor's size and digest, or left out by a delta (`omitted`) and so `needed`. */
function checkTreeBlobs(ref: string, tree: ImageTree, result: VerifyResult, omitted: Map<string, number>, needed: Map<string, number>, problem: Problem): void {
  const verifiedBlob = (d: Descriptor): boolean => result.jsonBlobs.has(d.digest) || verifiedRecord(result.records, d) !== undefined;
  for (const b of tree.blobs) {
    const rec = result.records.get(blobPath(b.digest));
    if (!rec && omitted.has(b.digest)) {
      if (omitted.get(b.digest) !== b.size) problem(ref, `blob ${b.digest}: bundle.yaml's base.omitted says ${omitted.get(b.digest)} bytes, its descriptor says ${b.size}`);
      needed.set(b.digest, b.size);
    } else if (!rec) problem(ref, `blob ${b.digest} (${b.mediaType || 'blob'}) is missing from images/blobs`);
    else if (rec.size !== b.size) problem(ref, `blob ${b.digest}: ${rec.size} bytes, its descriptor says ${b.size}`);
    else if (!verifiedBlob(b)) problem(ref, `blob ${b.digest} does not match its digest`);
  }
}

function verifiedRecord(records: Map<string, EntryRecord>, d: Descriptor): EntryRecord | undefined {
  const rec = records.get(blobPath(d.digest));
  return rec && `sha256:${rec.sha256}` === d.digest ? rec : undefined;
}
