// What one batch read (batch.ts) found on a node, keyed the way the Host is asked:
// each answer is a promise that settles when its record arrives, or with `undefined`
// ("not known: ask the node yourself") when the batch failed before reaching it.
// No I/O here; the SSH host feeds records in and falls through on `undefined`.
import { commandKey, globMatches, type BatchEntry, type BatchRecord } from './batch.ts';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export interface BatchCommandResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

export class BatchCache {
  readonly #entries: BatchEntry[];
  /** Per entry index: settles with the record, or undefined when it never came. */
  readonly #slots: Deferred<BatchRecord | undefined>[];
  readonly #files = new Map<string, Promise<Buffer | null | undefined>>();
  readonly #dirs = new Map<string, Promise<string[] | null | undefined>>();
  readonly #commands = new Map<string, Promise<BatchCommandResult | undefined>>();
  readonly #statfs = new Map<string, Promise<BatchCommandResult | undefined>>();
  readonly #globs: { pattern: string; done: Promise<unknown> }[] = [];
  /** Files a glob found (a file entry of its own takes precedence). */
  readonly #globbed = new Map<string, Buffer | null>();
  #uid: Promise<number | undefined> | undefined;

  constructor(entries: BatchEntry[]) {
    this.#entries = entries;
    this.#slots = entries.map(() => deferred<BatchRecord | undefined>());
    entries.forEach((e, i) => {
      const rec = this.#slots[i]!.promise;
      switch (e.kind) {
        case 'uid':
          this.#uid = rec.then((r) => {
            const n = r && r.code === 0 ? Number(r.stdout.toString('utf8').trim()) : NaN;
            return Number.isInteger(n) ? n : undefined;
          });
          break;
        case 'file':
          this.#files.set(e.path, rec.then((r) => (r ? (r.code === 0 ? r.stdout : null) : undefined)));
          break;
        case 'dir':
          this.#dirs.set(
            e.path,
            rec.then((r) => (r ? (r.code === 0 ? r.stdout.toString('utf8').split('\n').filter(Boolean).sort() : null) : undefined)),
          );
          break;
        case 'glob':
          this.#globs.push({ pattern: e.pattern, done: rec });
          break;
        case 'command':
          this.#commands.set(commandKey(e.argv), rec.then((r) => (r ? { code: r.code, stdout: r.stdout, stderr: r.stderr } : undefined)));
          break;
        case 'statfs':
          this.#statfs.set(e.path, rec.then((r) => (r ? { code: r.code, stdout: r.stdout, stderr: r.stderr } : undefined)));
          break;
      }
    });
  }

  /** A record from the parser. Glob file records arrive before their glob's closing record. */
  record(r: BatchRecord): void {
    const e = this.#entries[r.idx];
    if (!e) return;
    if (e.kind === 'glob' && r.name !== undefined) {
      if (globMatches(e.pattern, r.name)) this.#globbed.set(r.name, r.code === 0 ? r.stdout : null);
      return;
    }
    this.#slots[r.idx]!.resolve(r);
  }

  /** The batch ended (finished, failed or was killed): whatever did not come is unknown. */
  end(): void {
    for (const s of this.#slots) s.resolve(undefined);
  }

  uid(): Promise<number | undefined> | undefined {
    return this.#uid;
  }

  /** File contents; null: missing or unreadable; undefined: unknown. */
  async file(path: string): Promise<Buffer | null | undefined> {
    const own = this.#files.get(path);
    if (own) return own;
    const globs = this.#globs.filter((g) => globMatches(g.pattern, path));
    if (!globs.length) return undefined;
    await Promise.all(globs.map((g) => g.done));
    // Not found by the glob: not a plain file, or the batch stopped early; ask the node.
    return this.#globbed.get(path) ?? undefined;
  }

  dir(path: string): Promise<string[] | null | undefined> | undefined {
    return this.#dirs.get(path);
  }

  command(argv: string[]): Promise<BatchCommandResult | undefined> | undefined {
    return this.#commands.get(commandKey(argv));
  }

  statFs(path: string): Promise<BatchCommandResult | undefined> | undefined {
    return this.#statfs.get(path);
  }
}
