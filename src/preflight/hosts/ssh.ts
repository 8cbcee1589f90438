// The Host for a node reached over SSH (ssh2): ONE connection per node, reused by
// every probe. Commands run as exec channels (at most MAX_SESSIONS at once), files and
// directories are read over one SFTP session (`head -c`/`ls` when sshd has no sftp
// subsystem), statFs with `stat -f` + the node's mountinfo, and connectTcp opens a
// direct-tcpip channel so TCP/TLS/HTTP probes start on the node itself; where sshd
// forbids forwarding, tcpProbe falls back to a shell probe. Nothing is installed or
// written on the node.
//
// Connecting is split in phases (TCP, SSH handshake + host key, authentication) so
// the ssh.* checks can say which one failed; the facts of each phase are kept in
// `SshConnectFacts`, also for a node that never answered (UnreachableHost).
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { userInfo } from 'node:os';
import { isAbsolute, normalize, resolve as resolveFrom } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client as SshClient, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import type { ExecOptions, ExecResult, FsStats, Gather, Host, TcpProbeResult } from '../types.ts';
import { BatchParser, batchEntries, batchScript, statFsScript } from './batch.ts';
import { BatchCache } from './batch-cache.ts';
import { KnownHostsFile, defaultKnownHostsFile, expandHome, fingerprint, keyTypeOf, type KnownKey } from './known-hosts.ts';
import { createLocalHost } from './local.ts';
import { fsTypeFromMagic, mountFor, parseMountinfo } from './mountinfo.ts';
import { shQuote } from './quote.ts';
import { abortError } from './ssh/abort.ts';
import { authMethods, type AuthMethod } from './ssh/auth.ts';
import { Slots } from './ssh/slots.ts';
import { classifyTcpError, describeSocketError } from './ssh/tcp-error.ts';
import { runSweep, sweepCommand, type SweepResult, type SweepTarget } from './ssh/tcp-sweep.ts';
export type { SweepResult, SweepTarget };

const { Client } = ssh2;

/** Output kept per stream, as for the local host. */
const MAX_OUTPUT = 4 * 1024 * 1024;
/** Session channels open at once: OpenSSH's MaxSessions defaults to 10 per connection. */
const MAX_SESSIONS = 6; // + 1 SFTP session
/** A batch read whose output piles up beyond this without a marker is abandoned (runaway command). */
const MAX_BATCH_PENDING = 64 * 1024 * 1024;

export interface SshTarget {
  /** Node name in reports. */
  name: string;
  address: string;
  port?: number;
  user?: string;
  keyFile?: string;
  passphraseEnv?: string;
  passwordEnv?: string;
  passwordFile?: string;
  knownHostsFile?: string;
  sudo?: boolean;
}

