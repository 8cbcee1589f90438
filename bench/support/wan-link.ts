// A WAN-like link in user space: a TCP proxy on loopback that adds a round trip and caps
// the rate per connection and in all, in each direction. netem is not in every kernel; this
// shapes the same way for any client (skopeo, astrago-check) pointed at its port.
//
//   const link = await startWanLink({ port: reg.port }, { rttMs: 40, perConnBytesPerSec: 25e6, totalBytesPerSec: 100e6 });
//   link.host        '127.0.0.1:PORT' (use it in image references)
//   await link.stop()
//
// Each chunk read from one side is held for half the round trip, then released under two
// token buckets (the connection's and the direction's total), refilled on a 2 ms tick. A
// side's reads pause while more than `windowBytes` wait, as a TCP window would stop a sender.
import { createServer, connect, type Socket } from 'node:net';

export interface WanLinkOptions {
  rttMs: number;
  perConnBytesPerSec: number;
  totalBytesPerSec: number;
  /** bytes held per connection and direction before its reads pause (default: 4 MiB) */
  windowBytes?: number;
}

export interface WanLink {
  host: string;
  port: number;
  /** bytes carried server-to-client and client-to-server */
  carried(): { down: number; up: number };
  stop(): Promise<void>;
}

const TICK_MS = 2;
/** A bucket holds at most this many milliseconds of its rate (bursts stay short). */
const BURST_MS = 8;

interface Chunk {
  due: number;
  buf: Buffer;
}

/** One direction of one connection: what `from` sent, waiting to go to `to`. */
class Pipe {
  queue: Chunk[] = [];
  queued = 0;
  tokens = 0;
  ended = false;
  /** `to` is gone: nothing more can be delivered */
  dead = false;
  blocked = false;
  partner?: Pipe;
  readonly from: Socket;
  readonly to: Socket;
  readonly window: number;

  constructor(from: Socket, to: Socket, window: number, rttMs: number) {
    this.from = from;
    this.to = to;
    this.window = window;
    from.on('data', (buf: Buffer) => {
      this.queue.push({ due: performance.now() + rttMs / 2, buf });
      this.queued += buf.length;
      if (this.queued > window) from.pause();
    });
    // A closed side still gets what it sent delivered (a response, then the server's close).
    from.on('end', () => (this.ended = true)).on('close', () => (this.ended = true));
    to.on('drain', () => (this.blocked = false)).on('close', () => (this.dead = true));
  }

  get done(): boolean {
    return this.dead || (this.ended && !this.queue.length);
  }

  /** Sends what is due, within both buckets; returns the bytes sent. */
  pump(now: number, total: { tokens: number }): number {
    if (this.dead) return 0;
    let sent = 0;
    while (!this.blocked && this.queue.length && this.queue[0]!.due <= now && this.tokens >= 1 && total.tokens >= 1) {
      const head = this.queue[0]!;
      const n = Math.min(head.buf.length, Math.floor(this.tokens), Math.floor(total.tokens));
      const slice = n === head.buf.length ? head.buf : head.buf.subarray(0, n);
      if (n === head.buf.length) this.queue.shift();
      else head.buf = head.buf.subarray(n);
      this.tokens -= n;
      total.tokens -= n;
      this.queued -= n;
      sent += n;
      if (!this.to.write(slice)) this.blocked = true;
    }
    if (this.queued <= this.window / 2 && this.from.isPaused()) this.from.resume();
    if (this.ended && !this.queue.length && !this.to.writableEnded) this.to.end();
    return sent;
  }
}

export async function startWanLink(target: { host?: string; port: number }, opts: WanLinkOptions): Promise<WanLink> {
  const window = opts.windowBytes ?? 4 << 20;
  const pipes = { down: new Set<Pipe>(), up: new Set<Pipe>() };
  const totals = { down: { tokens: 0 }, up: { tokens: 0 } };
  const carried = { down: 0, up: 0 };
  const sockets = new Set<Socket>();

  // Half-open sockets: a side's FIN is passed on only after the data it follows is delivered.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: target.host ?? '127.0.0.1', port: target.port, allowHalfOpen: true });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    const down = new Pipe(upstream, client, window, opts.rttMs);
    const up = new Pipe(client, upstream, window, opts.rttMs);
    down.partner = up;
    up.partner = down;
    pipes.down.add(down);
    pipes.up.add(up);
    // Errors end in 'close'; the pipes then finish delivering what they hold.
    client.on('error', () => {});
    upstream.on('error', () => {});
  });

  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    const dt = (now - last) / 1000;
    last = now;
    for (const dir of ['down', 'up'] as const) {
      const total = totals[dir];
      total.tokens = Math.min(total.tokens + opts.totalBytesPerSec * dt, (opts.totalBytesPerSec * BURST_MS) / 1000);
      // Rotate the start so no connection is always served first from the shared bucket.
      const list = [...pipes[dir]];
      const start = list.length ? Math.floor(Math.random() * list.length) : 0;
      for (let i = 0; i < list.length; i++) {
        const p = list[(start + i) % list.length]!;
        p.tokens = Math.min(p.tokens + opts.perConnBytesPerSec * dt, (opts.perConnBytesPerSec * BURST_MS) / 1000);
        carried[dir] += p.pump(now, total);
        if (p.done) {
          pipes[dir].delete(p);
          if (p.partner?.done) (p.from.destroy(), p.to.destroy());
        }
      }
    }
  }, TICK_MS);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    port,
    carried: () => ({ ...carried }),
    stop: async () => {
      clearInterval(tick);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
