// Head-first pacing of parallel blob downloads (bundle create).
//
// The tar's sha256 is computed by a worker that follows the tar's complete
// prefix (follow-hash.ts), so it can only hash a blob once every blob before
// it in the tar is complete. When several blobs download at once and share
// the bandwidth, they all finish together at the end, and the worker then
// hashes most of the bundle after the last byte arrived (on the bench, about
// 0.07 s per 100 MB, a tail nothing else overlaps).
//
// When the network is the limit (a registry across the internet), parallel
// connections are what makes the download fast, and the tail is small beside
// it. When this process's main thread is the limit (a registry on the LAN or
// loopback: event-loop utilisation near 1), parallel reads only interleave:
// they add no throughput, and they push the whole tar hash to the end. Then
// only the download earliest in the tar (the "head") is read; the others stay
// connected with their requests sent and resume in turn, with their next
// bytes already waiting in the kernel. Utilisation falling (the head alone
// cannot keep the process busy) lets every download read again.
// `performance` is Node's global: importing node:perf_hooks costs ~4 ms of every start-up.
import type { EventLoopUtilization, Performance as NodePerformance } from 'node:perf_hooks';

/** How a download asks whether to take more bytes now (store.ts reads through it). */
export interface ReadTurn {
  mayRead(): boolean;
  /** `wake` is called whenever mayRead() may have become true */
  onWake(wake: (() => void) | undefined): void;
  /** `n` bytes were taken */
  took(n: number): void;
  /** the download ended (either way) */
  leave(): void;
}

export interface HeadFirstOptions {
  /** main-thread busy fraction since the last call (0..1); default: event-loop utilisation */
  utilisation?: () => number;
  /** how often the utilisation is sampled while two or more downloads run */
  sampleMs?: number;
  /** read head-first from this utilisation on ... */
  high?: number;
  /** ... and all at once again below this one */
  low?: number;
}

function eventLoopSampler(): () => number {
  const perf = performance as unknown as NodePerformance;
  let last: EventLoopUtilization = perf.eventLoopUtilization();
  return () => {
    const now = perf.eventLoopUtilization();
    const u = perf.eventLoopUtilization(now, last).utilization;
    last = now;
    return u;
  };
}

interface Active {
  rank: number;
  wake: (() => void) | undefined;
}

export class HeadFirst {
  readonly #active: Active[] = [];
  readonly #utilisation: () => number;
  readonly #sampleMs: number;
  readonly #high: number;
  readonly #low: number;
  #serial = false;
  /** stopping: every download reads, and the pacing never goes head-first again */
  #released = false;
  #timer: NodeJS.Timeout | undefined;
  /** bytes taken by downloads that were not allowed to read (0 unless the readers ignore their turn) */
  outOfTurnBytes = 0;
  /** times the pacing went head-first */
  serialSpells = 0;

  constructor(opts: HeadFirstOptions = {}) {
    this.#utilisation = opts.utilisation ?? eventLoopSampler();
    this.#sampleMs = opts.sampleMs ?? 50;
    this.#high = opts.high ?? 0.9;
    this.#low = opts.low ?? 0.6;
  }

  get serial(): boolean {
    return this.#serial;
  }

  /** A download of the tar entry at `rank` (its position in the tar) starts. */
  join(rank: number): ReadTurn {
    const me: Active = { rank, wake: undefined };
    this.#active.push(me);
    this.#active.sort((a, b) => a.rank - b.rank);
    this.#schedule();
    let left = false;
    return {
      mayRead: () => this.#mayRead(me),
      onWake: (wake) => {
        me.wake = wake;
      },
      took: (n) => {
        if (!this.#mayRead(me)) this.outOfTurnBytes += n;
      },
      leave: () => {
        if (left) return;
        left = true;
        const wasHead = this.#active[0] === me;
        this.#active.splice(this.#active.indexOf(me), 1);
        this.#schedule();
        // The next download in tar order may read now.
        if (wasHead && this.#serial) this.#active[0]?.wake?.();
      },
    };
  }

  /** Takes a utilisation sample now (the timer calls this; tests may too). */
  sample(): void {
    const u = this.#utilisation();
    if (!this.#serial && !this.#released && u >= this.#high && this.#active.length > 1) {
      this.#serial = true;
      this.serialSpells++;
    } else if (this.#serial && u < this.#low) {
      this.#serial = false;
      for (const a of [...this.#active]) a.wake?.();
    }
  }

  /** Every download may read from now on (bundle create is stopping: each finds out at its next write). */
  release(): void {
    this.#released = true;
    this.#serial = false;
    for (const a of [...this.#active]) a.wake?.();
  }

  #mayRead(me: Active): boolean {
    return !this.#serial || this.#active[0] === me;
  }

  /** Samples only while there is something to choose between; never keeps the process alive. */
  #schedule(): void {
    if (this.#active.length > 1 && !this.#timer) {
      this.#utilisation(); // start a fresh window
      this.#timer = setInterval(() => this.sample(), this.#sampleMs);
      this.#timer.unref();
    } else if (this.#active.length <= 1 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      // One download left: it reads, whatever the mode.
      if (this.#serial) {
        this.#serial = false;
        this.#active[0]?.wake?.();
      }
    }
  }
}
