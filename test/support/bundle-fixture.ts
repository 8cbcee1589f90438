// Bundle tars for verify/install tests.
//
//   rawTar([{ path: '../x', data: 'hi' }, { path: 'l', type: 'SymbolicLink', linkpath: '/etc' }])
//     -> Buffer: a tar with exactly these headers (any type, any path; node-tar's Header
//        encodes them, nothing is normalized), for malicious-archive tests.
//   buildBundle({ out, layout, images, charts, files, mutate, mutateManifest, extra }) -> a valid
//     bundle tar (the format `bundle create` writes; bundle.yaml validates against its schema) with
//     FILE.tar.sha256, and where each entry's data sits (for flipping bytes); see below.
//   makeChart(name, version) -> a small deterministic chart .tgz.
//   maliciousTars(good, dir) -> the good bundle with one hostile entry slipped in (traversal,
//     absolute path, symlink, hard link, device), each with what its refusal must say.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createGzip } from 'node:zlib';
import { Header } from 'tar';
import { stringify as yamlStringify } from 'yaml';
import { TarWriter } from '../../src/archive/tar-writer.ts';

export interface RawEntry {
  path: string;
  /** node-tar type name: File, Directory, SymbolicLink, Link, CharacterDevice, BlockDevice, FIFO */
  type?: string;
  data?: Buffer | string;
  linkpath?: string;
  mode?: number;
  /** write this size in the header instead of the data's length */
  size?: number;
}

const pad = (n: number) => (512 - (n % 512)) % 512;

