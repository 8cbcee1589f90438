// Many TCP reachability probes from one node over ONE exec channel: a bash script on the
// node dials the targets itself (bash's /dev/tcp, no process per probe), `workers` at a
// time, and streams one line per result back. The port matrix of a site of n nodes then
// costs the tool n channels instead of n² (issue #21).
//
// Protocol (all lines):
//   tool -> node  stdin: "HOST PORT" per target, then ".", then control lines "K I"
//   node -> tool  stdout: "L PORT…" (its own listening TCP ports, "L?" when unknown), "S" once
//                 every worker started, "R I open" or "R I fail TEXT" per target
// Worker w dials targets w, w+K, w+2K, … one after the other. A dial to a filtered port
// hangs: the tool, which knows since when each worker waits (its last answer), declares
// that target filtered after the per-probe timeout and writes "K I": the script kills
// the stuck worker and starts a new one at I+K. Closing stdin ends the script (and its
// workers). Error words come from bash ("Connection refused", "No route to host", …);
// each worker's output passes through its own line reader, so lines never interleave.
import type { TcpProbeResult } from '../../types.ts';
import { classifyTcpText } from './tcp-error.ts';

export interface SweepTarget {
  host: string;
  port: number;
}

/** The part of an ssh2 exec channel the sweep uses. */
export interface SweepChannel {
  write(s: string): unknown;
  end(): unknown;
  close(): unknown;
  setEncoding(e: 'utf8'): unknown;
  on(ev: 'data', fn: (d: string) => void): unknown;
  on(ev: 'close', fn: () => void): unknown;
  on(ev: 'error', fn: (e: Error) => void): unknown;
  stderr: { on(ev: 'data', fn: (d: unknown) => void): unknown };
}

/** Exit code and marker of a node without bash: the caller probes one by one instead. */
const NO_BASH = 'NOBASH';

const SCRIPT = `K=$1
H=(); P=()
while IFS=' ' read -r h p && [ "$h" != . ]; do H+=("$h"); P+=("$p"); done
N=\${#H[@]}
work() {
  local i=$1
  while (( i < N )); do
    if exec 3<>"/dev/tcp/\${H[i]}/\${P[i]}"; then exec 3>&-; echo "R $i open"; else echo "R $i fail"; fi
    i=$(( i + K ))
  done
}
rd() {
  local l e=
  while IFS= read -r l; do
    case $l in "R "*" fail") echo "$l \${e#*: }"; e= ;; "R "*) echo "$l" ;; *) [ -n "$e" ] || e=\${l#*: } ;; esac
  done
}
# The node's own listening TCP ports (st 0A in /proc/net/tcp*), for the peers' verdicts.
if L=$(grep -h ' 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null) || [ $? = 1 ]; then
  o=L; while read -r _ la _ st _; do [ "$st" = 0A ] && o+=" $(( 16#\${la##*:} ))"; done <<< "$L"; echo "$o"
else echo 'L?'; fi
declare -a pid
spawn() { work "$1" > >(rd) 2>&1 & pid[$(( $1 % K ))]=$!; }
for (( w = 0; w < K && w < N; w++ )); do spawn $w; done
echo S
while read -r c i; do [ "$c" = K ] && { kill -9 "\${pid[i % K]}" 2>/dev/null; spawn $(( i + K )); }; done
kill -9 "\${pid[@]}" 2>/dev/null
exit 0`;

/** The command line: bash runs the script, or the node says it has none. */
export function sweepCommand(workers: number, quote: (s: string) => string): string {
  return `command -v bash >/dev/null 2>&1 || { echo ${NO_BASH}; exit 125; }; exec bash -c ${quote(SCRIPT)} sweep ${workers}`;
}

/** Host and port as the script can take them (one line, no spaces). */
function valid(t: SweepTarget): boolean {
  return /^[A-Za-z0-9._:%-]+$/.test(t.host) && Number.isInteger(t.port) && t.port > 0 && t.port < 65536;
}

export interface SweepOptions {
  /** A dial without an answer within this is `filtered`. */
  probeTimeoutMs: number;
  /** Dials at once on the node. */
  workers: number;
  signal?: AbortSignal;
}

export interface SweepResult {
  /** One per target; undefined where none came back before the channel closed or the signal fired. */
  results: (TcpProbeResult | undefined)[];
  /** TCP ports something listens on at the sweeping node itself; null when it could not tell. */
  listening: number[] | null;
}

/** Runs the sweep on an open channel; null when the node has no bash. */
export function runSweep(ch: SweepChannel, targets: SweepTarget[], o: SweepOptions): Promise<SweepResult | null> {
  const sweep = new Sweep(ch, targets.length, o);
  return new Promise((resolve) => sweep.start(targets, resolve));
}

