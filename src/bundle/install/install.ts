// bundle install: check that the site registry answers and takes the
// credentials, verify the bundle, push every image and chart, then write the
// charts and files directories (output.ts); push-all.ts does the pushing. Blobs stream straight out
// of the tar (a blob's bytes sit contiguously in it), so nothing is extracted
// to disk but those two directories; the registry re-checks every digest.
import { statfs, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { OperationError } from '../../errors.ts';
import { formatBytes, formatMode, plural } from '../inspect/format.ts';
import type { Descriptor } from '../inspect/layout.ts';
import { chartRepository, chartTag, helmArtifact, HELM_CHART_MEDIA_TYPE, parseRegistryTarget, siteReference, targetBase, valuesOverride, VALUES_FILE, type ImageMapping, type RegistryTarget } from './plan.ts';
import { imageRepository, refuseCollisions, type PlannedTarget, type TargetLayout } from './targets.ts';
import { openPushSession, type SessionOptions } from './session.ts';
import { CERTS_DIR, REGISTRIES_FILE, runtimeMirrorFiles, type MirrorSettings } from './runtime-mirrors.ts';
import { planChartValues, renderCheck } from './chart-values-files.ts';
import { findHelm } from '../charts/render.ts';
import { parseReference } from '../../oci/reference.ts';
import type { PushSession } from '../../oci/registry/push.ts';
import { entryStream, readEntry, type TarEntry } from '../../archive/tar-reader.ts';
import type { BundleSource } from '../../archive/source.ts';
import { defaultFilesDir, writeInstallOutputs, type TextFile } from './output.ts';
import { readChartArchive } from '../charts/chart-archive.ts';
import { readBaseInventory } from '../delta/base-inventory.ts';
import { baseEntries, resolveDeltaNeeds, type BaseEntry } from '../delta/install-needs.ts';
import { pushAll, type ChartPlan, type ImagePlan } from './push-all.ts';
import type { BundleManifestView } from '../inspect/manifest.ts';
import { verifyBundle, type VerifyResult } from '../verify/verify.ts';
import type { SignerPolicy } from '../sign/bundle-signature.ts';

export interface InstallOptions extends Omit<SessionOptions, 'target'> {
  file: string;
  registry: string;
  dryRun?: boolean;
  /** drop the source registry from image targets (the layout before by-registry) */
  flat?: boolean;
  /** helm for checking values/<chart>.yaml by rendering (default: $ASTRAGO_HELM, else helm on PATH) */
  helm?: string;
  chartsDir?: string;
  /** where the bundle's files/ go (default: astrago-files beside the charts directory) */
  filesDir?: string;
  concurrency?: number;
  /** require a good signature by one of these signers before anything changes */
  signers?: SignerPolicy;
  /** a delta bundle's base (OLD.tar): what the delta leaves out is taken from there */
  base?: string;
  cwd: string;
  /** one line of output (plan, summary) */
  log(line: string): void;
  /** redrawn status line on a terminal */
  status?(line: string): void;
}

export interface InstallCounts {
  blobsPushed: number;
  bytesPushed: number;
  blobsSkipped: number;
  blobsMounted: number;
  manifestsPushed: number;
  manifestsSkipped: number;
}

export interface InstallSummary extends InstallCounts {
  registry: string;
  layout: TargetLayout;
  images: ImageMapping[];
  charts: Array<{ name: string; version: string; ref: string }>;
  chartsDir: string;
  valuesFile: string;
  /** values/<chart>.yaml files, relative to the charts directory */
  chartValues: string[];
  /** the runtime mirror files, relative to the charts directory */
  mirrors: string[];
  filesDir: string;
  files: string[];
  dryRun: boolean;
}

const DEFAULT_CHARTS_DIR = 'astrago-charts';
/** Kept free beyond what the charts directory needs (index, values, temp names). */
const DISK_MARGIN = 1 << 20;

export async function installBundle(opts: InstallOptions): Promise<InstallSummary> {
  const target = parseRegistryTarget(opts.registry);
  const layout: TargetLayout = opts.flat ? 'flat' : 'by-registry';
  const chartsDir = resolve(opts.cwd, opts.chartsDir ?? DEFAULT_CHARTS_DIR);
  const filesDir = opts.filesDir ? resolve(opts.cwd, opts.filesDir) : defaultFilesDir(chartsDir);

  // 1. The registry answers and takes the credentials (seconds) while the verification
  // (minutes on a large bundle) gets under way: a refusal is reported at once.
  const verifying = verifyBundle(opts.file, { ...(opts.signers ? { signers: opts.signers } : {}), onProgress: (b, t) => opts.status?.(`verifying: ${formatBytes(b)} / ${formatBytes(t)}`) });
  verifying.catch(() => undefined); // awaited below unless the registry check fails first
  let session: Awaited<ReturnType<typeof openPushSession>> | undefined;
  if (!opts.dryRun) {
    opts.log(`Registry: ${target.host} ...`);
    session = await openPushSession({ ...opts, target, connections: Math.max(16, (opts.concurrency ?? 8) * 2) });
    opts.log(`Registry: ${target.host} answers${session.user ? ` and accepts the credentials of ${session.user}` : ''}.`);
  }
  try {
    return await verifyAndInstall(opts, target, layout, chartsDir, filesDir, session, verifying);
  } finally {
    await session?.close();
  }
}

async function verifyAndInstall(opts: InstallOptions, target: RegistryTarget, layout: TargetLayout, chartsDir: string, filesDir: string, session: PushSession | undefined, verifying: Promise<VerifyResult>): Promise<InstallSummary> {
  const verified = await verifiedBundle(opts, verifying);
  const plan = await planInstall(opts, target, layout, verified);
  const where = { target, layout, chartsDir, filesDir };
  const free = await freeBytes(chartsDir);
  logPlan(opts, where, plan, free);
  const chartValues = await planChartValues(verified.source, plan.charts.map((c) => ({ name: c.name, version: c.version, entry: c.entry, source: c.source, ref: `oci://${target.host}/${c.repository}:${c.tag}` })), plan.mappings, opts.log);
  for (const v of chartValues) opts.log(`  chart values ${v.path} (${plural(v.set.length, 'image')} set${v.missing.length ? `, ${v.missing.length} not in the bundle: ${v.missing.map((m) => m.image).join(', ')}` : ''})`);
  for (const { entry: f } of plan.files) opts.log(`  file ${join(filesDir, f.path.replace(/^files\//, ''))} (mode ${formatMode(f.mode)})`);
  const summary = emptySummary(opts, where, plan, chartValues);
  const noSpace = free !== undefined && free < plan.need ? `not enough disk space for the charts directory ${chartsDir}: ${formatBytes(plan.need)} needed, ${formatBytes(free)} free` : undefined;
  if (opts.dryRun || !session) {
    if (noSpace) opts.log(`Warning: ${noSpace}; the install would stop here.`);
    opts.log('Dry run: nothing was pushed or written.');
    return summary;
  }
  // (a full disk stops the install before the registry is changed)
  if (noSpace) throw new OperationError(`${noSpace}. Nothing was pushed or written; free some space or choose another --charts-dir.`);
  await pushAndWrite(opts, session, where, plan, verified, summary, chartValues);
  return summary;
}

/** 2. The verification's outcome: anything wrong stops the install before anything changes. */
async function verifiedBundle(opts: InstallOptions, verifying: Promise<VerifyResult>): Promise<VerifyResult & { manifest: NonNullable<VerifyResult['manifest']> }> {
  opts.log(`Verifying ${opts.file} ...`);
  const verified = await verifying;
  opts.status?.('');
  if (verified.problems.length || !verified.manifest) {
    const list = verified.problems.slice(0, 50).map((p) => `  - ${p.path}: ${p.message}`);
    if (verified.problems.length > 50) list.push(`  ... and ${verified.problems.length - 50} more`);
    throw new OperationError(`${opts.file}: verification failed (${plural(verified.problems.length, 'problem')}); nothing was pushed or written:\n${list.join('\n')}`);
  }
  if (verified.signature) opts.log(`Signature: ${verified.signature.message}`);
  const n = verified.counts;
  opts.log(`Verified: ${plural(n.entries, 'entry', 'entries')}, ${plural(n.images, 'image')}, ${plural(n.charts, 'chart')}, ${plural(n.files, 'file')}.`);
  return verified as VerifyResult & { manifest: NonNullable<VerifyResult['manifest']> };
}

type InstallPlan = Awaited<ReturnType<typeof planInstall>>;
interface Where {
  target: RegistryTarget;
  layout: TargetLayout;
  chartsDir: string;
  filesDir: string;
}

/** 3. What goes where. A delta's pieces from its base come from --base OLD.tar or, checked before the push, the registry. */
async function planInstall(opts: InstallOptions, target: RegistryTarget, layout: TargetLayout, verified: VerifyResult & { manifest: NonNullable<VerifyResult['manifest']> }) {
  const delta = verified.delta;
  if (opts.base && !delta) throw new OperationError(`${opts.file} is not a delta bundle: --base is only for one; nothing was pushed or written`);
  if (delta) opts.log(`Delta of ${delta.base.name} ${delta.base.version}: needs ${plural(delta.needs.blobs.size, 'layer')} (${formatBytes(delta.needs.bytes)}) and ${plural(delta.needs.charts.length, 'chart')} from the base (${opts.base ? `--base ${opts.base}, else ` : ''}the registry)`);
  const fromBase = delta ? baseEntries(delta.base, opts.base ? await readBaseInventory(resolve(opts.cwd, opts.base)) : undefined, opts.base ?? '') : { blobs: new Map(), charts: new Map(), files: new Map() };
  const images = planImages(target, verified, layout);
  const { charts, inRegistry } = await planCharts(target, verified, fromBase.charts);
  refuseCollisions(target, plannedTargets(images, charts), layout);
  const mappings = images.map((i) => i.mapping);
  const values = valuesOverride(target, mappings, [...charts, ...inRegistry].map((c) => ({ name: c.name, version: c.version })), layout);
  const indexEntry = verified.records.get('charts/index.yaml')?.entry;
  // A delta's files come from its base tar; without it they are not written (the base's install wrote them).
  const files: Array<{ source: BundleSource; entry: TarEntry }> = [];
  for (const f of verified.manifest.files) {
    const rec = verified.records.get(f.file);
    const at = rec ? { source: verified.source, entry: rec.entry } : fromBase.files.get(f.file);
    if (at) files.push(at);
    else opts.log(`  file ${f.name}: in the base bundle, not in this delta: not written`);
  }
  const need = charts.reduce((s, c) => s + c.entry.size, 0) + (indexEntry?.size ?? 0) + Buffer.byteLength(values) + files.reduce((s, f) => s + f.entry.size, 0) + DISK_MARGIN;
  const uniqueBlobs = new Map<string, number>();
  for (const i of images) for (const b of i.tree.blobs) uniqueBlobs.set(b.digest, b.size);
  for (const c of charts) uniqueBlobs.set(c.tgz.digest, c.tgz.size);
  const pushBytes = [...uniqueBlobs.values()].reduce((a, b) => a + b, 0);
  const sources = [...new Set(mappings.map((m) => m.originalRegistry))].sort();
  return { delta, fromBase, images, charts, inRegistry, mappings, values, indexEntry, files, need, uniqueBlobs: uniqueBlobs.size, pushBytes, sources };
}

function logPlan(opts: InstallOptions, { target, layout, chartsDir, filesDir }: Where, plan: InstallPlan, free: number | undefined): void {
  const { images, charts } = plan;
  opts.log(`Target: ${targetBase(target)}, ${layout === 'flat' ? 'flat (source registry dropped)' : 'by source registry'} (${plural(images.length, 'image')}, ${plural(charts.length, 'chart')}, ${plural(plan.uniqueBlobs, 'unique blob')}, ${formatBytes(plan.pushBytes)} at most to upload)`);
  opts.log(`Disk needed: ${formatBytes(plan.need)} in ${chartsDir}${plan.files.length ? ` and ${filesDir}` : ''} (${free === undefined ? 'free space unknown' : `${formatBytes(free)} free`}); blobs stream from the tar, nothing else is extracted.`);
  for (const i of images) opts.log(`  image ${i.mapping.original} -> ${siteReference(target, i.mapping.repository, i.mapping.tag, i.mapping.digest)}`);
  for (const c of charts) opts.log(`  chart ${c.name} ${c.version} -> oci://${target.host}/${c.repository}:${c.tag}`);
  opts.log(`  charts directory ${chartsDir} (chart .tgz files, index.yaml, ${VALUES_FILE}, values/<chart>.yaml), written once every push succeeded`);
  if (plan.sources.length) opts.log(`  runtime mirrors ${plan.sources.map((h) => `${CERTS_DIR}/${h}/hosts.toml`).join(', ')}, ${REGISTRIES_FILE}`);
}

function emptySummary(opts: InstallOptions, { target, layout, chartsDir, filesDir }: Where, plan: InstallPlan, chartValues: Array<{ path: string }>): InstallSummary {
  return {
    registry: targetBase(target),
    layout,
    images: plan.mappings,
    charts: [...plan.charts, ...plan.inRegistry].map((c) => ({ name: c.name, version: c.version, ref: `oci://${target.host}/${c.repository}:${c.tag}` })),
    chartsDir,
    valuesFile: join(chartsDir, VALUES_FILE),
    chartValues: chartValues.map((v) => v.path),
    mirrors: plan.sources.length ? [...plan.sources.map((h) => `${CERTS_DIR}/${h}/hosts.toml`), REGISTRIES_FILE] : [],
    filesDir,
    files: plan.files.map(({ entry: f }) => join(filesDir, f.path.replace(/^files\//, ''))),
    dryRun: !!opts.dryRun,
    blobsPushed: 0,
    bytesPushed: 0,
    blobsSkipped: 0,
    blobsMounted: 0,
    manifestsPushed: 0,
    manifestsSkipped: 0,
  };
}

/**
 * 4. Push, then 5. the local directories (charts, values, runtime mirrors, files): a failed
 * push leaves the previous ones as they were; nodes that pick the mirrors up find the images.
 */
async function pushAndWrite(opts: InstallOptions, session: PushSession, { target, layout, chartsDir, filesDir }: Where, plan: InstallPlan, verified: VerifyResult & { manifest: NonNullable<VerifyResult['manifest']> }, summary: InstallSummary, chartValues: Awaited<ReturnType<typeof planChartValues>>): Promise<void> {
  const { delta, images, charts, inRegistry } = plan;
  // A delta: everything it needs from its base is found (read-only requests) before anything changes.
  const deltaSources = delta
    ? await resolveDeltaNeeds(session, {
        base: delta.base,
        images: images.map((i) => ({ ref: i.mapping.original, repository: i.mapping.repository, blobs: i.tree.blobs.filter((b) => delta.needs.blobs.has(b.digest)) })),
        charts: inRegistry.map((c) => ({ path: c.file, name: c.name, version: c.version, repository: c.repository, tag: c.tag, digest: c.digest })),
        fromBase: plan.fromBase,
      })
    : undefined;
  for (const c of inRegistry) opts.log(`  chart ${c.name} ${c.version}: already in the registry (from the base); not in the charts directory`);
  await pushAll(session, opts, images, charts, verified, summary, plan.pushBytes, deltaSources);
  const mirrors = await mirrorFiles(opts, session, { target, layout, sources: plan.sources });
  const index = await chartsIndex(verified.source, plan, chartsDir);
  await writeInstallOutputs(verified.source, {
    chartsDir,
    charts: charts.map((c) => ({ source: c.source, entry: c.entry })),
    ...(index.entry ? { index: index.entry } : {}),
    texts: [...(index.text ? [{ path: 'index.yaml', content: index.text }] : []), { path: VALUES_FILE, content: plan.values }, ...mirrors, ...chartValues],
    filesDir,
    files: plan.files,
    // (a delta's chart or file from its base tar: checked against bundle.yaml's digest)
    sha256: (p) => verified.records.get(p)?.sha256 ?? [...verified.manifest.charts, ...verified.manifest.files].find((x) => x.file === p)?.digest.slice(7),
  });
  // Where helm is at hand: each chart rendered with its values file, naming what still comes from elsewhere.
  const helm = chartValues.length ? findHelm(opts.helm, opts.env) : undefined;
  if (helm) for (const line of await renderCheck(helm, chartsDir, chartValues, target)) opts.log(line);
}

/**
 * The charts directory's index.yaml: the bundle's, unless it names charts this install does not
 * write and the directory lacks (a delta's charts from its base, installed elsewhere): then the
 * bundle's without them, so helm finds every chart the index lists.
 */
async function chartsIndex(source: BundleSource, plan: InstallPlan, chartsDir: string): Promise<{ entry?: TarEntry; text?: string }> {
  if (!plan.indexEntry) return {};
  const absent = new Set(plan.inRegistry.map((c) => basename(c.file)).filter((f) => !existsSync(join(chartsDir, f))));
  if (!absent.size) return { entry: plan.indexEntry };
  const index = parseYaml((await readEntry(source, plan.indexEntry)).toString('utf8')) as { entries?: Record<string, Array<{ urls?: string[] }>> };
  for (const [name, versions] of Object.entries(index.entries ?? {})) {
    const kept = versions.filter((v) => !absent.has(v.urls?.[0] ?? ''));
    if (kept.length) index.entries![name] = kept;
    else delete index.entries![name];
  }
  return { text: stringifyYaml(index, { lineWidth: 0 }) };
}

/** Every target of the plan, for the collision check. */
function plannedTargets(images: ImagePlan[], charts: ChartPlan[]): PlannedTarget[] {
  return [
    ...images.map((i) => ({ what: `image ${i.mapping.original}`, repository: i.mapping.repository, reference: i.mapping.tag ?? i.mapping.digest, digest: i.mapping.digest })),
    ...charts.map((c) => ({ what: `chart ${c.name} ${c.version}`, repository: c.repository, reference: c.tag, digest: c.artifact.manifestDigest })),
  ];
}

/** The runtime mirrors for the registry as the push reached it (its scheme, the CA it was trusted with). */
async function mirrorFiles(opts: InstallOptions, session: PushSession, m: Pick<MirrorSettings, 'target' | 'layout' | 'sources'>): Promise<TextFile[]> {
  if (!m.sources.length) return [];
  const scheme = new URL(session.baseUrl).protocol === 'http:' ? 'http' : 'https';
  const ca = opts.caFile ? await readFile(resolve(opts.cwd, opts.caFile), 'utf8') : undefined;
  return runtimeMirrorFiles({ ...m, scheme, ca, skipVerify: opts.insecure === true });
}

function planImages(target: RegistryTarget, v: VerifyResult, layout: TargetLayout): ImagePlan[] {
  return v.images.map(({ ref, tree }) => {
    const r = parseReference(ref);
    const repository = imageRepository(target, r.registry, r.repository, layout);
    const mapping: ImageMapping = { original: ref, originalRegistry: r.registry, originalRepository: r.repository, registry: target.host, repository, tag: r.tag, digest: tree.root.digest };
    const pushRefs = tree.manifests.map((node) => ({ node, reference: node.descriptor.digest === tree.root.digest && r.tag ? r.tag : node.descriptor.digest }));
    return { mapping, tree, pushRefs };
  });
}

/** Charts to push (from the tar, or a delta's base tar); a delta's other charts must already be in the registry. */
async function planCharts(target: RegistryTarget, v: VerifyResult, fromBase: Map<string, BaseEntry>): Promise<{ charts: ChartPlan[]; inRegistry: Array<BundleManifestView['charts'][number] & { repository: string; tag: string }> }> {
  const out: ChartPlan[] = [];
  const inRegistry = [];
  for (const c of v.manifest!.charts) {
    const rec = v.records.get(c.file);
    const at = rec ? { source: v.source, entry: rec.entry } : fromBase.get(c.file);
    if (!at) {
      inRegistry.push({ ...c, repository: chartRepository(target, c.name), tag: chartTag(c.version) });
      continue;
    }
    const { metadata: chartYaml } = await readChartArchive(entryStream(at.source, at.entry), `${at.source.tarName}: ${c.file}`);
    const tgz: Descriptor = { mediaType: HELM_CHART_MEDIA_TYPE, digest: c.digest, size: c.size };
    out.push({ name: c.name, version: c.version, entry: at.entry, source: at.source, repository: chartRepository(target, c.name), tag: chartTag(c.version), artifact: helmArtifact(chartYaml, tgz), tgz });
  }
  return { charts: out, inRegistry };
}

/** Free bytes on the file system that holds `dir` (or its nearest existing parent). */
async function freeBytes(dir: string): Promise<number | undefined> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      const s = await statfs(d);
      return s.bavail * s.bsize;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(d) === d) return undefined;
    }
  }
}

