// One HTTP/1.1 exchange with undici over a stream the Host opened (a local
// socket, an SSH channel, a proxy tunnel, with or without TLS).
import { Client } from 'undici';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface HttpRequest {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Bytes of body kept (the rest is discarded). */
  maxBody?: number;
}

export async function httpOverStream(stream: Duplex, url: URL, req: HttpRequest): Promise<HttpAnswer> {
  let used = false;
  const client = new Client(url.origin, {
    // Hand undici the stream we already have; it gets exactly one.
    // Called back on a later tick: undici ignores a connection handed over synchronously.
    connect: (_opts, cb) => {
      const first = !used;
      used = true;
      setImmediate(() => (first ? cb(null, stream as unknown as Socket) : cb(new Error('connection closed by the server'), null)));
    },
    headersTimeout: req.timeoutMs,
    bodyTimeout: req.timeoutMs,
    pipelining: 1,
    allowH2: false,
  });
  try {
    const res = await client.request({
      path: url.pathname + url.search,
      method: req.method ?? 'GET',
      headers: { 'user-agent': 'astrago-check', ...req.headers },
      signal: req.signal,
    });
    const max = req.maxBody ?? 65536;
    let body = '';
    for await (const chunk of res.body) {
      if (body.length < max) body += (chunk as Buffer).toString('utf8');
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v ?? '');
    return { status: res.statusCode, headers, body: body.slice(0, max) };
  } finally {
    await client.destroy().catch(() => undefined);
  }
}
