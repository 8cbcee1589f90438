// Blob GETs on plain sockets that read straight into the caller's buffers.
//
// Why: undici (socket 'data' events, one fresh 64 KiB buffer per read, the
// llhttp parser, a Readable body) cost about 0.35 s of main-thread CPU per
// 150 MB on the bundle-create bench, more than hashing it. Here a socket is
// made with `onread`: the kernel copies each read into the region the body's
// consumer hands out (its write batches), nothing is allocated per read, and
// back-pressure is a pause of the socket.
//
// Only the happy path of a blob GET lives here: HTTP/1.1, a 200/206 answer
// framed by Content-Length, redirects. Everything else is left to undici, so
// behaviour stays one code path: a host reached through a proxy (the caller
// does not ask), a 200/206 without Content-Length (answered `undefined`: the
// caller asks again through undici). Other statuses come back with a small
// body to read (text/dump), as undici's would. Keep-alive connections are
// reused per origin; errors carry the codes retry.ts treats as transient.
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

const HEADER_LIMIT = 64 << 10;
/** what a paused socket reads into once resumed (copied to the consumer's region) */
const PARK = 64 << 10;
/** error bodies are small; more than this is dropped */
const TEXT_LIMIT = 64 << 10;
const MAX_REDIRECTS = 5;

export interface FastGetOptions {
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** false: this URL must go through undici (e.g. a proxy applies) */
  eligible: (url: URL) => boolean;
}

/** Where a body's bytes go: the consumer hands out regions and hears how much arrived. */
export interface BodyReader {
  /** a free region for the next bytes (never empty), or undefined when none is free (the socket pauses until resume()) */
  region(): Buffer | undefined;
  /** `n` bytes were written at the start of the last region handed out */
  filled(n: number): void;
}

function socketError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

class Conn {
  readonly socket: Socket;
  readonly key: string;
  readonly #hdr = Buffer.allocUnsafe(HEADER_LIMIT);
  #hdrFill = 0;
  readonly #park = Buffer.allocUnsafe(PARK);
  /** the region last handed to the socket, and whether it is the reader's */
  #given: Buffer | undefined;
  #givenIsRegion = false;
  /** waiting for a response head */
  #onHead: ((head: Buffer) => void) | undefined;
  #reader: BodyReader | undefined;
  #region: Buffer | undefined;
  #remaining = 0;
  /** body bytes read but not yet delivered (came with the head, or no region was free) */
  #backlog: Buffer | undefined;
  /** a head was delivered, its body has no consumer yet */
  #awaitingBody = false;
  #paused = false;
  #onError: ((err: Error) => void) | undefined;
  #onBodyEnd: (() => void) | undefined;
  closed = false;
  /** a response was read on this connection before (a reused connection may have gone stale) */
  used = false;

