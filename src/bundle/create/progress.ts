// Progress of a bundle run on stderr: a single rewritten status line on a
// terminal (items, bytes done of the total, percent, rate, time left), plain log
// lines otherwise (CI logs).
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

/** 4 s, 1 min 05 s, 2 h 03 min. */
export function formatDuration(secs: number): string {
  const s = Math.max(0, Math.round(secs));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * Bytes done of a known total: '120.0 MiB of 231.0 MiB  52 %  24.1 MiB/s  5 s left'.
 * Without a rate yet the time left is '?'; done beyond the total reads as 100 %.
 */
export function formatTransfer(done: number, total: number, bytesPerSec: number, sep = '  '): string {
  const whole = Math.max(total, done);
  const pct = whole > 0 ? Math.floor((done / whole) * 100) : 100;
  const left = bytesPerSec > 0 ? formatDuration((whole - done) / bytesPerSec) : '?';
  return [`${formatBytes(done)} of ${formatBytes(whole)}`, `${pct} %`, `${formatBytes(bytesPerSec)}/s`, `${left} left`].join(sep);
}

/** The rate over the last few seconds (a whole-run average would lag after a slow start). */
export class RateMeter {
  readonly #windowMs: number;
  readonly #samples: { t: number; bytes: number }[] = [];
  #rate = 0;

  constructor(windowMs = 5000) {
    this.#windowMs = windowMs;
  }

  /**
   * Records `bytes` done at time `now` (ms); returns the rate in bytes per second.
   * Called per chunk: samples closer than 100 ms to the last one are not kept.
   */
  sample(bytes: number, now: number): number {
    const s = this.#samples;
    const last = s.at(-1);
    if (last && now - last.t < 100) return this.#rate;
    s.push({ t: now, bytes });
    while (s.length > 2 && now - s[0]!.t > this.#windowMs) s.shift();
    const first = s[0]!;
    const dt = (now - first.t) / 1000;
    this.#rate = dt > 0 ? (bytes - first.bytes) / dt : 0;
    return this.#rate;
  }
}

export class Progress {
  readonly #out: ProgressSink;
  readonly #tty: boolean;
  readonly #start = Date.now();
  readonly #totals = new Map<string, number>();
  readonly #done = new Map<string, number>();
  #bytes = 0;
  #expected = 0;
  #announcedBytes = 0;
  readonly #rate = new RateMeter();
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

  /** Adds `n` (negative: takes away) to the bytes the run expects to transfer in all. */
  expectBytes(n: number): void {
    this.#expected += n;
  }

  /** `announced`: bytes of a download whose size an expectBytes call already counted. */
  addBytes(n: number, announced = false): void {
    this.#bytes += n;
    if (announced) this.#announcedBytes += n;
  }

  /** Bytes done that no expectBytes counted (downloads that did not say their size). */
  get unannouncedBytes(): number {
    return this.#bytes - this.#announcedBytes;
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
    const now = Date.now();
    const rate = this.#rate.sample(this.#bytes, now);
    const items = [...this.#totals].map(([k, t]) => `${k} ${this.#done.get(k) ?? 0}/${t}`).join('  ');
    if (this.#expected > 0) return `${items}  ${formatTransfer(this.#bytes, this.#expected, rate)}`;
    const secs = Math.max(0.001, (now - this.#start) / 1000);
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
