// A close-delimited HTTP/1.0 server in front of a real one (a registry, a
// file host): it answers every request as `python3 -m http.server` does —
// an HTTP/1.0 status line, the upstream's Content-Length (or none at all,
// with `noLength`: the body then ends when the connection does), then the
// body, then FIN. No keep-alive, no chunked encoding. Absolute Locations
// naming the upstream are rewritten to this front.
//
//   const front = await startHttp10Front({ upstream: registry.url });
//   front.url / front.hostPort / front.requests / await front.close()
import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';

export interface Http10Front {
  url: string;
  hostPort: string;
  /** 'METHOD path status', one per request answered */
  requests: string[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** Reads one request head (and a Content-Length body) from `sock`. */
function readRequest(sock: Socket): Promise<{ method: string; path: string; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let head: { method: string; path: string; headers: Record<string, string>; need: number; start: number } | undefined;
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!head && buf[0] === 0x16) {
        // A TLS hello (a client probing for HTTPS): answered as python's server does, in plain text.
        sock.off('data', onData);
        sock.end('HTTP/1.0 400 Bad request version\r\nconnection: close\r\n\r\n');
        return;
      }
      if (!head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [line, ...rest] = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method, path] = line!.split(' ');
        const headers: Record<string, string> = {};
        for (const h of rest) {
          const i = h.indexOf(':');
          if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
        }
        head = { method: method!, path: path!, headers, need: Number(headers['content-length'] ?? 0), start: end + 4 };
      }
      if (buf.length - head.start < head.need) return;
      sock.off('data', onData);
      resolve({ method: head.method, path: head.path, headers: head.headers, body: buf.subarray(head.start, head.start + head.need) });
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('end', () => reject(new Error('client closed before a whole request')));
  });
}

export async function startHttp10Front(opts: { upstream: string; noLength?: boolean }): Promise<Http10Front> {
  const upstream = new URL(opts.upstream);
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let origin = '';
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    readRequest(sock).then(
      (req) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
        headers.host = upstream.host;
        const up = httpRequest({ hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.path, headers, agent: false });
        up.on('error', () => sock.destroy());
        up.on('response', (res) => {
          requests.push(`${req.method} ${req.path} ${res.statusCode}`);
          const lines = [`HTTP/1.0 ${res.statusCode} ${res.statusMessage ?? ''}`];
          for (const [k, v] of Object.entries(res.headers)) {
            if (v === undefined || HOP_BY_HOP.has(k) || (opts.noLength && k === 'content-length')) continue;
            for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${k === 'location' && one.startsWith(upstream.origin) ? origin + one.slice(upstream.origin.length) : one}`);
          }
          lines.push('connection: close', '', '');
          sock.write(lines.join('\r\n'));
          // The whole body as fast as the socket takes it, then FIN: the client
          // sees the end of the connection right behind the last byte.
          res.pipe(sock);
        });
        up.end(req.body);
      },
      () => sock.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    hostPort: `127.0.0.1:${port}`,
    requests,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
