// Test images without docker: OCI image layouts written here, pushed with skopeo.
//
//   const lay = createLayout();                              // empty OCI layout in a temp dir
//   const shared = await lay.addLayer(5 << 20);              // random-data tar+gzip layer, ~5 MB (a Descriptor)
//   const amd = await lay.addImage({ platform: 'linux/amd64', layers: [shared, await lay.addLayer(1 << 20)] });
//   const arm = await lay.addImage({ platform: 'linux/arm64', layers: [shared] });
//   const idx = lay.addIndex([amd, arm]);                    // multi-platform OCI index
//   lay.tag('multi', idx);                                   // index.json entry with org.opencontainers.image.ref.name
//   const digest = await pushImage(lay, 'multi', reg, 'team/app:1.0');   // skopeo copy --all; returns the digest in the registry
//   lay.cleanup();
//
// Shortcuts: singlePlatformImage(lay, name, {platform, layerSizes, sharedLayers}) and
// multiPlatformImage(lay, name, {platforms, layerSizes, sharedLayers}) add + tag in one call.
// pushImage(..., {format: 'v2s2'}) converts to Docker schema 2 media types (the digest then
// differs from the layout's, so use the returned one).
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { TarWriter } from '../../src/archive/tar-writer.ts';
import type { TestRegistry } from './registry.ts';

const execFileP = promisify(execFile);

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
  /** uncompressed digest, for layers */
  diffId?: string;
}

export interface Layout {
  dir: string;
  addLayer(size: number): Promise<Descriptor>;
  addImage(opts: { platform?: string; layers: Descriptor[] }): Promise<Descriptor>;
  addIndex(manifests: Descriptor[]): Descriptor;
  /** Adds a raw blob (e.g. a Helm chart config or content) and returns its descriptor. */
  addBlob(data: Buffer, mediaType: string): Descriptor;
  tag(name: string, desc: Descriptor): void;
  cleanup(): void;
}

function parsePlatform(p: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = p.split('/');
  return variant ? { os: os!, architecture: architecture!, variant } : { os: os!, architecture: architecture! };
}

