// The Host for a node reached over SSH (ssh2): ONE connection per node, reused by
// every probe. Commands run as exec channels (exec.ts, at most MAX_SESSIONS at once),
// files and directories are read over one SFTP session (sftp.ts), statFs with `stat -f`
// + the node's mountinfo, and connectTcp opens a direct-tcpip channel so TCP/TLS/HTTP
// probes start on the node itself; where sshd forbids forwarding, tcpProbe falls back to
// a shell probe (forwarding.ts). Facts declared up front are read in one batch first
// (prefetch.ts). Nothing is installed or written on the node. Connecting: connect.ts.
import type { Duplex } from 'node:stream';
import type { Client as SshClient } from 'ssh2';
import type { ExecOptions, ExecResult, FsStats, Gather, Host, TcpProbeResult } from '../../types.ts';
import type { BatchCache } from '../batch-cache.ts';
import { statFsScript } from '../batch.ts';
import { fsTypeFromMagic, mountFor, parseMountinfo } from '../mountinfo.ts';
import { shQuote } from '../quote.ts';
import { abortError } from '../abort.ts';
import { clockCommand, readClock, type ClockReading } from './clock.ts';
import { ExecChannels, MAX_OUTPUT, type RunOptions } from './exec.ts';
import { NodeUnreachableError, type SshConnectFacts } from './facts.ts';
import { ForwardingDeniedError, forwardTcp, shellTcpProbe, type Forwarding } from './forwarding.ts';
import { fromBatch, startBatch } from './prefetch.ts';
import { SftpFiles } from './sftp.ts';
import { classifyTcpError } from './tcp-error.ts';
import { runSweep, sweepCommand, type SweepResult, type SweepTarget } from './tcp-sweep.ts';

export class SshHost implements Host {
  readonly kind = 'ssh' as const;
  readonly name: string;
  readonly address: string;
  readonly connectFacts: SshConnectFacts;
  /** 'denied' once a direct-tcpip open was refused by sshd: tcpProbe then uses the shell. */
  forwarding: Forwarding = 'unknown';
  readonly #client: SshClient;
  readonly #sudo: boolean;
  readonly #batchReads: boolean;
  readonly #channels: ExecChannels;
  readonly #files: SftpFiles;
  #uid: Promise<number> | undefined;
  /** Facts read in one batch by prefetch(); consulted before asking the node again. */
  #batch: BatchCache | undefined;
  #closed = false;

  constructor(name: string, address: string, facts: SshConnectFacts, client: SshClient, sudo: boolean, batchReads = true) {
    this.#batchReads = batchReads;
    this.name = name;
    this.address = address;
    this.connectFacts = facts;
    this.#client = client;
    this.#sudo = sudo;
    this.#channels = new ExecChannels(name, client);
    this.#files = new SftpFiles(client, (cmd, o) => this.#run(cmd, o));
    client.on('error', () => {}); // late errors surface through the operations
  }

