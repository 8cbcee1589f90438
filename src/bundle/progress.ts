// Progress of a bundle run on stderr: a single rewritten status line on a
// terminal (bytes, items, rate), plain log lines otherwise (CI logs).
export interface ProgressSink {
  write(s: string): unknown;
  isTTY?: boolean;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export class Progress {
  readonly #out: ProgressSink;
  readonly #tty: boolean;
  readonly #start = Date.now();
  readonly #totals = new Map<string, number>();
  readonly #done = new Map<string, number>();
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #lineShown = false;

  constructor(out: ProgressSink, opts: { tty?: boolean } = {}) {
    this.#out = out;
    this.#tty = opts.tty ?? !!out.isTTY;
    if (this.#tty) {
      this.#timer = setInterval(() => this.#render(), 250);
      this.#timer.unref();
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  total(kind: string, n: number): void {
    this.#totals.set(kind, n);
  }

  addBytes(n: number): void {
    this.#bytes += n;
  }

  /** One item finished, counted only (no log line). */
  count(kind: string): void {
    this.#done.set(kind, (this.#done.get(kind) ?? 0) + 1);
  }

  /** One item finished: a log line when not a terminal. */
  item(kind: string, message: string): void {
    this.#done.set(kind, (this.#done.get(kind) ?? 0) + 1);
    if (!this.#tty) this.#out.write(`${message}\n`);
  }

  /** A message that always shows (warnings, phases). */
  log(message: string): void {
    this.#clear();
    this.#out.write(`${message}\n`);
  }

  #status(): string {
    const secs = Math.max(0.001, (Date.now() - this.#start) / 1000);
    const items = [...this.#totals].map(([k, t]) => `${k} ${this.#done.get(k) ?? 0}/${t}`).join('  ');
    return `${items}  ${formatBytes(this.#bytes)} downloaded  ${formatBytes(this.#bytes / secs)}/s`;
  }

  #clear(): void {
    if (this.#tty && this.#lineShown) {
      this.#out.write('\r\x1b[2K');
      this.#lineShown = false;
    }
  }

  /** The status line as shown on a terminal. */
  status(): string {
    return this.#status();
  }

  #render(): void {
    this.#out.write(`\r\x1b[2K${this.#status()}`);
    this.#lineShown = true;
  }

  stop(summary?: string): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#clear();
    if (summary) this.#out.write(`${summary}\n`);
  }
}