/** One sweep's bookkeeping: what each worker dials and since when, and what came back. */
class Sweep {
  readonly ch: SweepChannel;
  readonly o: SweepOptions;
  readonly results: (TcpProbeResult | undefined)[];
  readonly n: number;
  /** Workers on the node. */
  readonly k: number;
  /** Per worker: the index it dials now, and since when it waits for that dial. */
  readonly cur: number[];
  readonly since: number[];
  started = false;
  got = 0;
  noBash = false;
  listening: number[] | null = null;
  buf = '';
  finished = false;
  tick?: ReturnType<typeof setInterval>;
  resolve?: (r: SweepResult | null) => void;

  constructor(ch: SweepChannel, n: number, o: SweepOptions) {
    this.ch = ch;
    this.o = o;
    this.results = Array.from({ length: n }, () => undefined);
    this.n = n;
    this.k = Math.max(1, Math.min(o.workers, n));
    this.cur = Array.from({ length: this.k }, (_, w) => w);
    this.since = new Array<number>(this.k).fill(0);
  }

  /** Starts the timeout watch, listens on the channel and sends the targets. */
  start(targets: SweepTarget[], resolve: (r: SweepResult | null) => void): void {
    const { ch, o, n } = this;
    this.resolve = resolve;
    this.tick = setInterval(() => this.expireStuck(), Math.max(20, Math.min(250, Math.floor(o.probeTimeoutMs / 5))));
    if (o.signal?.aborted) return this.finish();
    o.signal?.addEventListener('abort', this.finish, { once: true });
    ch.setEncoding('utf8');
    ch.on('data', (d: string) => this.onData(d));
    ch.stderr.on('data', () => {});
    ch.on('close', this.finish);
    ch.on('error', this.finish);
    // Targets the script could not take are reported at once, never sent.
    const lines: string[] = [];
    targets.forEach((t, i) => {
      if (valid(t)) lines.push(`${t.host} ${t.port}`);
      else lines.push('127.0.0.1 0'), this.record(i, { state: 'error', error: `not a host and port: ${JSON.stringify(t)}`, ms: 0, via: 'ssh-batch' });
    });
    ch.write(`${lines.join('\n')}\n.\n`);
    if (n === 0) this.finish();
  }

  /** Ends the sweep once (all answered, channel gone, or aborted); an arrow, to serve as a listener. */
  readonly finish = (): void => {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.tick);
    this.o.signal?.removeEventListener('abort', this.finish);
    try {
      this.ch.end();
    } catch {
      // channel already gone
    }
    this.resolve!(this.noBash ? null : { results: this.results, listening: this.listening });
  };

  record(i: number, r: TcpProbeResult): void {
    if (i < 0 || i >= this.n || this.results[i]) return;
    this.results[i] = r;
    if (++this.got === this.n) this.finish();
  }

  onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      this.onLine(this.buf.slice(0, nl));
      this.buf = this.buf.slice(nl + 1);
    }
  }

  onLine(line: string): void {
    if (line === NO_BASH) {
      this.noBash = true;
      return;
    }
    if (line.startsWith('L')) {
      if (line !== 'L?') this.listening = [...new Set(line.slice(1).trim().split(' ').filter(Boolean).map(Number))].sort((a, b) => a - b);
      return;
    }
    if (line === 'S') {
      this.started = true;
      this.since.fill(performance.now());
      return;
    }
    if (line.startsWith('R ')) this.onResult(line);
  }

  /** "R I open" | "R I fail TEXT" (split by hand: hundreds of thousands of lines on a large site). */
  onResult(line: string): void {
    const { k, cur, since } = this;
    const sp = line.indexOf(' ', 2);
    const i = Number(line.slice(2, sp));
    if (sp < 0 || !Number.isInteger(i)) return;
    const open = line.startsWith('open', sp + 1);
    const w = i % k;
    const t = performance.now();
    const ms = Math.round(t - since[w]!);
    const text = line.slice(sp + 6).trim() || 'connect failed';
    this.record(i, open ? { state: 'open', ms, via: 'ssh-batch' } : { state: classifyTcpText(text), error: text, ms, via: 'ssh-batch' });
    if (i >= cur[w]!) {
      cur[w] = i + k;
      since[w] = t;
    }
  }

  /** A worker silent for longer than the probe timeout hangs in connect(): filtered. */
  expireStuck(): void {
    if (!this.started) return;
    const { k, n, cur, since, o } = this;
    const t = performance.now();
    for (let w = 0; w < k; w++) {
      const i = cur[w]!;
      if (i >= n || t - since[w]! < o.probeTimeoutMs) continue;
      cur[w] = i + k;
      since[w] = t;
      if (i + k < n) this.ch.write(`K ${i}\n`);
      this.record(i, { state: 'filtered', error: `no answer within ${o.probeTimeoutMs} ms`, ms: Math.round(o.probeTimeoutMs), via: 'ssh-batch' });
    }
  }
}
