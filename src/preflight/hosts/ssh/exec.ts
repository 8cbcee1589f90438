// Exec channels on one SSH connection: at most MAX_SESSIONS at once (sshd's MaxSessions),
// each running one shell command line, its output streamed or collected as for the local host.
import { StringDecoder } from 'node:string_decoder';
import type { Client as SshClient, ClientChannel } from 'ssh2';
import type { ExecOptions, ExecResult } from '../../types.ts';
import { abortError } from '../abort.ts';
import { settleOnce } from '../settle-once.ts';
import { NodeUnreachableError } from './facts.ts';
import { Slots } from './slots.ts';

/** Output kept per stream, as for the local host. */
export const MAX_OUTPUT = 4 * 1024 * 1024;
/** Session channels open at once: OpenSSH's MaxSessions defaults to 10 per connection. */
const MAX_SESSIONS = 6; // + 1 SFTP session

export type RunOptions = Pick<ExecOptions, 'signal' | 'timeoutMs' | 'input'>;
export interface OpenChannel {
  ch: ClientChannel;
  exit: { code: number | null; signal?: string };
}

export class ExecChannels {
  readonly #name: string;
  readonly #client: SshClient;
  readonly #slots = new Slots(MAX_SESSIONS);

  constructor(name: string, client: SshClient) {
    this.#name = name;
    this.#client = client;
  }

  /** Runs a shell command line on one exec channel. */
  async run(cmd: string, opts: RunOptions): Promise<ExecResult> {
    let stdout = '';
    let stderr = '';
    // Decoded as a stream: a multi-byte character may straddle two packets.
    const out = new StringDecoder('utf8');
    const err = new StringDecoder('utf8');
    const r = await this.stream(cmd, {
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
  async stream(
    cmd: string,
    opts: RunOptions & { stdout(b: Buffer): void; stderr(b: Buffer): void; tooMuch?(): boolean },
  ): Promise<{ code: number | null; signal?: string; timedOut?: boolean }> {
    const { signal, timeoutMs } = opts;
    const { ch, exit } = await this.session(cmd, signal);
    return await new Promise((resolve, reject) => {
      const kill = () => {
        try {
          ch.signal('KILL'); // honoured by OpenSSH >= 7.9; closing the channel hangs up the rest
        } catch {
          // channel already gone
        }
        ch.close();
      };
      const timedOut = () => resolve({ code: null, timedOut: true });
      const settlement = settleOnce({ signal, timeoutMs, reject, kill, onTimeout: timedOut });
      const { finish } = settlement;
      const check = () => {
        if (opts.tooMuch?.()) {
          kill();
          finish(timedOut);
        }
      };
      ch.on('data', (d: Buffer) => {
        if (settlement.done) return;
        opts.stdout(d);
        check();
      });
      ch.stderr.on('data', (d: Buffer) => {
        if (settlement.done) return;
        opts.stderr(d);
        check();
      });
      ch.on('close', () => finish(() => resolve({ code: exit.code, ...(exit.signal ? { signal: exit.signal } : {}) })));
      ch.on('error', (err: Error) => finish(() => reject(err)));
      if (opts.input !== undefined) ch.end(opts.input);
      else ch.end();
    });
  }

  /** An exec channel within the session limit; its slot is freed when the channel closes. */
  async session(cmd: string, signal?: AbortSignal): Promise<OpenChannel> {
    if (signal?.aborted) throw abortError(signal);
    const release = await this.#slots.take(signal);
    let opened: OpenChannel;
    try {
      opened = await this.#open(cmd, signal);
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
  async #open(cmd: string, signal?: AbortSignal): Promise<OpenChannel> {
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
              const exit: OpenChannel['exit'] = { code: null };
              stream.on('exit', (c: number | null, sig?: string) => {
                exit.code = typeof c === 'number' ? c : null;
                if (exit.code === null && sig) exit.signal = sig;
              });
              resolve({ ch: stream, exit });
            });
          } catch (err) {
            reject(new NodeUnreachableError(this.#name, (err as Error).message));
          }
        });
      } catch (err) {
        if (err instanceof NodeUnreachableError || attempt >= 5 || signal?.aborted || !/open failed|Channel open failure/i.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }
}