export interface SshConnectOptions {
  /** TCP connect + handshake + authentication must finish within this. */
  connectTimeoutMs: number;
  acceptNewHostKeys?: boolean;
  /** false: no batch reads (prefetch does nothing); every fact is asked for on its own. */
  batchReads?: boolean;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Base directory for relative keyFile/passwordFile/knownHostsFile paths (the site file's). */
  baseDir?: string;
  home?: string;
  /** How to reach address:port (default: a TCP connection from here; through jump hosts: ssh/jump.ts). */
  dial?(address: string, port: number, o: { timeoutMs: number; signal?: AbortSignal }): Promise<Duplex>;
}

export type HostKeyStatus = 'known' | 'added' | 'unknown' | 'changed' | 'revoked' | 'unchecked';

/** What the connection attempt found out, phase by phase (no secrets). */
export interface SshConnectFacts {
  address: string;
  port: number;
  user: string;
  tcp: { ok: boolean; ms?: number; state?: 'refused' | 'timeout' | 'unreachable' | 'dns' | 'error'; error?: string };
  handshake: { ok: boolean; ms?: number; serverVersion?: string; error?: string };
  hostKey: {
    status: HostKeyStatus;
    file: string;
    type?: string;
    fingerprint?: string;
    line?: number;
    expected?: KnownKey[];
    error?: string;
  };
  auth: {
    ok: boolean;
    method?: string;
    tried: string[];
    error?: string;
    /** What is wrong with the site's credential references (unset variable, unreadable key), and the fix of each. */
    problems?: { problem: string; fix: string }[];
  };
  durationMs: number;
}

/** Thrown by every operation of a node whose connection failed. */
export class NodeUnreachableError extends Error {
  readonly code = 'ERR_NODE_UNREACHABLE';
  /** `message` replaces the default "node unreachable: NODE (REASON)" (see UnreachableHost.why). */
  constructor(node: string, reason: string, message = `node unreachable: ${node} (${reason})`) {
    super(message);
    this.name = 'NodeUnreachableError';
  }
}

/**
 * Why nothing could be checked on a node, by the phase that failed: not reached at all,
 * no SSH handshake, host key refused, or not logged in. The details (fingerprints, methods
 * tried) belong to ssh.reachable, ssh.hostkey and ssh.auth, not to every unchecked check.
 */
export function notCheckedWhy(f: SshConnectFacts, reason: string): string {
  if (!f.tcp.ok) return `node unreachable (${f.tcp.error ?? reason})`;
  if (['unknown', 'changed', 'revoked'].includes(f.hostKey.status)) return `not logged in: the host key was refused (${f.hostKey.status === 'unknown' ? 'unknown key' : f.hostKey.status}; see ssh.hostkey)`;
  if (!f.handshake.ok && !f.hostKey.type) return `SSH handshake failed (${f.handshake.error ?? reason}; see ssh.reachable)`;
  return 'not logged in: authentication failed (see ssh.auth)';
}

/** connectTcp on a node whose sshd forbids forwarding (AllowTcpForwarding no). */
export class ForwardingDeniedError extends Error {
  readonly code = 'ERR_SSH_FORWARDING_DENIED';
  constructor(node: string, detail: string) {
    super(`${node}: sshd refuses TCP forwarding (${detail}); use host.tcpProbe for reachability`);
    this.name = 'ForwardingDeniedError';
  }
}

export { shQuote, authMethods, classifyTcpError };

/**
 * Connects to a node. Always resolves: `host` is an SshHost when authentication
 * succeeded, otherwise an UnreachableHost whose operations fail at once; `facts`
 * tell what happened in each phase.
 */
export async function connectSsh(t: SshTarget, opts: SshConnectOptions): Promise<SshHost | UnreachableHost> {
  const t0 = performance.now();
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? userInfo().homedir;
  // Normalised, so reports show /site/known_hosts, not /site/./known_hosts.
  const resolvePath = (p: string) => (isAbsolute(p) || !opts.baseDir ? normalize(p) : resolveFrom(opts.baseDir, p));
  const port = t.port ?? 22;
  const user = t.user ?? userInfo().username;
  const khPath = t.knownHostsFile ? resolvePath(expandHome(t.knownHostsFile, home)) : defaultKnownHostsFile(home);
  const facts: SshConnectFacts = {
    address: t.address,
    port,
    user,
    tcp: { ok: false },
    handshake: { ok: false },
    hostKey: { status: 'unchecked', file: khPath },
    auth: { ok: false, tried: [] },
    durationMs: 0,
  };
  const deadline = Date.now() + opts.connectTimeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const done = (reason: string) => {
    facts.durationMs = Math.round(performance.now() - t0);
    return new UnreachableHost(t.name, t.address, facts, reason);
  };

  let kh: KnownHostsFile | undefined;
  try {
    kh = KnownHostsFile.load(khPath);
  } catch (err) {
    // Unreadable (not missing): no key can be verified, and none is recorded over it.
    facts.hostKey.error = `cannot read ${khPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }

  // Phase 1: TCP.
  let sock: Duplex;
  const tTcp = performance.now();
  try {
    // The same TCP dial as probes from this machine use, or the last jump host's channel.
    sock = await (opts.dial ?? ((a, p, o) => createLocalHost().connectTcp(a, p, o)))(t.address, port, { timeoutMs: left(), signal: opts.signal });
    (sock as Socket).setNoDelay?.(true); // many small request/reply packets: Nagle + delayed ACK would add ~40 ms to each
    facts.tcp = { ok: true, ms: Math.round(performance.now() - tTcp) };
  } catch (err) {
    const d = opts.signal?.aborted ? { state: 'timeout' as const, error: 'aborted (overall deadline)' } : describeSocketError(err as NodeJS.ErrnoException);
    facts.tcp = { ok: false, ms: Math.round(performance.now() - tTcp), ...d };
    return done(d.error);
  }

  // Phase 2+3: handshake (host key verified inside it), then authentication.
  const { methods, problems, fixes } = authMethods(t, user, env, home, resolvePath);
  if (fixes.length) facts.auth.problems = fixes;
  const client = new Client();
  const tHs = performance.now();
  let current: AuthMethod | undefined;
  let rejection: string | undefined;
  const result = await new Promise<'ready' | string>((resolve) => {
    let settled = false;
    const settle = (v: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    const timer = setTimeout(() => {
      settle(`no SSH answer within ${opts.connectTimeoutMs} ms (${facts.handshake.ok ? 'authentication' : 'handshake'} did not finish)`);
      client.destroy();
    }, left());
    const onAbort = () => {
      settle('aborted (overall deadline)');
      client.destroy();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    client.on('handshake', () => {
      facts.handshake = { ok: true, ms: Math.round(performance.now() - tHs), serverVersion: (client as unknown as { _remoteVer?: string })._remoteVer };
    });
    client.once('ready', () => settle('ready'));
    client.on('error', (err: Error & { level?: string }) => settle(rejection ?? (err.level === 'client-authentication' ? `authentication failed: ${err.message}` : err.message)));
    client.on('close', () => settle(rejection ?? 'connection closed by the node'));
    const hostVerifier = (key: Buffer, verify: (ok: boolean) => void) => {
      const type = keyTypeOf(key);
      const fp = fingerprint(key);
      facts.hostKey = { ...facts.hostKey, type, fingerprint: fp };
      if (!kh) {
        facts.hostKey = { ...facts.hostKey, status: 'unknown' };
        rejection = `host key of ${t.name} cannot be verified: ${facts.hostKey.error}; refused`;
        return verify(false);
      }
      const v = kh.verify(t.address, port, key);
      if (v.status === 'known') {
        facts.hostKey = { ...facts.hostKey, status: 'known', line: v.line };
        return verify(true);
      }
      if (v.status === 'changed') {
        facts.hostKey = { ...facts.hostKey, status: 'changed', expected: v.expected };
        const exp = v.expected.map((e) => `${e.type} ${e.fingerprint} (${khPath}:${e.line})`).join(', ');
        rejection = `host key CHANGED for ${t.name} (${t.address}:${port}): expected ${exp}, presented ${type} ${fp}; refused`;
        return verify(false);
      }
      if (v.status === 'revoked') {
        facts.hostKey = { ...facts.hostKey, status: 'revoked', line: v.line };
        rejection = `host key of ${t.name} is marked @revoked in ${khPath}:${v.line}; refused`;
        return verify(false);
      }
      if (!opts.acceptNewHostKeys) {
        facts.hostKey = { ...facts.hostKey, status: 'unknown' };
        rejection = `host key of ${t.name} (${t.address}:${port}) is not in ${khPath}: ${type} ${fp}; refused (verify it, then run with --accept-new-host-keys)`;
        return verify(false);
      }
      const file = kh;
      file.add(t.address, port, key).then(
        (line) => {
          facts.hostKey = { ...facts.hostKey, status: 'added', line };
          verify(true);
        },
        (err: Error) => {
          facts.hostKey = { ...facts.hostKey, status: 'unknown', error: err.message };
          rejection = `could not record the host key of ${t.name} in ${khPath}: ${err.message}`;
          verify(false);
        },
      );
    };
    let next = 0;
    const cfg: ConnectConfig = {
      sock,
      username: user,
      readyTimeout: 0, // our own timer covers handshake + auth
      algorithms: { serverHostKey: (kh ?? KnownHostsFile.empty(khPath)).hostKeyAlgorithms(t.address, port) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: hostVerifier as unknown as ConnectConfig['hostVerifier'],
      authHandler: ((_left: unknown, _partial: unknown, cb: (m: unknown) => void) => {
        current = methods[next++];
        if (!current) {
          rejection = `authentication failed for ${user}@${t.address}: ${facts.auth.tried.length ? `the server refused ${facts.auth.tried.join(', ')}` : 'no key, agent or password to try'}${problems.length ? `; ${problems.join('; ')}` : ''}`;
          return cb(false);
        }
        facts.auth.tried.push(current.label);
        const { label: _label, ...m } = current;
        cb(m);
      }) as unknown as ConnectConfig['authHandler'],
    };
    try {
      client.connect(cfg);
    } catch (err) {
      settle((err as Error).message);
    }
  });
  if (result !== 'ready') {
    sock.destroy();
    client.destroy();
    if (facts.handshake.ok && facts.hostKey.status !== 'changed' && facts.hostKey.status !== 'revoked' && facts.hostKey.status !== 'unknown') {
      facts.auth = { ...facts.auth, ok: false, error: result };
    } else if (!facts.handshake.ok && facts.hostKey.status === 'unchecked') {
      facts.handshake = { ...facts.handshake, ok: false, error: result };
    }
    return done(result);
  }
  facts.auth = { ...facts.auth, ok: true, method: current?.type };
  facts.durationMs = Math.round(performance.now() - t0);
  return new SshHost(t.name, t.address, facts, client, t.sudo ?? false, opts.batchReads ?? true);
}

/** A node whose SSH connection failed: every operation fails at once with the reason. */
export class UnreachableHost implements Host {
  readonly kind = 'ssh' as const;
  readonly name: string;
  readonly address: string;
  readonly connectFacts: SshConnectFacts;
  readonly reason: string;
  constructor(name: string, address: string, facts: SshConnectFacts, reason: string) {
    this.name = name;
    this.address = address;
    this.connectFacts = facts;
    this.reason = reason;
  }
  /** One line: why nothing can be checked on this node (see notCheckedWhy). */
  get why(): string {
    return notCheckedWhy(this.connectFacts, this.reason);
  }
  #fail(): Promise<never> {
    return Promise.reject(new NodeUnreachableError(this.name, this.reason, this.why));
  }
  exec(): Promise<ExecResult> {
    return this.#fail();
  }
  readFile(): Promise<string | null> {
    return this.#fail();
  }
  readDir(): Promise<string[] | null> {
    return this.#fail();
  }
  statFs(): Promise<FsStats> {
    return this.#fail();
  }
  connectTcp(): Promise<Duplex> {
    return this.#fail();
  }
  uid(): Promise<number> {
    return this.#fail();
  }
  async close(): Promise<void> {}
}

export class SshHost implements Host {
  readonly kind = 'ssh' as const;
  readonly name: string;
  readonly address: string;
  readonly connectFacts: SshConnectFacts;
  /** 'denied' once a direct-tcpip open was refused by sshd: tcpProbe then uses the shell. */
  forwarding: 'unknown' | 'allowed' | 'denied' = 'unknown';
  readonly #client: SshClient;
  readonly #sudo: boolean;
  readonly #batchReads: boolean;
  readonly #slots = new Slots(MAX_SESSIONS);
  #uid: Promise<number> | undefined;
  /** One SFTP session for file reads (no process per read on the node); null: sshd has none. */
  #sftp: Promise<SFTPWrapper | null> | undefined;
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
    client.on('error', () => {}); // late errors surface through the operations
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
   * Reads the declared facts in one exec channel (batch.ts) and keeps the answers for
   * readFile/readDir/exec/statFs/uid. Fire and forget: callers of those methods wait
   * for an answer only when it is part of the batch, and ask the node themselves when the
   * batch did not deliver it.
   */
  prefetch(gather: Gather, opts: { signal?: AbortSignal; timeoutMs: number }): void {
    if (this.#batch || this.#closed || !this.#batchReads) return;
    const entries = batchEntries(gather, { uid: this.#uid === undefined });
    if (entries.filter((e) => e.kind !== 'uid').length === 0) return;
    const cache = new BatchCache(entries);
    this.#batch = cache;
    const uid = cache.uid();
    if (uid) {
      this.#uid = uid.then((n) => n ?? this.#idU());
      this.#uid.catch(() => {}); // perhaps nobody asks any more (connection closed): not unhandled
    }
    const nonce = randomBytes(16).toString('hex');
    const parser = new BatchParser(nonce, (r) => cache.record(r));
    // bash when the node has it (its builtins spare a process per file), else sh.
    const script = shQuote(batchScript(entries, nonce));
    this.#stream(`S=${script}; command -v bash >/dev/null 2>&1 && exec bash -c "$S"; exec sh -c "$S"`, {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      stdout: (b) => parser.stdout(b),
      stderr: (b) => parser.stderr(b),
      tooMuch: () => parser.pendingBytes > MAX_BATCH_PENDING,
    })
      .catch(() => {}) // a failed batch only means the facts are read one by one
      .finally(() => cache.end());
  }

  /** A batch answer, waited for (abortably); undefined when there is none. */
  async #fromBatch<T>(get: (c: BatchCache) => Promise<T | undefined> | undefined, signal?: AbortSignal): Promise<T | undefined> {
    const p = this.#batch ? get(this.#batch) : undefined;
    if (!p) return undefined;
    if (!signal) return p;
    if (signal.aborted) throw abortError(signal);
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(abortError(signal));
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
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

  /** Runs a shell command line on one exec channel. */
  async #run(cmd: string, opts: Pick<ExecOptions, 'signal' | 'timeoutMs' | 'input'>): Promise<ExecResult> {
    let stdout = '';
    let stderr = '';
    // Decoded as a stream: a multi-byte character may straddle two packets.
    const out = new StringDecoder('utf8');
    const err = new StringDecoder('utf8');
    const r = await this.#stream(cmd, {
      ...opts,
      stdout: (b) => {
        if (stdout.length < MAX_OUTPUT) stdout += out.write(b);
      },
      stderr: (b) => {
        if (stderr.length < MAX_OUTPUT) stderr += err.write(b);
      },
    });
    stdout += out.end();
    stderr += err.end();
    if (r.timedOut) return { code: null, stdout, stderr: stderr + `\n(killed after ${opts.timeoutMs} ms)` };
    return { code: r.code, stdout, stderr: r.signal ? `${stderr}\n(killed by ${r.signal})` : stderr };
  }

  /**
   * Runs a shell command line on one exec channel, handing its output over as it comes.
   * Resolves when the channel closes (or with timedOut once timeoutMs passed or
   * `tooMuch` said so: the command is then killed); rejects when `signal` aborts.
   */
  async #stream(
    cmd: string,
    opts: Pick<ExecOptions, 'signal' | 'timeoutMs' | 'input'> & { stdout(b: Buffer): void; stderr(b: Buffer): void; tooMuch?(): boolean },
  ): Promise<{ code: number | null; signal?: string; timedOut?: boolean }> {
    const { signal, timeoutMs } = opts;
    const { ch, exit } = await this.#session(cmd, signal);
    return await new Promise((resolve, reject) => {
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const kill = () => {
        try {
          ch.signal('KILL'); // honoured by OpenSSH >= 7.9; closing the channel hangs up the rest
        } catch {
          // channel already gone
        }
        ch.close();
      };
      const check = () => {
        if (opts.tooMuch?.()) {
          kill();
          finish(() => resolve({ code: null, timedOut: true }));
        }
      };
      ch.on('data', (d: Buffer) => {
        if (done) return;
        opts.stdout(d);
        check();
      });
      ch.stderr.on('data', (d: Buffer) => {
        if (done) return;
        opts.stderr(d);
        check();
      });
      const onAbort = () => {
        kill();
        finish(() => reject(abortError(signal!)));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = timeoutMs
        ? setTimeout(() => {
            kill();
            finish(() => resolve({ code: null, timedOut: true }));
          }, timeoutMs)
        : undefined;
      ch.on('close', () => finish(() => resolve({ code: exit.code, ...(exit.signal ? { signal: exit.signal } : {}) })));
      ch.on('error', (err: Error) => finish(() => reject(err)));
      if (opts.input !== undefined) ch.end(opts.input);
      else ch.end();
    });
  }

  /** An exec channel within the session limit; its slot is freed when the channel closes. */
  async #session(cmd: string, signal?: AbortSignal): Promise<{ ch: ClientChannel; exit: { code: number | null; signal?: string } }> {
    if (signal?.aborted) throw abortError(signal);
    const release = await this.#slots.take(signal);
    let opened: { ch: ClientChannel; exit: { code: number | null; signal?: string } };
    try {
      opened = await this.#openSession(cmd, signal);
    } catch (err) {
      release();
      throw err;
    }
    // The slot is free again only when sshd has closed the session too (a killed command's
    // channel lingers a moment): releasing earlier would exceed MaxSessions.
    const lingering = setTimeout(release, 5000);
    opened.ch.once('close', () => {
      clearTimeout(lingering);
      release();
    });
    return opened;
  }

  /**
   * Opens an exec channel. sshd refuses a session ("open failed") while it is still
   * tearing down earlier ones at its MaxSessions limit: retried a few times.
   */
  async #openSession(cmd: string, signal?: AbortSignal): Promise<{ ch: ClientChannel; exit: { code: number | null; signal?: string } }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise((resolve, reject) => {
          // A busy sshd may confirm the channel late: the caller's deadline does not wait for it
          // (a channel that opens after all is closed at once).
          const onAbort = () => reject(abortError(signal!));
          signal?.addEventListener('abort', onAbort, { once: true });
          try {
            this.#client.exec(cmd, (err, stream) => {
              signal?.removeEventListener('abort', onAbort);
              if (err) return reject(err);
              if (signal?.aborted) return void stream.close();
              // Listen now: a quick command's exit-status can arrive in the same read as the
              // open confirmation, before an awaiting caller could attach its listener.
              const exit: { code: number | null; signal?: string } = { code: null };
              stream.on('exit', (c: number | null, sig?: string) => {
                exit.code = typeof c === 'number' ? c : null;
                if (exit.code === null && sig) exit.signal = sig;
              });
              resolve({ ch: stream, exit });
            });
          } catch (err) {
            reject(new NodeUnreachableError(this.name, (err as Error).message));
          }
        });
      } catch (err) {
        if (err instanceof NodeUnreachableError || attempt >= 5 || signal?.aborted || !/open failed|Channel open failure/i.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  #sftpSession(): Promise<SFTPWrapper | null> {
    this.#sftp ??= new Promise((resolve) => {
      try {
        this.#client.sftp((err, sftp) => {
          if (err) return resolve(null);
          sftp.on('error', () => {});
          sftp.on('close', () => (this.#sftp = Promise.resolve(null)));
          resolve(sftp);
        });
      } catch {
        resolve(null);
      }
    });
    return this.#sftp;
  }

  /**
   * File contents over SFTP (read to EOF: /proc and /sys files report size 0), else
   * `head -c` on an exec channel when the node's sshd has no sftp subsystem.
   */
  async readFile(path: string, opts: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<string | null> {
    const max = opts.maxBytes ?? 16 * 1024 * 1024;
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const cached = await this.#fromBatch((c) => c.file(path), opts.signal);
    if (cached !== undefined) return cached === null ? null : cached.subarray(0, max).toString('utf8');
    const sftp = await this.#sftpSession();
    if (!sftp) {
      const r = await this.#run(`head -c ${max} -- ${shQuote(path)}`, { signal: opts.signal });
      // head reads a directory or unreadable file with an error and exit 1: null, as locally.
      return r.code === 0 ? r.stdout : null;
    }
    const handle = await new Promise<Buffer | null>((resolve) => sftp.open(path, 'r', (err, h) => resolve(err ? null : h)));
    if (!handle) return null;
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      while (total < max) {
        if (opts.signal?.aborted) throw abortError(opts.signal);
        const buf = Buffer.alloc(Math.min(65536, max - total));
        const n = await new Promise<number | null>((resolve) => sftp.read(handle, buf, 0, buf.length, total, (err, nb) => resolve(err ? null : nb)));
        if (n === null) return null; // e.g. EISDIR: unreadable, as locally
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
        total += n;
      }
      return Buffer.concat(chunks).toString('utf8');
    } finally {
      sftp.close(handle, () => {});
    }
  }

  async readDir(path: string, opts: { signal?: AbortSignal } = {}): Promise<string[] | null> {
    const cached = await this.#fromBatch((c) => c.dir(path), opts.signal);
    if (cached !== undefined) return cached;
    const sftp = await this.#sftpSession();
    if (sftp) {
      const list = await new Promise<string[] | null>((resolve) => sftp.readdir(path, (err, l) => resolve(err ? null : l.map((e) => e.filename))));
      return list === null ? null : list.sort();
    }
    const r = await this.#run(`LC_ALL=C ls -1A -- ${shQuote(path)}`, { signal: opts.signal });
    if (r.code !== 0) return null;
    return r.stdout.split('\n').filter(Boolean).sort();
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
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(abortError(opts.signal));
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        fn();
        return true;
      };
      const onAbort = () => settle(() => reject(abortError(opts.signal!)));
      // A filtered port: sshd's own connect() waits for the kernel's timeout; ours is shorter.
      const timer = setTimeout(
        () => settle(() => reject(Object.assign(new Error(`connect ${host}:${port} from ${this.name} timed out after ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' }))),
        opts.timeoutMs,
      );
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.#client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
          if (err) {
            const reason = (err as Error & { reason?: number }).reason;
            // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (1): AllowTcpForwarding no / PermitOpen.
            if (reason === 1 || /administratively prohibited/i.test(err.message)) {
              this.forwarding = 'denied';
              settle(() => reject(new ForwardingDeniedError(this.name, err.message)));
            } else {
              this.forwarding = 'allowed';
              settle(() => reject(Object.assign(new Error(`${err.message} (${host}:${port} from ${this.name})`), { code: reason === 2 ? 'ECONNREFUSED' : undefined })));
            }
            return;
          }
          this.forwarding = 'allowed';
          if (!settle(() => resolve(ch as unknown as Duplex))) ch.close(); // too late: drop it
        });
      } catch (err) {
        settle(() => reject(new NodeUnreachableError(this.name, (err as Error).message)));
      }
    });
  }

  /**
   * Reachability of host:port from the node: a direct-tcpip channel, or, when sshd forbids
   * forwarding, a shell probe on the node (bash /dev/tcp under timeout(1), else nc -z).
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
    // +1 s: bash (or nc) has to start first on a possibly busy node; only the connect should count.
    const secs = Math.max(0.2, opts.timeoutMs / 1000 + 1).toFixed(1);
    const script =
      `if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then ` +
      `timeout ${secs} bash -c 'exec 3<>"/dev/tcp/$0/$1"' ${shQuote(host)} ${port}; ` +
      `elif command -v nc >/dev/null 2>&1; then nc -z -w ${Math.ceil(Number(secs))} ${shQuote(host)} ${port}; ` +
      `else echo 'neither bash+timeout nor nc on the node' >&2; exit 125; fi`;
    const r = await this.#run(script, { signal: opts.signal, timeoutMs: opts.timeoutMs + 2000 });
    const err = r.stderr.replace(/^.*?: line \d+: /gm, '').trim();
    if (r.code === 0) return { state: 'open', ms: ms(), via: 'ssh-shell' };
    if (r.code === 124 || r.code === null) return { state: 'filtered', error: `no answer within ${opts.timeoutMs} ms`, ms: ms(), via: 'ssh-shell' };
    return { state: r.code === 125 ? 'error' : classifyTcpError(new Error(err || `exit ${r.code}`)), error: err || `exit ${r.code}`, ms: ms(), via: 'ssh-shell' };
  }

  /** Many reachability probes dialled by the node itself over one exec channel (ssh/tcp-sweep.ts); null: no bash there. */
  async tcpSweep(targets: SweepTarget[], opts: { signal?: AbortSignal; probeTimeoutMs: number; workers: number }): Promise<SweepResult | null> {
    const { ch } = await this.#session(sweepCommand(opts.workers, shQuote), opts.signal);
    return await runSweep(ch, targets, opts).finally(() => ch.close());
  }

  /**
   * Clock readings over one exec channel: a shell reads a line, runs `date +%s.%N` (the
   * clock the node's own tools see), reads the next line, and so on.
   */
  async clockReadings(count: number, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<{ sentAt: number; receivedAt: number; text: string }[]> {
    const cmd = `exec env LC_ALL=C sh -c ${shQuote('while IFS= read -r _; do date +%s.%N; done')}`;
    const { signal } = opts;
    const { ch } = await this.#session(cmd, signal);
    const now = () => performance.timeOrigin + performance.now();
    const readings: { sentAt: number; receivedAt: number; text: string }[] = [];
    try {
      return await new Promise((resolve, reject) => {
        let buf = '';
        let sentAt = 0;
        const timer = setTimeout(() => fail(new Error(`no clock reading within ${opts.timeoutMs} ms`)), opts.timeoutMs);
        const onAbort = () => fail(abortError(signal!));
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        };
        const fail = (err: Error) => {
          done();
          reject(err);
        };
        const ask = () => {
          sentAt = now();
          ch.write('\n');
        };
        ch.setEncoding('utf8');
        ch.on('data', (d: string) => {
          const receivedAt = now();
          buf += d;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            readings.push({ sentAt, receivedAt, text: buf.slice(0, nl).trim() });
            buf = buf.slice(nl + 1);
            if (readings.length >= count) {
              done();
              return resolve(readings);
            }
            ask();
          }
        });
        ch.stderr.on('data', () => {});
        ch.on('close', () => fail(new Error(`the clock reader on ${this.name} ended after ${readings.length} readings`)));
        ch.on('error', (err: Error) => fail(err));
        ask();
      });
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