export function createLayout(dir = mkdtempSync(join(tmpdir(), 'ac-img-'))): Layout {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const tags: Descriptor[] = [];
  const writeIndex = () => writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: tags }));
  writeIndex();
  let n = 0;

  const addBlob = (data: Buffer, mediaType: string): Descriptor => {
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(blobs, hex), data);
    return { mediaType, digest: `sha256:${hex}`, size: data.length };
  };

  return {
    dir,
    addBlob,
    async addLayer(size) {
      // A tar holding one file of random bytes, gzipped (level 1: random data does not shrink).
      const tmp = join(dir, `layer-${n++}.tmp`);
      const gz = createGzip({ level: 1 });
      const compressed = createHash('sha256');
      let csize = 0;
      const hasher = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          compressed.update(chunk);
          csize += chunk.length;
          cb(null, chunk);
        },
      });
      const done = pipeline(gz, hasher, createWriteStream(tmp));
      const tar = new TarWriter(gz);
      async function* random(): AsyncGenerator<Buffer> {
        for (let left = size; left > 0; left -= 1 << 20) yield randomBytes(Math.min(left, 1 << 20));
      }
      await tar.addFile(`data/blob-${randomBytes(4).toString('hex')}`, size, random());
      const diff = await tar.finish();
      gz.end();
      await done;
      const hex = compressed.digest('hex');
      renameSync(tmp, join(blobs, hex));
      return { mediaType: OCI_LAYER_GZIP, digest: `sha256:${hex}`, size: csize, diffId: `sha256:${diff}` };
    },
    async addImage(opts) {
      const platform = parsePlatform(opts.platform ?? 'linux/amd64');
      const config = {
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        config: { Cmd: ['/bin/true'], Labels: { 'test.nonce': randomBytes(6).toString('hex') } },
        rootfs: { type: 'layers', diff_ids: opts.layers.map((l) => l.diffId ?? l.digest) },
      };
      const cfg = addBlob(Buffer.from(JSON.stringify(config)), OCI_CONFIG);
      const manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: cfg,
        layers: opts.layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      };
      const desc = addBlob(Buffer.from(JSON.stringify(manifest)), OCI_MANIFEST);
      return { ...desc, platform };
    },
    addIndex(manifests) {
      const index = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: manifests.map(({ mediaType, digest, size, platform }) => ({ mediaType, digest, size, platform })),
      };
      return addBlob(Buffer.from(JSON.stringify(index)), OCI_INDEX);
    },
    tag(name, desc) {
      const { mediaType, digest, size } = desc;
      tags.push({ mediaType, digest, size, annotations: { 'org.opencontainers.image.ref.name': name } });
      writeIndex();
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ImageOpts {
  /** sizes in bytes of layers made fresh for this image */
  layerSizes?: number[];
  /** layers (from lay.addLayer) that other images also use; put first */
  sharedLayers?: Descriptor[];
}

export async function singlePlatformImage(lay: Layout, name: string, opts: ImageOpts & { platform?: string } = {}): Promise<Descriptor> {
  const own = [];
  for (const s of opts.layerSizes ?? [64 * 1024]) own.push(await lay.addLayer(s));
  const img = await lay.addImage({ platform: opts.platform, layers: [...(opts.sharedLayers ?? []), ...own] });
  lay.tag(name, img);
  return img;
}

export async function multiPlatformImage(lay: Layout, name: string, opts: ImageOpts & { platforms?: string[] } = {}): Promise<{ index: Descriptor; manifests: Descriptor[] }> {
  const manifests = [];
  for (const p of opts.platforms ?? ['linux/amd64', 'linux/arm64']) {
    const own = [];
    for (const s of opts.layerSizes ?? [64 * 1024]) own.push(await lay.addLayer(s));
    manifests.push(await lay.addImage({ platform: p, layers: [...(opts.sharedLayers ?? []), ...own] }));
  }
  const index = lay.addIndex(manifests);
  lay.tag(name, index);
  return { index, manifests };
}

/**
 * Runs skopeo without blocking the event loop (a token issuer or proxy in this
 * same process must keep answering); rejects with its stderr.
 */
export async function skopeo(args: string[]): Promise<Buffer> {
  try {
    const { stdout } = await execFileP('skopeo', args, { encoding: 'buffer', maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    const shown = args.map((a, i) => (/-creds$/.test(args[i - 1] ?? '') ? '***' : a));
    throw new Error(`skopeo ${shown.join(' ')}: ${e.stderr?.toString() || e.message}`);
  }
}

function tlsArgs(reg: Pick<TestRegistry, 'username' | 'password'>, dir: 'src' | 'dest'): string[] {
  const args = [`--${dir}-tls-verify=false`];
  if (reg.username) args.push(`--${dir}-creds`, `${reg.username}:${reg.password}`);
  return args;
}

/**
 * Pushes layout image `name` to `reg` as `repoTag` (e.g. 'team/app:1.0') with all its
 * platforms; returns the manifest (or index) digest the registry holds.
 */
export async function pushImage(lay: Layout | string, name: string, reg: Pick<TestRegistry, 'host' | 'username' | 'password'>, repoTag: string, opts: { format?: 'oci' | 'v2s2' } = {}): Promise<string> {
  const dir = typeof lay === 'string' ? lay : lay.dir;
  const dest = `docker://${reg.host}/${repoTag}`;
  const fmt = opts.format === 'v2s2' ? ['--format', 'v2s2'] : [];
  await skopeo(['copy', '--quiet', '--all', ...fmt, ...tlsArgs(reg, 'dest'), `oci:${dir}:${name}`, dest]);
  return await registryDigest(reg, repoTag);
}

/** The digest of the manifest (or index) `repoTag` as the registry serves it. */
export async function registryDigest(reg: Pick<TestRegistry, 'host' | 'username' | 'password'>, repoTag: string): Promise<string> {
  const raw = await skopeo(['inspect', '--raw', ...tlsArgs(reg, 'src').map((a) => a.replace('--src-', '--')), `docker://${reg.host}/${repoTag}`]);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** Reads a blob of a layout by digest. */
export function readBlob(dir: string, digest: string): Buffer {
  return readFileSync(join(dir, 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
}
