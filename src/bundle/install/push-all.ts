// bundle install's push: every blob an image or chart needs is placed in its
// repository (blob-placement.ts: each unique blob uploaded once, mounted
// elsewhere), then the manifests go on top. An image's manifests are pushed
// only once all its blobs are in: a failed blob leaves no tag naming it. The
// registry checks every digest.
import { Readable } from 'node:stream';
import { OperationError, errorMessage } from '../../errors.ts';
import { formatTransfer, RateMeter } from '../create/progress.ts';
import { blobPath, type Descriptor, type ImageTree } from '../inspect/layout.ts';
import { helmArtifact, HELM_CONFIG_MEDIA_TYPE, mappingRef, type ImageMapping } from './plan.ts';
import { MEDIA } from '../../oci/registry/client.ts';
import type { BlobSource, PushSession } from '../../oci/registry/push.ts';
import { BlobPlacer } from './blob-placement.ts';
import { sourceStream, type BundleSource } from '../../archive/source.ts';
import type { TarEntry } from '../../archive/tar-reader.ts';
import type { DeltaSources } from '../delta/install-needs.ts';
import type { VerifyResult } from '../verify/verify.ts';
import type { InstallCounts } from './install.ts';

export interface ImagePlan {
  mapping: ImageMapping;
  tree: ImageTree;
  /** manifests pushed by digest (children), then the root by tag or digest */
  pushRefs: Array<{ node: ImageTree['manifests'][number]; reference: string }>;
}

export interface ChartPlan {
  name: string;
  version: string;
  entry: TarEntry;
  /** the bundle's tar, or (a chart a delta leaves out) its base's */
  source: BundleSource;
  repository: string;
  tag: string;
  artifact: ReturnType<typeof helmArtifact>;
  tgz: Descriptor;
}

export interface PushOptions {
  concurrency?: number;
  log(line: string): void;
  status?(line: string): void;
}

/** Pushes every image and chart; `summary` counts what was pushed, skipped and mounted. */
export async function pushAll(session: PushSession, opts: PushOptions, images: ImagePlan[], charts: ChartPlan[], v: VerifyResult, summary: InstallCounts, totalBytes: number, delta?: DeltaSources): Promise<void> {
  const progress = pushProgress(opts, summary, totalBytes, images.reduce((s, i) => s + i.tree.blobs.length, 0) + charts.length * 2);
  // A delta's layers the registry holds from its base are mounted from where they are.
  const placer = new BlobPlacer(session, opts, summary, progress, delta?.blobsInRegistry);
  const tarSource = bundleSources(v, charts, progress.sent, delta);
  // Every placement starts now (a digest's first, in the images' order, is its upload).
  const chartConfig = (c: ChartPlan): Descriptor => ({ mediaType: HELM_CONFIG_MEDIA_TYPE, digest: c.artifact.configDigest, size: c.artifact.config.length });
  const wanted = [
    ...images.flatMap((img, i) => img.tree.blobs.map((d) => ({ key: `i${i}`, repository: img.mapping.repository, d, source: () => tarSource(d) }))),
    ...charts.flatMap((c, i) => [
      { key: `c${i}`, repository: c.repository, d: chartConfig(c), source: () => bufferSource(c.artifact.config) },
      { key: `c${i}`, repository: c.repository, d: c.tgz, source: () => tarSource(c.tgz) },
    ]),
  ];
  const placed = new Map<string, Promise<void>[]>();
  for (const w of wanted) {
    const p = placer.place(w.repository, w.d, w.source);
    p.catch(() => undefined); // awaited by its image or chart below
    placed.set(w.key, [...(placed.get(w.key) ?? []), p]);
  }

  const imageJobs = images.map(async (img, i) => {
    const repo = img.mapping.repository;
    try {
      await settledAll(placed.get(`i${i}`) ?? []);
      for (const { node, reference } of img.pushRefs) {
        const bytes = v.jsonBlobs.get(node.descriptor.digest);
        if (!bytes) throw new OperationError(`manifest ${node.descriptor.digest} is not in the bundle`);
        await placer.manifest(repo, reference, node.descriptor.mediaType, bytes, node.descriptor.digest);
      }
      opts.log(`  done: ${mappingRef(img.mapping)}`);
    } catch (err) {
      throw new OperationError(`image ${img.mapping.original} -> ${mappingRef(img.mapping)}: ${errorMessage(err)}`);
    }
  });
  const chartJobs = charts.map(async (c, i) => {
    try {
      await settledAll(placed.get(`c${i}`) ?? []);
      await placer.manifest(c.repository, c.tag, MEDIA.ociManifest, c.artifact.manifest, c.artifact.manifestDigest);
      opts.log(`  done: oci://${new URL(session.baseUrl).host}/${c.repository}:${c.tag}`);
    } catch (err) {
      throw new OperationError(`chart ${c.name} ${c.version} -> ${c.repository}:${c.tag}: ${errorMessage(err)}`);
    }
  });
  const results = await Promise.allSettled([...imageJobs, ...chartJobs]);
  opts.status?.('');
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length) {
    throw new OperationError(`${failures.length} push${failures.length === 1 ? '' : 'es'} failed (${summary.blobsPushed} blobs pushed, ${summary.blobsSkipped} skipped before the failure; running install again resumes):\n${failures.map((f) => `  - ${errorMessage(f.reason)}`).join('\n')}`);
  }
}

