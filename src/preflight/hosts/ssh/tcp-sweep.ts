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
  const results: (TcpProbeResult | undefined)[] = Array.from({ length: targets.length }, () => undefined);
  const n = targets.length;
  const k = Math.max(1, Math.min(o.workers, n));
  // Per worker: the index it dials now, and since when it waits for that dial.
  const cur = Array.from({ length: k }, (_, w) => w);
  const since = new Array<number>(k).fill(0);
  let started = false;
  let got = 0;
  let noBash = false;
  let listening: number[] | null = null;
  let buf = '';
  return new Promise((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(tick);
      o.signal?.removeEventListener('abort', finish);
      try {
        ch.end();
      } catch {
        // channel already gone
      }
      resolve(noBash ? null : { results, listening });
    };
    const record = (i: number, r: TcpProbeResult) => {
      if (i < 0 || i >= n || results[i]) return;
      results[i] = r;
      if (++got === n) finish();
    };
    const onLine = (line: string) => {
      if (line === NO_BASH) {
        noBash = true;
        return;
      }
      if (line.startsWith('L')) {
        if (line !== 'L?') listening = [...new Set(line.slice(1).trim().split(' ').filter(Boolean).map(Number))].sort((a, b) => a - b);
        return;
      }
      if (line === 'S') {
        started = true;
        since.fill(performance.now());
        return;
      }
      // "R I open" | "R I fail TEXT" (split by hand: hundreds of thousands of lines on a large site)
      if (!line.startsWith('R ')) return;
      const sp = line.indexOf(' ', 2);
      const i = Number(line.slice(2, sp));
      if (sp < 0 || !Number.isInteger(i)) return;
      const open = line.startsWith('open', sp + 1);
      const w = i % k;
      const t = performance.now();
      const ms = Math.round(t - since[w]!);
      const text = line.slice(sp + 6).trim() || 'connect failed';
      record(i, open ? { state: 'open', ms, via: 'ssh-batch' } : { state: classifyTcpText(text), error: text, ms, via: 'ssh-batch' });
      if (i >= cur[w]!) {
        cur[w] = i + k;
        since[w] = t;
      }
    };
    // A worker silent for longer than the probe timeout hangs in connect(): filtered.
    const tick = setInterval(() => {
      if (!started) return;
      const t = performance.now();
      for (let w = 0; w < k; w++) {
        const i = cur[w]!;
        if (i >= n || t - since[w]! < o.probeTimeoutMs) continue;
        cur[w] = i + k;
        since[w] = t;
        if (i + k < n) ch.write(`K ${i}\n`);
        record(i, { state: 'filtered', error: `no answer within ${o.probeTimeoutMs} ms`, ms: Math.round(o.probeTimeoutMs), via: 'ssh-batch' });
      }
    }, Math.max(20, Math.min(250, Math.floor(o.probeTimeoutMs / 5))));
    if (o.signal?.aborted) return finish();
    o.signal?.addEventListener('abort', finish, { once: true });
    ch.setEncoding('utf8');
    ch.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    ch.stderr.on('data', () => {});
    ch.on('close', finish);
    ch.on('error', finish);
    // Targets the script could not take are reported at once, never sent.
    const lines: string[] = [];
    targets.forEach((t, i) => {
      if (valid(t)) lines.push(`${t.host} ${t.port}`);
      else lines.push('127.0.0.1 0'), record(i, { state: 'error', error: `not a host and port: ${JSON.stringify(t)}`, ms: 0, via: 'ssh-batch' });
    });
    ch.write(`${lines.join('\n')}\n.\n`);
    if (n === 0) finish();
  });
}
