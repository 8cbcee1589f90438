// Shared by the hardening tests and bench (faults, crash, secrets): a real
// registry seeded with small test images, the CLI run as a child that can be
// killed at a chosen moment, what a registry's storage holds, and a tiny tmpfs.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createLayout, singlePlatformImage, pushImage, type Layout } from './images.ts';
import { startRegistry, type RegistryOptions, type TestRegistry } from './registry.ts';
import { ensureBinary, ROOT } from './run-binary.ts';
import { freePort, startProcess, waitForPort, type Server } from './process.ts';
import { createNamespace, type Namespace } from './netns.ts';
import type { Pki } from './pki.ts';

export interface SeededImage {
  /** repository path and tag in the source registry, e.g. 'hard/app-0:1.0' */
  repoTag: string;
  repository: string;
  digest: string;
}

export interface SourceRegistry {
  registry: TestRegistry;
  layout: Layout;
  images: SeededImage[];
  /** every blob digest the images hold (layers and configs), shared ones once */
  blobs: string[];
  stop(): Promise<void>;
}

/**
 * Starts a registry and pushes `count` single-platform images into it, each
 * with its own layers of `layerSizes` bytes plus one layer all images share.
 */
export async function seededRegistry(opts: { count: number; layerSizes: number[]; sharedLayerSize?: number; registry?: RegistryOptions; prefix?: string }): Promise<SourceRegistry> {
  const registry = await startRegistry(opts.registry);
  const layout = createLayout();
  try {
    const shared = await layout.addLayer(opts.sharedLayerSize ?? 32 * 1024);
    const images: SeededImage[] = [];
    for (let i = 0; i < opts.count; i++) {
      const name = `img-${i}`;
      await singlePlatformImage(layout, name, { platform: 'linux/amd64', layerSizes: opts.layerSizes, sharedLayers: [shared] });
      const repository = `${opts.prefix ?? 'hard'}/app-${i}`;
      const repoTag = `${repository}:1.${i}`;
      const digest = await pushImage(layout, name, registry, repoTag);
      images.push({ repoTag, repository, digest });
    }
    const blobs = readdirSync(join(layout.dir, 'blobs', 'sha256')).map((h) => `sha256:${h}`);
    return {
      registry,
      layout,
      images,
      blobs,
      async stop() {
        await registry.stop();
        layout.cleanup();
      },
    };
  } catch (err) {
    await registry.stop();
    layout.cleanup();
    throw err;
  }
}

/** Writes a BundleSpec listing `refs` (and optional registries[] settings); returns its path. */
export function writeSpec(dir: string, refs: string[], extra: Record<string, unknown> = {}, name = 'spec.yaml'): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'astrago.io/v1',
      kind: 'BundleSpec',
      metadata: { name: 'hardening', version: '0.0.1' },
      platforms: ['linux/amd64'],
      images: refs,
      ...extra,
    }),
  );
  return file;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** true when the run was killed by the `killAfterMs` timer */
  killed: boolean;
}

/**
 * Runs the built binary (the CLI as a user runs it). With killAfterMs it is
 * sent SIGKILL after that many milliseconds, unless it ended first.
 */
export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; killAfterMs?: number; timeoutMs?: number } = {}): Promise<CliRun> {
  // AC_CLI_FROM_SOURCE=1 runs src/cli/main.ts instead (while developing, between builds).
  const [cmd, argv] = process.env.AC_CLI_FROM_SOURCE ? [process.execPath, [join(ROOT, 'src', 'cli', 'main.ts'), ...args]] : [ensureBinary(), args];
  const env = opts.env ?? { PATH: process.env.PATH, HOME: process.env.HOME };
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: opts.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = opts.killAfterMs !== undefined ? setTimeout(() => {
      killed = child.exitCode === null && child.signalCode === null;
      child.kill('SIGKILL');
    }, opts.killAfterMs) : undefined;
    // A hard ceiling: a hung CLI fails the test instead of hanging the suite.
    const ceiling = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      clearTimeout(ceiling);
      resolve({ code, signal, stdout, stderr, killed: killed && signal === 'SIGKILL' });
    });
  });
}

