// The Host for the machine the binary runs on: child processes without a
// shell, files through node:fs, TCP through node:net.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { open, readdir, realpath, stat, statfs } from 'node:fs/promises';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import type { ExecOptions, ExecResult, FsStats, Host } from '../types.ts';
import { abortError } from './abort.ts';
import { fsTypeFromMagic, mountFor, parseMountinfo } from './mountinfo.ts';
import { settleOnce } from './settle-once.ts';

/** Output kept per stream: probes read small outputs; a runaway command must not eat memory. */
const MAX_OUTPUT = 4 * 1024 * 1024;

export interface LocalHostOptions {
  /** Node name in reports (default: this machine's hostname). */
  name?: string;
  /** Run every command through `sudo -n` when not root. */
  sudo?: boolean;
}

export function createLocalHost(opts: LocalHostOptions = {}): Host {
  return new LocalHost(opts.name ?? hostname(), opts.sudo ?? false);
}

class LocalHost implements Host {
  readonly kind = 'local' as const;
  readonly name: string;
  readonly #sudo: boolean;
  constructor(name: string, sudo: boolean) {
    this.name = name;
    this.#sudo = sudo;
  }

  async uid(): Promise<number> {
    return process.getuid?.() ?? 0;
  }

  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) return Promise.reject(new Error('exec: empty argv'));
    const full = (opts.sudo ?? this.#sudo) && process.getuid?.() !== 0 ? ['sudo', '-n', ...argv] : argv;
    const { signal, timeoutMs } = opts;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolvePromise, reject) => {
      // LC_ALL=C: probes parse command output, which must not be translated.
      const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', ...opts.env };
      const child = spawn(full[0]!, full.slice(1), { env, stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        if (stdout.length < MAX_OUTPUT) stdout += d;
      });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        if (stderr.length < MAX_OUTPUT) stderr += d;
      });
      const { finish } = settleOnce({
        signal,
        timeoutMs,
        reject,
        // On abort/timeout: kill and settle at once, without waiting for stdio to close
        // (a grandchild holding the pipe must not keep the check waiting).
        kill: () => {
          child.kill('SIGKILL');
          child.stdout!.destroy();
          child.stderr!.destroy();
        },
        onTimeout: () => resolvePromise({ code: null, stdout, stderr: stderr + `\n(killed after ${timeoutMs} ms)` }),
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') finish(() => resolvePromise({ code: 127, stdout: '', stderr: `${full[0]}: command not found` }));
        // execvp reports EACCES when a PATH directory is unreadable to this user (e.g. /root/... as nobody).
        else if (err.code === 'EACCES') finish(() => resolvePromise(onPath(full[0]!, env.PATH) ? { code: 126, stdout: '', stderr: `${full[0]}: permission denied` } : { code: 127, stdout: '', stderr: `${full[0]}: command not found` }));
        else finish(() => reject(err));
      });
      child.on('close', (code) => finish(() => resolvePromise({ code, stdout, stderr })));
      if (opts.input !== undefined) {
        child.stdin!.on('error', () => {}); // the command may exit without reading its input
        child.stdin!.end(opts.input);
      }
    });
  }

  async readFile(path: string, opts: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<string | null> {
    let fh;
    try {
      fh = await open(path, fsConstants.O_RDONLY);
    } catch {
      return null;
    }
    try {
      // Read to EOF in chunks: /proc and /sys files report size 0.
      const max = opts.maxBytes ?? 16 * 1024 * 1024;
      const chunks: Buffer[] = [];
      let total = 0;
      while (total < max) {
        if (opts.signal?.aborted) throw abortError(opts.signal);
        const buf = Buffer.alloc(Math.min(65536, max - total));
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        chunks.push(buf.subarray(0, bytesRead));
        total += bytesRead;
      }
      return Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      return null; // e.g. EISDIR, EIO on some sysfs attributes
    } finally {
      await fh.close();
    }
  }

  async readDir(path: string): Promise<string[] | null> {
    try {
      return (await readdir(path)).sort();
    } catch {
      return null;
    }
  }

  async statFs(path: string): Promise<FsStats> {
    const measured = await nearestExisting(resolve(path));
    const real = await realpath(measured).catch(() => measured);
    const s = await statfs(real);
    const mounts = parseMountinfo((await this.readFile('/proc/self/mountinfo')) ?? '');
    const mount = mountFor(mounts, real);
    return {
      path,
      measuredPath: measured,
      mountPoint: mount?.mountPoint,
      fsType: mount?.fsType ?? fsTypeFromMagic(s.type),
      totalBytes: s.blocks * s.bsize,
      // bavail, not bfree: what a non-root process (containerd, etcd) can actually use.
      freeBytes: s.bavail * s.bsize,
      totalInodes: s.files,
      freeInodes: s.ffree,
    };
  }

  connectTcp(host: string, port: number, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<Duplex> {
    return new Promise((resolvePromise, reject) => {
      if (opts.signal?.aborted) return reject(abortError(opts.signal));
      const sock = connect({ host, port });
      const fail = (err: Error) => {
        cleanup();
        sock.destroy();
        reject(err);
      };
      const onAbort = () => fail(abortError(opts.signal!));
      const timer = setTimeout(() => fail(Object.assign(new Error(`connect ${host}:${port} timed out after ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })), opts.timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        sock.off('error', fail);
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      sock.once('error', fail);
      sock.once('connect', () => {
        cleanup();
        resolvePromise(sock);
      });
    });
  }

  async close(): Promise<void> {}
}

/** True when `cmd` names an existing file, itself or in a PATH directory this user can search. */
function onPath(cmd: string, path: string | undefined): boolean {
  const candidates = cmd.includes('/') ? [cmd] : (path ?? '').split(':').filter(Boolean).map((d) => join(d, cmd));
  return candidates.some((c) => {
    try {
      accessSync(c, fsConstants.F_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The path itself or its closest ancestor that exists (a path a role needs may not exist yet). */
export async function nearestExisting(path: string): Promise<string> {
  let p = path;
  for (;;) {
    try {
      await stat(p);
      return p;
    } catch {
      const up = dirname(p);
      if (up === p) return p;
      p = up;
    }
  }
}
