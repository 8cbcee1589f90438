// A short-lived TCP listener on a target node, to prove a path that only answered
// "connection refused": a port nothing listens on refuses, and so does a firewall that
// rejects (TCP reset, ICMP port-unreachable). With a listener up, the same connection
// either succeeds (the path is open) or is refused again (a firewall rejects).
//
// The listener is python3 (else perl) started through the node's Host: it binds the
// ports, accepts and closes connections, closes each port once its expected dials came
// and exits when none is left or after `holdMs`; nothing is installed or written on the node.
// Ports below 1024 need root: there the Host's sudo setting applies.
import { isIP } from 'node:net';
import type { Host } from '../../types.ts';
import { listeningPorts } from './port-matrix-rules.ts';

// argv: holdSeconds bindAddress|- PORT:DIALS...; prints "bound P" or "error P TEXT" per port.
// A port is closed once its expected dials came; the listener exits when none is left, or at hold.
const PYTHON = `import socket, select, sys, time
hold, addr = float(sys.argv[1]), sys.argv[2]
want = dict((int(p), int(k)) for p, k in (a.split(":") for a in sys.argv[3:]))
socks = {}
def listen(family, host, p):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and host == "::": s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((host, p))
    return s
for p in want:
    try:
        if addr != "-": s = listen(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr, p)
        else:
            try: s = listen(socket.AF_INET6, "::", p)
            except OSError as e:
                if e.errno in (13, 98): raise
                s = listen(socket.AF_INET, "0.0.0.0", p)
        s.listen(64)
        socks[s] = p
        print("bound %d" % p)
    except OSError as e:
        print("error %d %s" % (p, e.strerror))
sys.stdout.flush()
end = time.time() + hold
while socks and time.time() < end:
    r, _, _ = select.select(list(socks), [], [], max(0.0, end - time.time()))
    for s in r:
        c, _ = s.accept()
        c.close()
        p = socks[s]
        want[p] -= 1
        if want[p] <= 0:
            del socks[s]
            s.close()
`;

const PERL = `use IO::Socket::INET; use IO::Select;
my ($hold, $addr, @args) = @ARGV; my $sel = IO::Select->new; my (%want, %port);
for my $a (@args) {
  my ($p, $k) = split /:/, $a; $want{$p} = $k;
  my $s = IO::Socket::INET->new(($addr ne '-' ? (LocalAddr => $addr) : ()), LocalPort => $p, Listen => 64, ReuseAddr => 1, Proto => 'tcp');
  if ($s) { $sel->add($s); $port{$s} = $p; print "bound $p\n"; } else { print "error $p $!\n"; }
}
my $end = time + $hold;
while ($sel->count && time < $end) {
  for my $s ($sel->can_read($end - time)) {
    my $c = $s->accept; close $c if $c; my $p = $port{$s};
    if (--$want{$p} <= 0) { $sel->remove($s); close $s; }
  }
}
`;

const LAUNCH = `if command -v python3 >/dev/null 2>&1; then exec python3 -c "$PY" "$@"
elif command -v perl >/dev/null 2>&1; then exec perl -e "$PL" "$@"
else echo "neither python3 nor perl on the node" >&2; exit 127; fi`;

export interface ProofListener {
  /** Ports that are now listened on by the temporary listener. */
  bound: number[];
  /** Why a port (or all of them) could not be listened on, as far as known yet. */
  errors: Record<number, string>;
  /** Resolves when the listener has exited (every port got its expected dials, or its hold
   *  time ended), with the reasons it gave for the ports it could not bind. */
  done: Promise<Record<number, string>>;
}

type Exited = { code: number | null; stdout: string; stderr: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why each port could not be listened on, from the listener's output ("error P TEXT", or why it did not start). */
function bindErrors(exited: Exited, ports: number[], bound: number[]): Record<number, string> {
  const errors: Record<number, string> = {};
  for (const line of exited.stdout.split('\n')) {
    const m = /^error (\d+) (.*)$/.exec(line);
    if (m) errors[Number(m[1])] = m[2]!;
  }
  const why = exited.stderr.trim().split('\n').pop() || (exited.code !== 0 ? `exit ${exited.code}` : '');
  if (why && bound.length === 0) for (const p of ports) errors[p] ??= why;
  return errors;
}

/**
 * Starts the listener and waits until the node's /proc/net/tcp shows the ports listening
 * (the output of the exec arrives only when it ends). It binds all its ports at once: when
 * two looks in a row show the same ports, the others failed. Never throws.
 */
export async function startProofListener(
  host: Host,
  ports: number[],
  opts: { expected: Record<number, number>; holdMs: number; readyMs: number; signal: AbortSignal; bindAddress?: string },
): Promise<ProofListener> {
  const privileged = ports.some((p) => p < 1024);
  // The address the peers dial, when it is an IP (else every address of the node).
  const bind = opts.bindAddress && isIP(opts.bindAddress) ? opts.bindAddress : '-';
  const dials = ports.map((p) => `${p}:${Math.max(1, opts.expected[p] ?? 1)}`);
  const argv = ['sh', '-c', LAUNCH, 'astrago-check-listener', String(opts.holdMs / 1000), bind, ...dials];
  const run: Promise<Exited> = host
    .exec(argv, { signal: opts.signal, timeoutMs: opts.holdMs + 2000, env: { PY: PYTHON, PL: PERL }, ...(privileged ? {} : { sudo: false }) })
    .catch((err: Error) => ({ code: null, stdout: '', stderr: err.message }));
  let exited: Exited | undefined;
  void run.then((r) => (exited = r));
  const deadline = performance.now() + opts.readyMs;
  let bound: number[] = [];
  while (!exited && !opts.signal.aborted && performance.now() < deadline) {
    const seen = await listenedOn(host, ports, opts.signal);
    const settled = seen.length > 0 && seen.length === bound.length;
    bound = seen;
    if (bound.length === ports.length || settled) break;
    await sleep(50);
  }
  const errors = exited ? bindErrors(exited, ports, bound) : {};
  for (const p of ports) if (!bound.includes(p)) errors[p] ??= 'the listener did not come up in time';
  return { bound, errors, done: run.then((r) => bindErrors(r, ports, bound)) };
}

const LISTEN_LINES = "if command -v grep >/dev/null 2>&1; then grep -h ' 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null; else cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; fi; :";

/** The subset of `ports` in LISTEN state on the node, read fresh (an exec, never a cached read). */
async function listenedOn(host: Host, ports: number[], signal: AbortSignal): Promise<number[]> {
  try {
    // Only the LISTEN lines travel where the node has grep: the files list every socket of the node.
    const r = await host.exec(['sh', '-c', LISTEN_LINES], { signal, timeoutMs: 2000, sudo: false });
    const up = new Set(listeningPorts(r.stdout));
    return ports.filter((p) => up.has(p));
  } catch {
    return [];
  }
}