  #run(cmd: string, opts: RunOptions): Promise<ExecResult> {
    return this.#channels.run(cmd, opts);
  }

  uid(): Promise<number> {
    this.#uid ??= this.#idU();
    return this.#uid;
  }

  #idU(): Promise<number> {
    return this.#run('id -u', {}).then((r) => {
      const n = Number(r.stdout.trim());
      if (r.code !== 0 || !Number.isInteger(n)) throw new Error(`${this.name}: 'id -u' failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
      return n;
    });
  }

  /**
   * Reads the declared facts in one exec channel (prefetch.ts) and keeps the answers for
   * readFile/readDir/exec/statFs/uid. Fire and forget: callers of those methods wait
   * for an answer only when it is part of the batch, and ask the node themselves when the
   * batch did not deliver it.
   */
  prefetch(gather: Gather, opts: { signal?: AbortSignal; timeoutMs: number }): void {
    if (this.#batch || this.#closed || !this.#batchReads) return;
    const cache = startBatch(this.#channels, gather, { ...opts, uid: this.#uid === undefined });
    if (!cache) return;
    this.#batch = cache;
    const uid = cache.uid();
    if (uid) {
      this.#uid = uid.then((n) => n ?? this.#idU());
      this.#uid.catch(() => {}); // perhaps nobody asks any more (connection closed): not unhandled
    }
  }

  #fromBatch<T>(get: (c: BatchCache) => Promise<T | undefined> | undefined, signal?: AbortSignal): Promise<T | undefined> {
    return fromBatch(this.#batch, get, signal);
  }

  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new Error('exec: empty argv');
    const sudo = (opts.sudo ?? this.#sudo) && (await this.uid()) !== 0;
    // The batch ran its commands as the login user, with no input and no extra environment.
    const cached = !sudo && opts.input === undefined && !opts.env ? await this.#fromBatch((c) => c.command(argv), opts.signal) : undefined;
    // LC_ALL=C through env(1): sshd accepts few client env vars, and sudo resets the environment.
    const envWords = Object.entries({ LC_ALL: 'C', ...opts.env }).map(([k, v]) => `${k}=${shQuote(v)}`);
    let cmd = ['env', ...envWords, ...argv.map(shQuote)].join(' ');
    if (sudo) cmd = `sudo -n -- ${cmd}`;
    const r = cached
      ? { code: cached.code, stdout: cached.stdout.subarray(0, MAX_OUTPUT).toString('utf8'), stderr: cached.stderr.subarray(0, MAX_OUTPUT).toString('utf8') }
      : await this.#run(cmd, opts);
    // env(1) says 127 for a missing command: keep the local host's wording.
    if (r.code === 127 && /No such file or directory/.test(r.stderr)) return { ...r, stderr: `${argv[0]}: command not found` };
    return r;
  }

  /** File contents: from the batch, else over SFTP or `head -c` (sftp.ts). */
  async readFile(path: string, opts: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<string | null> {
    const max = opts.maxBytes ?? 16 * 1024 * 1024;
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const cached = await this.#fromBatch((c) => c.file(path), opts.signal);
    if (cached !== undefined) return cached === null ? null : cached.subarray(0, max).toString('utf8');
    return this.#files.readFile(path, max, opts.signal);
  }

  async readDir(path: string, opts: { signal?: AbortSignal } = {}): Promise<string[] | null> {
    const cached = await this.#fromBatch((c) => c.dir(path), opts.signal);
    if (cached !== undefined) return cached;
    return this.#files.readDir(path, opts.signal);
  }

  async statFs(path: string, opts: { signal?: AbortSignal } = {}): Promise<FsStats> {
    // Nearest existing ancestor, its real path, then statfs numbers (%t = magic in hex).
    const cached = await this.#fromBatch((c) => c.statFs(path), opts.signal);
    const r = cached
      ? { code: cached.code, stdout: cached.stdout.toString('utf8'), stderr: cached.stderr.toString('utf8') }
      : await this.#run(statFsScript(path), { signal: opts.signal });
    const [measured, real, nums] = r.stdout.split('\n');
    const f = (nums ?? '').trim().split(/\s+/);
    if (r.code !== 0 || f.length < 6) throw new Error(`${this.name}: stat -f ${path} failed: ${r.stderr.trim() || 'no output'}`);
    const [typeHex, bsize, blocks, bavail, files, ffree] = [parseInt(f[0]!, 16), ...f.slice(1).map(Number)] as number[];
    const mounts = parseMountinfo((await this.readFile('/proc/self/mountinfo', { signal: opts.signal })) ?? '');
    const mount = mountFor(mounts, real || measured!);
    return {
      path,
      measuredPath: measured!,
      mountPoint: mount?.mountPoint,
      fsType: mount?.fsType ?? fsTypeFromMagic(typeHex!),
      totalBytes: blocks! * bsize!,
      freeBytes: bavail! * bsize!,
      totalInodes: files!,
      freeInodes: ffree!,
    };
  }

  /** A direct-tcpip channel: the node itself connects to host:port. */
  connectTcp(host: string, port: number, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<Duplex> {
    return forwardTcp(this.#client, this.name, host, port, opts, (f) => (this.forwarding = f));
  }

  /**
   * Reachability of host:port from the node: a direct-tcpip channel, or, when sshd forbids
   * forwarding, a shell probe on the node (forwarding.ts).
   */
  async tcpProbe(host: string, port: number, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<TcpProbeResult> {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    if (this.forwarding !== 'denied') {
      try {
        const s = await this.connectTcp(host, port, opts);
        s.destroy();
        return { state: 'open', ms: ms(), via: 'ssh-forward' };
      } catch (err) {
        if (!(err instanceof ForwardingDeniedError)) {
          if (err instanceof NodeUnreachableError || opts.signal?.aborted) throw err;
          return { state: classifyTcpError(err as Error), error: (err as Error).message, ms: ms(), via: 'ssh-forward' };
        }
      }
    }
    return shellTcpProbe((cmd, o) => this.#run(cmd, o), host, port, opts, ms);
  }

  /** Many reachability probes dialled by the node itself over one exec channel (ssh/tcp-sweep.ts); null: no bash there. */
  async tcpSweep(targets: SweepTarget[], opts: { signal?: AbortSignal; probeTimeoutMs: number; workers: number }): Promise<SweepResult | null> {
    const { ch } = await this.#channels.session(sweepCommand(opts.workers, shQuote), opts.signal);
    return await runSweep(ch, targets, opts).finally(() => ch.close());
  }

  /** Clock readings over one exec channel (clock.ts). */
  async clockReadings(count: number, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<ClockReading[]> {
    const { ch } = await this.#channels.session(clockCommand, opts.signal);
    try {
      return await readClock(ch, this.name, count, opts);
    } finally {
      ch.end();
      ch.close();
    }
  }

  /** `sudo -n true` as the SSH user: may root-only probes run? */
  async sudoCheck(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<{ uid: number; ok: boolean; detail: string }> {
    const uid = await this.uid();
    if (uid === 0) return { uid, ok: true, detail: 'logged in as root' };
    const r = await this.exec(['sudo', '-n', 'true'], { ...opts, sudo: false });
    if (r.code === 0) return { uid, ok: true, detail: 'sudo -n true succeeded' };
    const err = r.stderr.trim().split('\n')[0] ?? '';
    if (r.code === 127) return { uid, ok: false, detail: 'sudo is not installed' };
    return { uid, ok: false, detail: err || `sudo -n true exited ${r.code}` };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.#client.destroy();
        resolve();
      }, 1000);
      this.#client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.#client.end();
    });
  }
}