export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const type = e.type ?? 'File';
    const h = new Header({
      path: e.path,
      type: type as 'File',
      size: e.size ?? (type === 'File' ? data.length : 0),
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
      mtime: new Date(0),
      linkpath: e.linkpath,
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    parts.push(block, data, Buffer.alloc(pad(data.length)));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------
// A valid bundle tar built here from a generated OCI layout (test/support/images.ts),
// in the bundle format of docs/formats.md, for verify/install tests that need not run
// `bundle create`.
//
//   const lay = createLayout(); await singlePlatformImage(lay, 'app', ...);
//   const b = await buildBundle({ out: '/tmp/x/b.tar', layout: lay.dir,
//     images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }],
//     charts: [makeChart('demo', '0.1.0', { image: 'docker.io/library/app:1.0' })],
//     files: [{ name: 'helm', data: Buffer.from('...') }] });
//   b.file, b.sidecar, b.entries (path -> {offset, size}) for corruption tests

export interface FixtureChart {
  name: string;
  version: string;
  tgz: Buffer;
  chartYaml: string;
}

/** A small Helm chart .tgz (Chart.yaml, values.yaml, a template), deterministic. */
export async function makeChart(name: string, version: string, opts: { image?: string; appVersion?: string } = {}): Promise<FixtureChart> {
  const chartYaml = `apiVersion: v2\nname: ${name}\nversion: ${version}\nappVersion: "${opts.appVersion ?? '1.0'}"\ndescription: test chart ${name}\ntype: application\n`;
  const values = opts.image ? `image: ${opts.image}\n` : 'replicas: 1\n';
  const tmpl = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  image: {{ .Values.image | quote }}\n`;
  const out = new PassThrough();
  const gz = createGzip({ level: 9 });
  out.pipe(gz);
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => gz.on('end', r));
  const w = new TarWriter(out);
  for (const [p, t] of [[`${name}/Chart.yaml`, chartYaml], [`${name}/values.yaml`, values], [`${name}/templates/cm.yaml`, tmpl]] as const) {
    await w.addFile(p, Buffer.byteLength(t), Buffer.from(t));
  }
  await w.finish();
  out.end();
  await done;
  return { name, version, tgz: Buffer.concat(chunks), chartYaml };
}

export interface BuiltBundle {
  file: string;
  sidecar: string;
  /** entry path -> where its data sits in the tar */
  entries: Map<string, { offset: number; size: number }>;
  manifest: Record<string, unknown>;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export async function buildBundle(opts: {
  out: string;
  layout: string;
  images: Array<{ ref: string; name: string }>;
  charts?: FixtureChart[];
  files?: Array<{ name: string; data: Buffer }>;
  platforms?: string[];
  /** change the content just before it is written (corruption tests that need consistent sums) */
  mutate?: (content: Map<string, Buffer>) => void;
  /** entries written into the tar (sorted in) but left out of SHA256SUMS */
  extra?: Map<string, Buffer>;
  /** change bundle.yaml before it is written (it stays listed in SHA256SUMS with its new sum) */
  mutateManifest?: (manifest: Record<string, any>) => void;
}): Promise<BuiltBundle> {
  const content = new Map<string, Buffer>();
  const layoutIndex = JSON.parse(readFileSync(join(opts.layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType: string; size: number; annotations?: Record<string, string> }> };
  const byName = new Map(layoutIndex.manifests.map((m) => [m.annotations?.['org.opencontainers.image.ref.name'] ?? '', m]));
  const rootDescs: unknown[] = [];
  const blobs = new Set<string>();
  const images: Array<Record<string, unknown>> = [];
  const rootBlobs = new Map<string, string>();
  const collect = (digest: string) => {
    if (blobs.has(digest)) return;
    blobs.add(digest);
    const data = readFileSync(join(opts.layout, 'blobs', 'sha256', digest.slice(7)));
    const text = data.subarray(0, 1).toString() === '{' ? data.toString('utf8') : '';
    if (!text) return;
    try {
      const j = JSON.parse(text) as { mediaType?: string; manifests?: Array<{ digest: string }>; config?: { digest?: string }; layers?: Array<{ digest: string }> };
      if (!/manifest|index/.test(j.mediaType ?? '')) return; // an image config
      for (const m of j.manifests ?? []) collect(m.digest);
      if (j.config?.digest) collect(j.config.digest);
      for (const l of j.layers ?? []) collect(l.digest);
    } catch {
      /* a config or other JSON blob */
    }
  };
  for (const img of opts.images) {
    const d = byName.get(img.name);
    if (!d) throw new Error(`layout has no image named ${img.name}`);
    collect(d.digest);
    rootDescs.push({ mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: { 'org.opencontainers.image.ref.name': img.ref } });
    const at = img.ref.indexOf('@');
    const noDigest = at === -1 ? img.ref : img.ref.slice(0, at);
    const colon = noDigest.lastIndexOf(':');
    const tagged = colon > noDigest.lastIndexOf('/');
    images.push({
      ref: img.ref,
      repository: tagged ? noDigest.slice(0, colon) : noDigest,
      ...(tagged ? { tag: noDigest.slice(colon + 1) } : {}),
      digest: d.digest,
      mediaType: d.mediaType,
      platforms: opts.platforms ?? ['linux/amd64'],
      size: 0, // filled in below
    });
    rootBlobs.set(img.ref, d.digest);
  }
  const imageSize = (root: string): number => {
    const seen = new Set<string>();
    const walk = (d: string) => {
      if (seen.has(d)) return;
      seen.add(d);
      const data = readFileSync(join(opts.layout, 'blobs', 'sha256', d.slice(7)));
      if (data[0] !== 0x7b) return;
      try {
        const j = JSON.parse(data.toString('utf8')) as { mediaType?: string; manifests?: Array<{ digest: string }>; config?: { digest?: string }; layers?: Array<{ digest: string }> };
        if (!/manifest|index/.test(j.mediaType ?? '')) return;
        for (const m of j.manifests ?? []) walk(m.digest);
        if (j.config?.digest) walk(j.config.digest);
        for (const l of j.layers ?? []) walk(l.digest);
      } catch {
        /* not JSON */
      }
    };
    walk(root);
    return [...seen].reduce((n, d) => n + statSync(join(opts.layout, 'blobs', 'sha256', d.slice(7))).size, 0);
  };
  for (const digest of blobs) content.set(`images/blobs/sha256/${digest.slice(7)}`, readFileSync(join(opts.layout, 'blobs', 'sha256', digest.slice(7))));
  content.set('images/oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  content.set('images/index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: rootDescs })));
  const charts = (opts.charts ?? []).map((c) => {
    const file = `charts/${c.name}-${c.version}.tgz`;
    content.set(file, c.tgz);
    return { name: c.name, version: c.version, file, digest: `sha256:${sha(c.tgz)}`, size: c.tgz.length, source: `fixture://${c.name}`, images: [] };
  });
  if (charts.length) {
    const entries: Record<string, unknown[]> = {};
    for (const c of charts) entries[c.name] = [{ apiVersion: 'v2', name: c.name, version: c.version, digest: c.digest.slice(7), urls: [`${c.name}-${c.version}.tgz`], created: '1970-01-01T00:00:00Z' }];
    content.set('charts/index.yaml', Buffer.from(yamlStringify({ apiVersion: 'v1', entries, generated: '1970-01-01T00:00:00Z' })));
  }
  const files = (opts.files ?? []).map((f) => {
    const file = `files/${f.name}`;
    content.set(file, f.data);
    return { name: f.name, file, digest: `sha256:${sha(f.data)}`, size: f.data.length, url: `https://files.example/${f.name}` };
  });
  const manifest = {
    apiVersion: 'astrago.io/v1',
    kind: 'BundleManifest',
    metadata: { name: 'fixture', version: '0.0.1', createdBy: 'astrago-check test-fixture' },
    tool: { name: 'astrago-check', version: 'test-fixture' },
    platforms: opts.platforms ?? ['linux/amd64'],
    charts,
    images,
    files,
    blobs: { count: blobs.size, size: [...blobs].reduce((n, d) => n + content.get(`images/blobs/sha256/${d.slice(7)}`)!.length, 0) },
    warnings: [],
    spec: {
      apiVersion: 'astrago.io/v1',
      kind: 'BundleSpec',
      metadata: { name: 'fixture', version: '0.0.1' },
      platforms: opts.platforms ?? ['linux/amd64'],
      charts: (opts.charts ?? []).map((c) => ({ name: c.name, version: c.version, repo: 'https://charts.example/' })),
      images: opts.images.map((i) => i.ref),
      imageLists: [],
      files: (opts.files ?? []).map((f) => ({ name: f.name, url: `https://files.example/${f.name}`, sha256: sha(f.data) })),
      registries: [],
    },
  };
  for (const img of images) img.size = imageSize(rootBlobs.get(img.ref as string)!);
  opts.mutateManifest?.(manifest);
  opts.mutate?.(content);
  const manifestBytes = Buffer.from(yamlStringify(manifest));
  const summed = [...content.keys()].sort();
  // SHA256SUMS covers every other file, bundle.yaml included.
  const sums = [`${sha(manifestBytes)}  bundle.yaml\n`, ...summed.map((p) => `${sha(content.get(p)!)}  ${p}\n`)].join('');
  for (const [p, d] of opts.extra ?? []) content.set(p, d);
  const paths = [...content.keys()].sort();
  const ordered: Array<[string, Buffer]> = [['bundle.yaml', manifestBytes], ['SHA256SUMS', Buffer.from(sums)], ...paths.map((p) => [p, content.get(p)!] as [string, Buffer])];

  mkdirSync(dirname(opts.out), { recursive: true });
  const out = createWriteStream(opts.out);
  const w = new TarWriter(out);
  const entries = new Map<string, { offset: number; size: number }>();
  for (const [p, data] of ordered) {
    entries.set(p, { offset: w.bytesWritten + 512, size: data.length });
    await w.addFile(p, data.length, data);
  }
  const hex = await w.finish();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  writeFileSync(`${opts.out}.sha256`, `${hex}  ${basename(opts.out)}\n`);
  return { file: opts.out, sidecar: `${opts.out}.sha256`, entries, manifest };
}

