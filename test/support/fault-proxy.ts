// A fault-injecting reverse proxy the tests put between the tool and a real
// registry: it forwards every request to the upstream and, when a rule
// matches, resets the connection mid-body, answers an error status (with
// Retry-After), stalls, or flips a byte. Rules are seeded, so a failing run
// replays exactly. Absolute `Location` headers pointing at the upstream are
// rewritten to the proxy, so blob uploads (POST → PATCH/PUT) also pass it.
import { createServer as createHttpServer, request as httpRequest, Agent as HttpAgent, type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** Destroy the connection with a TCP RST after `afterBytes` bytes of the body (response by default, request with phase 'request'). */
  | { kind: 'reset'; afterBytes?: number; phase?: 'request' | 'response' }
  /** Answer `status` without contacting the upstream; `retryAfter` (seconds) sets Retry-After. */
  | { kind: 'status'; status: number; retryAfter?: number }
  /** Hold the response for `ms` (forever when absent) before, or after `afterBytes` bytes of, its body. */
  | { kind: 'stall'; ms?: number; afterBytes?: number }
  /** Flip one byte (xor 0xff) at `offset` of the body (random, seeded, when absent). */
  | { kind: 'corrupt'; offset?: number; phase?: 'request' | 'response' }
  /** Answer a redirect (307 by default) to the same path on origin `to`, as registries do for blob GETs served by a CDN. */
  | { kind: 'redirect'; to: string; status?: number };

export type FaultKind = Fault['kind'];

export interface FaultRule {
  /** Shown in records; defaults to the fault kind. */
  name?: string;
  /** Request method (exact, case-insensitive); any method when absent. */
  method?: string;
  /** Matched against the request path with its query string. */
  path: RegExp;
  fault: Fault;
  /** Let the first `skip` matching requests pass untouched. */
  skip?: number;
  /** Inject at most this many times (unbounded when absent). */
  times?: number;
  /** Chance (0..1) that a matching request is hit, drawn from the seeded PRNG; 1 when absent. */
  probability?: number;
}

export interface RequestRecord {
  seq: number;
  method: string;
  path: string;
  status?: number;
  /** The fault injected into this request, if any. */
  fault?: FaultKind;
  rule?: string;
  /** Request body bytes forwarded upstream. */
  bytesIn: number;
  /** Response body bytes delivered to the client. */
  bytesOut: number;
  /** The response body reached the client whole (and unaltered unless `fault` says otherwise). */
  completed: boolean;
  /** The request carried an Authorization header (its value is never kept). */
  authorization: boolean;
}

export interface FaultProxyStats {
  requests: number;
  /** Requests forwarded with no fault. */
  passed: number;
  injected: Record<FaultKind, number>;
}

export interface FaultProxyOptions {
  /** e.g. http://127.0.0.1:5001 or https://127.0.0.1:5443 */
  upstream: string;
  /** CA certificate(s) for an https upstream. */
  ca?: string | Buffer;
  /** Serve TLS to the client with this certificate instead of plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  seed?: number;
  rules?: FaultRule[];
  host?: string;
  /** Origin absolute upstream Locations are rewritten to (default: this proxy), e.g. another proxy's, to send uploads elsewhere. */
  locationOrigin?: string;
}

export interface FaultProxy {
  /** Origin clients use, e.g. http://127.0.0.1:41234 */
  url: string;
  /** host:port, for image references */
  hostPort: string;
  port: number;
  records: RequestRecord[];
  setRules(rules: FaultRule[]): void;
  stats(): FaultProxyStats;
  /** Forgets records and counters (rules keep their own match counts until setRules). */
  resetCounters(): void;
  close(): Promise<void>;
}

/** mulberry32: small, fast and good enough to make fault schedules reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `chunk` (which starts at body byte `pos`) with the byte at body offset `at` flipped, when it holds it. */
function flipIn(chunk: Buffer, pos: number, at: number): Buffer {
  if (at < pos || at >= pos + chunk.length) return chunk;
  const copy = Buffer.from(chunk);
  copy[at - pos]! ^= 0xff;
  return copy;
}

// Connection-level headers a proxy must not forward (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

interface ActiveRule {
  rule: FaultRule;
  matched: number;
  injected: number;
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(opts.upstream);
  const upstreamOrigin = upstream.origin;
  const secureUpstream = upstream.protocol === 'https:';
  const agent = secureUpstream ? new HttpsAgent({ keepAlive: true, ca: opts.ca }) : new HttpAgent({ keepAlive: true });
  const random = seededRandom(opts.seed ?? 1);
  let rules: ActiveRule[] = (opts.rules ?? []).map((rule) => ({ rule, matched: 0, injected: 0 }));
  let records: RequestRecord[] = [];
  let seq = 0;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let proxyOrigin = '';

  function pickFault(method: string, path: string): ActiveRule | undefined {
    for (const active of rules) {
      const { rule } = active;
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      rule.path.lastIndex = 0;
      if (!rule.path.test(path)) continue;
      active.matched++;
      if (active.matched <= (rule.skip ?? 0)) continue;
      if (rule.times !== undefined && active.injected >= rule.times) continue;
      if (rule.probability !== undefined && random() >= rule.probability) continue;
      active.injected++;
      return active;
    }
    return undefined;
  }

  function later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function reset(socket: Socket | null | undefined): void {
    if (!socket || socket.destroyed) return;
    // A real RST, as a dropped middlebox or crashed server would give.
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  }

  function rewriteLocation(value: string): string {
    if (value.startsWith(upstreamOrigin)) return (opts.locationOrigin ?? proxyOrigin) + value.slice(upstreamOrigin.length);
    return value;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url ?? '/';
    const active = pickFault(method, path);
    const fault = active?.rule.fault;
    const record: RequestRecord = { seq: ++seq, method, path, bytesIn: 0, bytesOut: 0, completed: false, authorization: req.headers.authorization !== undefined };
    if (active && fault) {
      record.fault = fault.kind;
      record.rule = active.rule.name ?? fault.kind;
    }
    records.push(record);

    if (fault?.kind === 'redirect') {
      req.resume();
      req.on('end', () => {
        record.status = fault.status ?? 307;
        res.writeHead(record.status, { location: `${fault.to}${path}`, 'content-length': 0 });
        res.end(() => (record.completed = true));
      });
      return;
    }
    if (fault?.kind === 'status') {
      // Drain the request body first so the client sees the answer, not a broken pipe.
      req.resume();
      req.on('end', () => {
        const body = JSON.stringify({ errors: [{ code: fault.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: `injected ${fault.status}` }] });
        const headers: OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        record.status = fault.status;
        res.writeHead(fault.status, headers);
        res.end(body, () => {
          record.bytesOut = Buffer.byteLength(body);
        });
      });
      return;
    }

    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = v;
    }
    headers.host = upstream.host;
    const send = secureUpstream ? httpsRequest : httpRequest;
    const up = send({ protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method, path, headers, agent });

    // Request body: forwarded chunk by chunk, so a reset or corruption lands at an exact byte.
    const reqFault = fault && (fault.kind === 'reset' || fault.kind === 'corrupt') && fault.phase === 'request' ? fault : undefined;
    let corruptAt = reqFault?.kind === 'corrupt' ? (reqFault.offset ?? Math.floor(random() * Math.max(1, Number(req.headers['content-length'] ?? 1)))) : -1;
    req.on('data', (chunk: Buffer) => {
      if (reqFault?.kind === 'reset') {
        const limit = reqFault.afterBytes ?? 0;
        const room = limit - record.bytesIn;
        if (room <= 0) return;
        const part = chunk.subarray(0, room);
        record.bytesIn += part.length;
        up.write(part);
        if (record.bytesIn >= limit) {
          up.destroy();
          reset(req.socket);
        }
        return;
      }
      chunk = flipIn(chunk, record.bytesIn, corruptAt);
      if (corruptAt >= record.bytesIn && corruptAt < record.bytesIn + chunk.length) corruptAt = -1;
      record.bytesIn += chunk.length;
      if (!up.write(chunk)) {
        req.pause();
        up.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (reqFault?.kind === 'reset') {
        // The body was shorter than the reset point: cut the connection now.
        up.destroy();
        reset(req.socket);
        return;
      }
      up.end();
    });
    req.on('error', () => up.destroy());
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    up.on('error', (err) => {
      if (res.headersSent) {
        res.destroy(err);
        return;
      }
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault-proxy: upstream error: ${err.message}\n`);
    });

    up.on('response', (upRes) => {
      const outHeaders: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(upRes.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k)) continue;
        outHeaders[k] = k === 'location' && typeof v === 'string' ? rewriteLocation(v) : v;
      }
      record.status = upRes.statusCode;
      const resFault = fault && !('phase' in fault && fault.phase === 'request') ? fault : undefined;
      const length = Number(upRes.headers['content-length'] ?? NaN);
      const start = (): void => {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, outHeaders);
        pump(upRes, res, record, resFault, length);
      };
      if (resFault?.kind === 'stall' && resFault.afterBytes === undefined) {
        // Hold the whole response; forever when no time is given (the client must time out).
        // The upstream may give up meanwhile (e.g. a 416 whose body it cuts short): pump() passes that on.
        upRes.on('error', () => undefined);
        upRes.pause();
        if (resFault.ms !== undefined) later(resFault.ms, start);
        return;
      }
      start();
    });
  }

  function pump(upRes: IncomingMessage, res: ServerResponse, record: RequestRecord, fault: Fault | undefined, length: number): void {
    let corruptAt = -1;
    if (fault?.kind === 'corrupt') corruptAt = fault.offset ?? Math.floor(random() * (Number.isFinite(length) && length > 0 ? length : 1));
    const cutAt = fault?.kind === 'reset' ? (fault.afterBytes ?? 0) : fault?.kind === 'stall' ? (fault.afterBytes ?? -1) : -1;
    let stopped = false;
    const atCut = (): void => {
      stopped = true;
      upRes.pause();
      if (fault?.kind === 'reset') {
        // Let go of the upstream body, flush what was written, then RST.
        upRes.destroy();
        const sock = res.socket;
        // An empty write's callback runs once everything before it reached the kernel.
        if (sock && !sock.destroyed) sock.write('', () => reset(sock));
      } else if (fault?.kind === 'stall' && fault.ms !== undefined) {
        later(fault.ms, () => {
          stopped = false;
          upRes.resume();
        });
      }
    };
    if (upRes.errored || (upRes.destroyed && !upRes.readableEnded)) {
      // The upstream broke off while we held its response: so does the client's.
      res.flushHeaders();
      res.destroy();
      return;
    }
    if (cutAt === 0) {
      // Headers are out; flush them before cutting, so the client sees a body that breaks.
      res.flushHeaders();
      atCut();
      if (fault?.kind === 'reset') return;
    }
    upRes.on('data', (chunk: Buffer) => {
      if (stopped && fault?.kind === 'reset') return;
      if (cutAt > 0 && record.bytesOut < cutAt && record.bytesOut + chunk.length >= cutAt) {
        const head = chunk.subarray(0, cutAt - record.bytesOut);
        const tail = chunk.subarray(cutAt - record.bytesOut);
        record.bytesOut += head.length;
        res.write(head);
        atCut();
        if (fault?.kind === 'stall' && tail.length > 0) {
          // Deliver the rest once the stall ends.
          upRes.unshift(tail);
        }
        return;
      }
      chunk = flipIn(chunk, record.bytesOut, corruptAt);
      if (corruptAt >= record.bytesOut && corruptAt < record.bytesOut + chunk.length) corruptAt = -1;
      record.bytesOut += chunk.length;
      if (!res.write(chunk)) {
        upRes.pause();
        res.once('drain', () => {
          if (!stopped) upRes.resume();
        });
      }
    });
    upRes.on('end', () => {
      if (stopped && fault?.kind === 'reset') return;
      res.end(() => {
        record.completed = true;
      });
    });
    upRes.on('error', (err) => {
      if (!stopped) res.destroy(err);
    });
    // A response held by a stall was paused explicitly; a 'data' listener alone would not restart it.
    if (!stopped) upRes.resume();
  }

  const server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handle) : createHttpServer(handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  proxyOrigin = `${opts.tls ? 'https' : 'http'}://${hostPort}`;

  return {
    url: proxyOrigin,
    hostPort,
    port,
    get records() {
      return records;
    },
    setRules(next) {
      rules = next.map((rule) => ({ rule, matched: 0, injected: 0 }));
    },
    stats() {
      const injected: Record<FaultKind, number> = { reset: 0, status: 0, stall: 0, corrupt: 0, redirect: 0 };
      let passed = 0;
      for (const r of records) {
        if (r.fault) injected[r.fault]++;
        else passed++;
      }
      return { requests: records.length, passed, injected };
    },
    resetCounters() {
      records = [];
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      agent.destroy();
      await closed;
    },
  } satisfies FaultProxy as FaultProxy;
}

/** Digests of blobs whose GET body reached the client whole through the proxy. */
export function completedBlobFetches(records: readonly RequestRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) {
    if (r.method !== 'GET' || !r.completed || r.fault || r.status !== 200) continue;
    const m = /\/blobs\/(sha256:[0-9a-f]{64})/.exec(r.path);
    if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  }
  return counts;
}

/** Blob uploads the registry accepted through the proxy (the closing PUT ?digest=…, 201), in order. Mounts are not uploads. */
export function completedBlobUploads(records: readonly RequestRecord[]): Array<{ repository: string; digest: string }> {
  const out: Array<{ repository: string; digest: string }> = [];
  for (const r of records) {
    if (r.method !== 'PUT' || r.status !== 201 || r.fault) continue;
    const m = /^\/v2\/(.+)\/blobs\/uploads\/[^?]*\?(?:.*&)?digest=(sha256(?::|%3A)[0-9a-f]{64})/i.exec(r.path);
    if (m) out.push({ repository: m[1]!, digest: decodeURIComponent(m[2]!) });
  }
  return out;
}