  constructor(url: URL, tls: ConnectionOptions) {
    this.key = url.origin;
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const onread = { buffer: () => this.#nextRegion(), callback: (n: number, buf: Buffer) => this.#onRead(n, buf) };
    this.socket =
      url.protocol === 'https:'
        ? tlsConnect({ ...tls, host, port, ...(isIP(host) ? {} : { servername: host }), onread } as ConnectionOptions)
        : netConnect({ host, port, onread });
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => this.#fail(err));
    this.socket.on('close', () => this.#fail(socketError('other side closed', 'UND_ERR_SOCKET')));
    this.socket.on('end', () => this.#fail(socketError('other side closed', 'UND_ERR_SOCKET')));
    this.socket.on('timeout', () => this.#fail(socketError('body timeout', 'UND_ERR_BODY_TIMEOUT')));
  }

  #fail(err: Error): void {
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
    const cb = this.#onError;
    this.#onError = undefined;
    this.#onHead = undefined;
    this.#reader = undefined;
    this.#awaitingBody = false;
    cb?.(err);
  }

  destroy(err?: Error): void {
    this.#fail(err ?? socketError('aborted', 'UND_ERR_ABORTED'));
  }

  #nextRegion(): Buffer {
    let b: Buffer;
    this.#givenIsRegion = false;
    if (this.#reader && this.#remaining > 0 && this.#region && !this.#backlog) {
      const r = this.#region;
      b = r.length > this.#remaining ? r.subarray(0, this.#remaining) : r;
      this.#givenIsRegion = true;
    } else if (this.#reader && this.#remaining > 0) {
      b = this.#park.subarray(0, Math.min(PARK, this.#remaining));
    } else {
      b = this.#hdr.subarray(this.#hdrFill);
    }
    this.#given = b;
    return b;
  }

  #onRead(n: number, buf: Buffer): boolean {
    try {
      const zeroCopy = buf === this.#given && this.#givenIsRegion;
      this.#given = undefined;
      if (this.#reader && this.#remaining > 0) {
        if (zeroCopy && !this.#backlog) {
          this.#remaining -= n;
          this.#region = undefined;
          this.#reader.filled(n);
          this.#refill();
        } else this.#deliver(buf.subarray(0, n));
        return this.#afterBody();
      }
      // A TLS socket may still hand over records it had decrypted after we paused it:
      // body bytes before the body has a consumer wait in the backlog.
      if (this.#awaitingBody) {
        this.#backlog = this.#backlog ? Buffer.concat([this.#backlog, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n));
        return false;
      }
      if (!this.#onHead) throw socketError('the server sent bytes nobody asked for', 'UND_ERR_SOCKET');
      if (buf.buffer !== this.#hdr.buffer || buf.byteOffset !== this.#hdr.byteOffset + this.#hdrFill) {
        if (this.#hdrFill + n > HEADER_LIMIT) throw socketError('response headers too large', 'UND_ERR_HEADERS_OVERFLOW');
        buf.copy(this.#hdr, this.#hdrFill, 0, n);
      }
      this.#hdrFill += n;
      this.#scanHead();
      return !this.#paused;
    } catch (err) {
      this.#fail(err as Error);
      return false;
    }
  }

  #scanHead(): void {
    const end = this.#hdr.subarray(0, this.#hdrFill).indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.#hdrFill >= HEADER_LIMIT) throw socketError('response headers too large', 'UND_ERR_HEADERS_OVERFLOW');
      return;
    }
    const head = Buffer.from(this.#hdr.subarray(0, end + 4));
    this.#backlog = this.#hdrFill > end + 4 ? Buffer.from(this.#hdr.subarray(end + 4, this.#hdrFill)) : undefined;
    this.#hdrFill = 0;
    const cb = this.#onHead!;
    this.#onHead = undefined;
    // Nothing more is read until the body has a consumer.
    this.#paused = true;
    this.#awaitingBody = true;
    cb(head);
  }

  #refill(): void {
    if (this.#remaining > 0 && !this.#region) this.#region = this.#reader!.region();
  }

  /**
   * Copies bytes already read (after any backlog, in order) into the reader's
   * regions; what does not fit waits in the backlog. `bytes` undefined: the
   * backlog only.
   */
  #deliver(bytes: Buffer | undefined): void {
    let src = bytes ?? Buffer.alloc(0);
    if (this.#backlog) {
      src = src.length ? Buffer.concat([this.#backlog, src]) : this.#backlog;
      this.#backlog = undefined;
    }
    let off = 0;
    while (off < src.length && this.#remaining > 0) {
      this.#refill();
      const r = this.#region;
      if (!r) break;
      const take = Math.min(r.length, src.length - off, this.#remaining);
      src.copy(r, 0, off, off + take);
      off += take;
      this.#remaining -= take;
      this.#region = undefined;
      this.#reader!.filled(take);
    }
    if (off < src.length && this.#remaining === 0) throw socketError('more bytes than Content-Length', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH');
    // A copy: `src` may be the parking or header buffer, which the next read reuses.
    if (off < src.length) this.#backlog = Buffer.from(src.subarray(off));
    this.#refill();
  }

  /** After body bytes: the end, a pause (no region free), or read on. */
  #afterBody(): boolean {
    if (this.#remaining === 0) {
      this.#endBody();
      return !this.#paused;
    }
    if (this.#backlog || !this.#region) {
      this.#paused = true;
      return false;
    }
    return true;
  }

  #endBody(): void {
    this.#awaitingBody = false;
    this.#reader = undefined;
    this.#region = undefined;
    this.#backlog = undefined;
    this.socket.setTimeout(0);
    const done = this.#onBodyEnd;
    this.#onBodyEnd = undefined;
    this.#onError = undefined;
    done?.();
  }

  /** Sends a request; resolves with the raw response head. */
  request(path: string, headers: string, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(socketError('other side closed', 'UND_ERR_SOCKET'));
    if (this.#hdrFill !== 0 || this.#reader || this.#awaitingBody) return Promise.reject(socketError('connection not idle', 'UND_ERR_SOCKET'));
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(socketError('headers timeout', 'UND_ERR_HEADERS_TIMEOUT')), timeoutMs);
      this.#onError = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      this.#onHead = (head) => {
        clearTimeout(timer);
        this.#onError = undefined;
        resolve(head);
      };
      this.socket.write(`GET ${path} HTTP/1.1\r\n${headers}\r\n`);
      this.#resume();
    });
  }

  /** Streams `length` body bytes into `reader`; `done` resolves when all arrived. */
  body(length: number, reader: BodyReader, idleMs: number): { done: Promise<void>; resume: () => void } {
    const done = new Promise<void>((resolve, reject) => {
      this.#onError = (err) => {
        this.socket.setTimeout(0);
        reject(err);
      };
      this.#onBodyEnd = resolve;
    });
    if (this.closed) {
      this.#fail(socketError('other side closed', 'UND_ERR_SOCKET'));
      return { done, resume: () => undefined };
    }
    this.#awaitingBody = false;
    this.#reader = reader;
    this.#remaining = length;
    this.socket.setTimeout(idleMs);
    const resume = () => {
      if (!this.#reader || this.closed) return;
      try {
        if (this.#backlog) this.#deliver(undefined);
        else this.#refill();
        if (this.#afterBody()) this.#resume();
      } catch (err) {
        this.#fail(err as Error);
      }
    };
    resume();
    return { done, resume };
  }

  #resume(): void {
    if (this.#paused && !this.closed) {
      this.#paused = false;
      this.socket.resume();
    }
  }
}

/** A blob body: undici's stream, or this module's (read into the consumer's own buffers). */
export type BlobBody = Readable | FastBody;

export interface FastHeaders {
  [name: string]: string | undefined;
}

/** A response whose body has not been read yet. */
export class FastBody {
  readonly length: number;
  /** undefined: an empty body (an error answer whose length we do not read) */
  #conn: Conn | undefined;
  #release: (reuse: boolean) => void;
  #reusable: boolean;
  #used = false;
  #resume: (() => void) | undefined;
  #idleMs: number;

  constructor(conn: Conn | undefined, length: number, reusable: boolean, idleMs: number, release: (reuse: boolean) => void) {
    this.#conn = conn;
    this.length = length;
    this.#reusable = reusable;
    this.#idleMs = idleMs;
    this.#release = release;
  }

  /** Streams the whole body into `reader`. */
  async consume(reader: BodyReader): Promise<void> {
    if (this.#used) throw new Error('fast-get: body already read');
    this.#used = true;
    if (!this.#conn) return;
    const { done, resume } = this.#conn.body(this.length, reader, this.#idleMs);
    this.#resume = resume;
    try {
      await done;
    } catch (err) {
      this.#release(false);
      throw err;
    }
    this.#release(this.#reusable);
  }

  /** A region became free after the reader ran out of them. */
  resume(): void {
    this.#resume?.();
  }

  destroy(): void {
    this.#used = true;
    this.#conn?.destroy();
    this.#release(false);
  }

  async text(): Promise<string> {
    const chunks: Buffer[] = [];
    let kept = 0;
    const buf = Buffer.allocUnsafe(16 << 10);
    await this.consume({
      region: () => buf,
      filled: (n) => {
        if (kept < TEXT_LIMIT) chunks.push(Buffer.from(buf.subarray(0, n)));
        kept += n;
      },
    });
    return Buffer.concat(chunks).toString('utf8');
  }

  async dump(): Promise<void> {
    if (this.length > TEXT_LIMIT) return this.destroy();
    const buf = Buffer.allocUnsafe(16 << 10);
    await this.consume({ region: () => buf, filled: () => undefined });
  }
}

export interface FastResponse {
  statusCode: number;
  headers: FastHeaders;
  body: FastBody;
}

function parseHead(head: Buffer): { status: number; headers: FastHeaders; version: string } {
  const lines = head.toString('latin1').split('\r\n');
  const m = /^HTTP\/(1\.[01]) (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw socketError(`not an HTTP/1.x answer: ${JSON.stringify((lines[0] ?? '').slice(0, 40))}`, 'UND_ERR_SOCKET');
  const headers: FastHeaders = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  return { status: Number(m[2]), headers, version: m[1]! };
}

export class FastGet {
  readonly #opts: FastGetOptions;
  readonly #idle = new Map<string, Conn[]>();
  readonly #all = new Set<Conn>();

  constructor(opts: FastGetOptions) {
    this.#opts = opts;
  }

  eligible(url: string): boolean {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && this.#opts.eligible(u);
  }

  #take(url: URL, tls: ConnectionOptions): Conn {
    const idle = this.#idle.get(url.origin);
    while (idle?.length) {
      const c = idle.pop()!;
      if (!c.closed) return c;
    }
    const c = new Conn(url, tls);
    this.#all.add(c);
    c.socket.once('close', () => this.#all.delete(c));
    return c;
  }

  #give(c: Conn, reuse: boolean): void {
    if (!reuse || c.closed) {
      c.destroy();
      return;
    }
    c.used = true;
    let idle = this.#idle.get(c.key);
    if (!idle) this.#idle.set(c.key, (idle = []));
    idle.push(c);
  }

  /**
   * GET `url` with `headers` (lower-case names). Redirects are followed here
   * (Authorization only to the first origin), all with the TLS settings `tls`
   * (those of the registry asked first, as undici's redirects keep its dispatcher). Undefined: the answer is not one
   * this client streams (no Content-Length); ask again through undici.
   */
  async get(url: string, headers: Record<string, string>, tls: ConnectionOptions, signal?: AbortSignal): Promise<FastResponse | undefined> {
    let u = new URL(url);
    const origin = u.origin;
    for (let hop = 0; ; hop++) {
      const sendHeaders = { ...headers };
      if (u.origin !== origin) delete sendHeaders.authorization;
      const res = await this.#once(u, sendHeaders, tls, signal);
      if (!res) return undefined;
      const loc = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && loc && hop < MAX_REDIRECTS) {
        await res.body.dump();
        u = new URL(loc, u);
        if (!this.eligible(u.href)) return undefined;
        continue;
      }
      return res;
    }
  }

  async #once(u: URL, headers: Record<string, string>, tls: ConnectionOptions, signal?: AbortSignal): Promise<FastResponse | undefined> {
    const lines = [`host: ${u.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n';
    for (let fresh = 0; ; fresh++) {
      const conn = this.#take(u, tls);
      const reused = conn.used;
      const abort = () => conn.destroy(socketError('aborted', 'UND_ERR_ABORTED'));
      signal?.addEventListener('abort', abort, { once: true });
      let head: Buffer;
      try {
        if (signal?.aborted) abort();
        head = await conn.request(`${u.pathname}${u.search}`, lines, this.#opts.headersTimeoutMs);
      } catch (err) {
        conn.destroy();
        // A kept-alive connection the server had closed meanwhile: once more on a new one.
        if (reused && fresh === 0 && !signal?.aborted && (err as { code?: string }).code === 'UND_ERR_SOCKET') continue;
        throw err;
      } finally {
        signal?.removeEventListener('abort', abort);
      }
      let parsed;
      try {
        parsed = parseHead(head);
      } catch (err) {
        conn.destroy();
        throw err;
      }
      const { status, headers: h, version } = parsed;
      const te = h['transfer-encoding'];
      const cl = h['content-length'];
      const length = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined;
      if (te !== undefined || length === undefined) {
        conn.destroy();
        if (status === 200 || status === 206) return undefined;
        // An error answer without a length: no body to read (its text is only a detail).
        return { statusCode: status, headers: h, body: new FastBody(undefined, 0, false, this.#opts.bodyTimeoutMs, () => undefined) };
      }
      const reusable = version === '1.1' && !/\bclose\b/i.test(h.connection ?? '');
      return { statusCode: status, headers: h, body: new FastBody(conn, length, reusable, this.#opts.bodyTimeoutMs, (reuse) => this.#give(conn, reuse)) };
    }
  }

  close(): void {
    for (const c of this.#all) c.destroy();
    this.#all.clear();
    this.#idle.clear();
  }
}