/**
 * Malicious variants of a good bundle: its entries with one bad entry slipped in
 * after the third, each written to DIR; [case name, tar file, what the refusal says].
 */
export function maliciousTars(good: BuiltBundle, dir: string): Array<[string, string, RegExp]> {
  const buf = readFileSync(good.file);
  const base: RawEntry[] = [...good.entries].map(([path, { offset, size }]) => ({ path, data: buf.subarray(offset, offset + size) }));
  const cases: Array<[string, RawEntry, RegExp]> = [
    ['path traversal', { path: '../x', data: 'owned' }, /'\.\.\/x'|\.\.\/x.*'\.\.' component/],
    ['deep traversal', { path: 'files/../../etc/cron.d/x', data: 'owned' }, /'\.\.' component/],
    ['absolute path', { path: '/etc/x', data: 'owned' }, /\/etc\/x.*absolute path refused/],
    ['symlink escape', { path: 'files/link', type: 'SymbolicLink', linkpath: '/etc' }, /files\/link.*symbolic link to '\/etc' refused/],
    ['hardlink escape', { path: 'files/passwd', type: 'Link', linkpath: '/etc/passwd' }, /files\/passwd.*hard link to '\/etc\/passwd' refused/],
    ['device entry', { path: 'files/sda', type: 'BlockDevice' }, /files\/sda.*block device refused/],
  ];
  return cases.map(([name, bad, re]) => {
    const f = join(dir, `mal-${name.replace(/\W/g, '-')}.tar`);
    writeFileSync(f, rawTar([...base.slice(0, 3), bad, ...base.slice(3)]));
    return [name, f, re];
  });
}

