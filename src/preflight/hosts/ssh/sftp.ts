// File and directory reads on a node: over one SFTP session (no process per read on the
// node), else `head -c`/`ls` on an exec channel when the node's sshd has no sftp subsystem.
import type { Client as SshClient, SFTPWrapper } from 'ssh2';
import type { ExecResult } from '../../types.ts';
import { shQuote } from '../quote.ts';
import { abortError } from '../abort.ts';

/** Runs a shell command line on the node (the fallback without SFTP). */
type Run = (cmd: string, opts: { signal?: AbortSignal }) => Promise<ExecResult>;

export class SftpFiles {
  readonly #client: SshClient;
  readonly #run: Run;
  /** null: sshd has no sftp subsystem (or the session closed). */
  #sftp: Promise<SFTPWrapper | null> | undefined;

  constructor(client: SshClient, run: Run) {
    this.#client = client;
    this.#run = run;
  }

  #session(): Promise<SFTPWrapper | null> {
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

  /** File contents, at most `max` bytes, read to EOF: /proc and /sys files report size 0. */
  async readFile(path: string, max: number, signal?: AbortSignal): Promise<string | null> {
    const sftp = await this.#session();
    if (!sftp) {
      const r = await this.#run(`head -c ${max} -- ${shQuote(path)}`, { signal });
      // head reads a directory or unreadable file with an error and exit 1: null, as locally.
      return r.code === 0 ? r.stdout : null;
    }
    const handle = await new Promise<Buffer | null>((resolve) => sftp.open(path, 'r', (err, h) => resolve(err ? null : h)));
    if (!handle) return null;
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      while (total < max) {
        if (signal?.aborted) throw abortError(signal);
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

  /** Entry names, sorted; null when the directory cannot be listed. */
  async readDir(path: string, signal?: AbortSignal): Promise<string[] | null> {
    const sftp = await this.#session();
    if (sftp) {
      const list = await new Promise<string[] | null>((resolve) => sftp.readdir(path, (err, l) => resolve(err ? null : l.map((e) => e.filename))));
      return list === null ? null : list.sort();
    }
    const r = await this.#run(`LC_ALL=C ls -1A -- ${shQuote(path)}`, { signal });
    if (r.code !== 0) return null;
    return r.stdout.split('\n').filter(Boolean).sort();
  }
}