/** Blob digests linked into `repository` in a registry's storage (what a HEAD would find there). */
export function repositoryBlobs(registry: TestRegistry, repository: string): Set<string> {
  const dir = join(registry.dir, 'data', 'docker', 'registry', 'v2', 'repositories', repository, '_layers', 'sha256');
  if (!existsSync(dir)) return new Set();
  return new Set(readdirSync(dir).filter((h) => existsSync(join(dir, h, 'link'))).map((h) => `sha256:${h}`));
}

/** The manifest digest tag `tag` of `repository` points at in a registry's storage, if any. */
export function storedTag(registry: TestRegistry, repository: string, tag: string): string | undefined {
  const link = join(registry.dir, 'data', 'docker', 'registry', 'v2', 'repositories', repository, '_manifests', 'tags', tag, 'current', 'link');
  return existsSync(link) ? readFileSync(link, 'utf8').trim() : undefined;
}

/** Files whose names end in `suffix` anywhere below `dir` (or every file when suffix is ''). */
export function filesBelow(dir: string, suffix = ''): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(suffix)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

export interface Tmpfs {
  dir: string;
  unmount(): void;
}

/** A tmpfs of `size` (e.g. '2m') mounted on a fresh directory: a disk that fills up. */
export function mountTmpfs(size: string): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'ac-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    dir,
    unmount() {
      try {
        execFileSync('umount', ['-l', dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A scratch directory for one test file. */
export function scratchDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `ac-${tag}-`));
}

export interface TestHttpProxy {
  port: number;
  stop(): Promise<void>;
}

/** tinyproxy on loopback; with `auth` it demands Basic proxy credentials. CONNECT allowed to `connectPorts`. */
export async function startTinyproxy(opts: { auth?: { user: string; password: string }; connectPorts?: number[] } = {}): Promise<TestHttpProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'ac-tp-'));
  const port = await freePort();
  const lines = [`Port ${port}`, 'Listen 127.0.0.1', 'Timeout 30', 'LogLevel Error', 'MaxClients 50', `PidFile "${join(dir, 'tp.pid')}"`];
  for (const p of opts.connectPorts ?? [443]) lines.push(`ConnectPort ${p}`);
  if (opts.auth) lines.push(`BasicAuth ${opts.auth.user} ${opts.auth.password}`);
  const conf = join(dir, 'tinyproxy.conf');
  writeFileSync(conf, lines.join('\n') + '\n');
  const proc = startProcess(['tinyproxy', '-d', '-c', conf]);
  try {
    await waitForPort('127.0.0.1', port, 10_000, proc.child);
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  }
  return {
    port,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface NamespacedRegistry {
  ns: Namespace;
  /** 10.203.x.2:5000 — reachable from the host through the veth only, never loopback */
  host: string;
  username: string;
  password: string;
  stop(): Promise<void>;
}

/**
 * A TLS + htpasswd distribution registry inside a fresh network namespace
 * (bundle namespace subnet 10.203.0.0/16), so clients treat it as a remote host:
 * proxies apply, plain HTTP does not.
 */
export async function startNamespacedRegistry(pki: Pki, opts: { subnet: string; name: string; username: string; password: string }): Promise<NamespacedRegistry> {
  const ns = createNamespace(opts.name, opts.subnet);
  const dir = mkdtempSync(join(tmpdir(), 'ac-nsreg-'));
  let proc: Server | undefined;
  try {
    const host = `${ns.address}:5000`;
    const cert = pki.issue(`nsreg-${opts.name}`, { san: `IP:${ns.address}` });
    const hp = join(dir, 'htpasswd');
    writeFileSync(hp, execFileSync('htpasswd', ['-Bbn', opts.username, opts.password], { encoding: 'utf8' }));
    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log: {level: error, accesslog: {disabled: true}}',
        'storage:',
        `  filesystem: {rootdirectory: ${join(dir, 'data')}}`,
        'http:',
        `  addr: ${host}`,
        `  tls: {certificate: ${cert.cert}, key: ${cert.key}}`,
        'auth:',
        `  htpasswd: {realm: ns-registry, path: ${hp}}`,
      ].join('\n') + '\n',
    );
    proc = startProcess([...ns.exec, 'docker-registry', 'serve', config]);
    await waitForPort(ns.address, 5000, 10_000, proc.child);
  } catch (err) {
    await proc?.stop();
    ns.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ns,
    host: `${ns.address}:5000`,
    username: opts.username,
    password: opts.password,
    async stop() {
      await proc?.stop();
      ns.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
