// fast-get (blob GETs that read into the consumer's buffers) against real
// HTTP and HTTPS servers on loopback: slow consumers (back-pressure), bodies
// that end early, keep-alive reuse, redirects, answers it leaves to undici.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FastGet, type FastBody } from '../../src/bundle/registry/fast-get.ts';
import { isTransientError } from '../../src/bundle/registry/retry.ts';
import { createPki } from '../support/pki.ts';

const blob = randomBytes(3_000_000 + 17);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const seen: Array<{ url: string; auth?: string; socket: number }> = [];
let sockets = 0;

function handler(req: IncomingMessage, res: ServerResponse): void {
  const s = req.socket as typeof req.socket & { n?: number };
  s.n ??= ++sockets;
  seen.push({ url: req.url!, auth: req.headers.authorization, socket: s.n });
  if (req.url === '/blob') {
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.end(blob);
  } else if (req.url === '/short') {
    // Promises more than it sends, then closes.
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.write(blob.subarray(0, 100_000));
    setTimeout(() => req.socket.destroy(), 30);
  } else if (req.url === '/chunked') {
    res.writeHead(200);
    res.write('abc');
    res.end('def');
  } else if (req.url?.startsWith('/moved')) {
    res.writeHead(307, { location: `${other}/blob`, 'content-length': '0' });
    res.end();
  } else {
    const text = '{"errors":[{"code":"BLOB_UNKNOWN"}]}';
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': String(text.length) });
    res.end(text);
  }
}

const plain = createServer(handler).listen(0, '127.0.0.1');
const second = createServer(handler).listen(0, '127.0.0.1');
const pki = createPki();
const cert = pki.issue('fast-get');
const tls = createTlsServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, handler).listen(0, '127.0.0.1');
await Promise.all([plain, second, tls].map((s) => new Promise((r) => (s.listening ? r(undefined) : s.once('listening', r)))));
const url = (s: typeof plain, scheme = 'http') => `${scheme}://127.0.0.1:${(s.address() as AddressInfo).port}`;
const other = url(second);
const tlsOpts = { ca: [readFileSync(pki.caCert)], rejectUnauthorized: true };

const fg = new FastGet({ headersTimeoutMs: 5000, bodyTimeoutMs: 5000, eligible: () => true });
after(() => {
  fg.close();
  plain.close();
  second.close();
  tls.close();
});

/** Reads a body into 64 KiB regions of a 3-buffer pool, freeing one every `delayMs` (a slow disk). */
async function read(body: FastBody, delayMs = 0): Promise<Buffer> {
  const out: Buffer[] = [];
  const free: Buffer[] = [Buffer.alloc(65536), Buffer.alloc(65536), Buffer.alloc(65536)];
  let cur: Buffer | undefined;
  let fill = 0;
  const pending: Promise<void>[] = [];
  await body.consume({
    region: () => {
      if (!cur) {
        cur = free.pop();
        fill = 0;
      }
      return cur?.subarray(fill);
    },
    filled: (n) => {
      fill += n;
      if (fill === cur!.length) {
        const b = cur!;
        cur = undefined;
        out.push(Buffer.from(b));
        pending.push(
          sleep(delayMs).then(() => {
            free.push(b);
            body.resume();
          }),
        );
      }
    },
  });
  if (cur) out.push(Buffer.from(cur.subarray(0, fill)));
  await Promise.all(pending);
  return Buffer.concat(out);
}

for (const scheme of ['http', 'https'] as const) {
  const base = scheme === 'http' ? url(plain) : url(tls, 'https');
  test(`${scheme}: a body arrives whole, also when the consumer is slow; the connection is reused`, async () => {
    for (const delayMs of [0, 3]) {
      const before = seen.length;
      const a = (await fg.get(`${base}/blob`, {}, tlsOpts))!;
      assert.equal(a.statusCode, 200);
      assert.equal(sha(await read(a.body, delayMs)), sha(blob));
      const b = (await fg.get(`${base}/blob`, {}, tlsOpts))!;
      assert.equal(sha(await read(b.body, delayMs)), sha(blob));
      assert.equal(seen[before]!.socket, seen[before + 1]!.socket, 'the second GET reused the connection');
    }
  });

  test(`${scheme}: an error answer's text; a body that ends early is a transient error`, async () => {
    const nf = (await fg.get(`${base}/nothing`, {}, tlsOpts))!;
    assert.equal(nf.statusCode, 404);
    assert.match(await nf.body.text(), /BLOB_UNKNOWN/);
    const short = (await fg.get(`${base}/short`, {}, tlsOpts))!;
    const err = await read(short.body).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error, 'rejected');
    assert.ok(isTransientError(err), `transient: ${(err as Error).message}`);
  });
}

test('a redirect to another origin is followed without the Authorization header', async () => {
  const before = seen.length;
  const r = (await fg.get(`${url(plain)}/moved`, { authorization: 'Bearer secret' }, tlsOpts))!;
  assert.equal(r.statusCode, 200);
  assert.equal(sha(await read(r.body)), sha(blob));
  const [first, hop] = seen.slice(before);
  assert.equal(first!.auth, 'Bearer secret');
  assert.equal(hop!.url, '/blob');
  assert.equal(hop!.auth, undefined, 'no credentials to the other origin');
});

test('a 200 without Content-Length is left to undici (undefined)', async () => {
  assert.equal(await fg.get(`${url(plain)}/chunked`, {}, tlsOpts), undefined);
});

test('a certificate from an unknown CA is refused', async () => {
  await assert.rejects(fg.get(`${url(tls, 'https')}/blob`, {}, { rejectUnauthorized: true }), /certificate/i);
});