/** Where each blob's bytes are: the bundle's tar, or a delta's base tar. */
function bundleSources(v: VerifyResult, charts: ChartPlan[], onBytes: (n: number) => void, delta?: DeltaSources): (d: Descriptor) => BlobSource {
  // A delta's charts from its base tar, by their .tgz digest.
  const chartsFromBase = new Map(charts.filter((c) => c.source !== v.source).map((c) => [c.tgz.digest, { source: c.source, entry: c.entry }]));
  return (d) => {
    const rec = v.records.get(blobPath(d.digest)) ?? [...v.records.values()].find((r) => `sha256:${r.sha256}` === d.digest);
    const at = rec ? { source: v.source, entry: rec.entry } : (delta?.blobsFromBase.get(d.digest) ?? chartsFromBase.get(d.digest));
    if (!at) throw new OperationError(`blob ${d.digest} is not in the bundle${delta ? ' nor its base' : ''}`);
    const base = at.entry.dataOffset;
    return { size: at.entry.size, open: (start, end) => counting(sourceStream(at.source, base + start, base + end - 1), onBytes) };
  };
}

const bufferSource = (b: Buffer): BlobSource => ({ size: b.length, open: (start, end) => Readable.from([b.subarray(start, end)], { objectMode: false }) });

/** Like Promise.all, but waits for every job before it rejects (none is left running unobserved). */
async function settledAll(jobs: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The status line: blobs done, bytes sent of those still to upload, rate, time left. */
function pushProgress(opts: PushOptions, summary: InstallCounts, totalBytes: number, totalBlobs: number) {
  let sentBytes = 0;
  let doneBlobs = 0;
  // The total shrinks by each unique blob whose first outcome is a skip or a mount (not an upload).
  let expectedBytes = totalBytes;
  const accounted = new Set<string>();
  const rate = new RateMeter();
  const status = () => {
    const transfer = formatTransfer(sentBytes, expectedBytes, rate.sample(sentBytes, performance.now()), ', ');
    opts.status?.(`pushing: ${doneBlobs}/${totalBlobs} blobs, ${transfer} (${summary.blobsSkipped} skipped, ${summary.blobsMounted} mounted)`);
  };
  return {
    sent: (n: number) => {
      sentBytes += n;
      status();
    },
    uploading: (d: Descriptor) => accounted.add(d.digest),
    notUploaded: (d: Descriptor) => {
      if (!accounted.has(d.digest)) expectedBytes -= d.size;
      accounted.add(d.digest);
    },
    blobDone: () => {
      doneBlobs++;
      status();
    },
  };
}

/** Counts bytes as the consumer pulls them (a 'data' listener would start the flow too early). */
function counting(stream: Readable, onBytes: (n: number) => void): Readable {
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      onBytes(chunk.length);
      yield chunk;
    }
  }
  return Readable.from(counted(), { objectMode: false });
}
