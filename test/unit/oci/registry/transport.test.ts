// Blob GETs (undici's request() through the dispatcher transport.ts composes,
// as the registry client makes them) against real HTTP and HTTPS servers on
// loopback: slow consumers (back-pressure), bytes that arrive before the body
// is read, a body that ends early, keep-alive reuse, a redirect, a 206, an
// error answer with a body.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { isTransientError } from '../../../../src/oci/registry/retry.ts';
import { Transport } from '../../../../src/oci/registry/transport.ts';
import { createPki } from '../../../support/pki.ts';

const blob = randomBytes(3_000_000 + 17);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const seen: Array<{ url: string; auth?: string; socket: number }> = [];
let sockets = 0;

function handler(req: IncomingMessage, res: ServerResponse): void {
  const s = req.socket as typeof req.socket & { n?: number };
  s.n ??= ++sockets;
  seen.push({ url: req.url!, auth: req.headers.authorization, socket: s.n });
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (req.url === '/blob' && range) {
    const from = Number(range[1]);
    res.writeHead(206, { 'content-length': String(blob.length - from), 'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}` });
    res.end(blob.subarray(from));
  } else if (req.url === '/blob') {
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
const cert = pki.issue('blob-get');
const tls = createTlsServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, handler).listen(0, '127.0.0.1');
await Promise.all([plain, second, tls].map((s) => new Promise((r) => (s.listening ? r(undefined) : s.once('listening', r)))));
const hostOf = (s: typeof plain) => `127.0.0.1:${(s.address() as AddressInfo).port}`;
const url = (s: typeof plain, scheme = 'http') => `${scheme}://${hostOf(s)}`;
const other = url(second);

const transport = new Transport({ registries: [{ host: hostOf(tls), caFile: pki.caCert }], env: {} });
const dispatcherOf = (s: typeof plain): Dispatcher => transport.dispatcherFor(hostOf(s), transport.settingsFor(hostOf(s)));
const plainD = dispatcherOf(plain);
const tlsD = dispatcherOf(tls);
after(async () => {
  await transport.close();
  plain.close();
  second.close();
  tls.close();
});

/** GET `u` through `d`, as RegistryClient.send does. */
function blobGet(d: Dispatcher, u: string, headers: Record<string, string>, signal?: AbortSignal) {
  return request(u, { dispatcher: d, headers, ...(signal ? { signal } : {}) });
}

const lengthOf = (r: Dispatcher.ResponseData) => (r.headers['content-length'] === undefined ? undefined : Number(r.headers['content-length']));

/** Reads a body, waiting `delayMs` after each chunk (a slow disk). */
async function read(body: Readable, delayMs = 0): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) {
    out.push(chunk);
    if (delayMs) await sleep(delayMs);
  }
  return Buffer.concat(out);
}

for (const scheme of ['http', 'https'] as const) {
  const base = scheme === 'http' ? url(plain) : url(tls, 'https');
  const d = scheme === 'http' ? plainD : tlsD;
  test(`${scheme}: a body arrives whole, also when the consumer is slow; the connection is reused`, async () => {
    for (const delayMs of [0, 3]) {
      await sleep(10); // undici frees a kept-alive connection one event-loop turn after a response
      const before = seen.length;
      const a = await blobGet(d, `${base}/blob`, {});
      assert.equal(a.statusCode, 200);
      assert.equal(lengthOf(a), blob.length);
      assert.equal(sha(await read(a.body, delayMs)), sha(blob));
      await sleep(10); // undici frees a kept-alive connection one event-loop turn after a response
      const b = await blobGet(d, `${base}/blob`, {});
      assert.equal(sha(await read(b.body, delayMs)), sha(blob));
      assert.equal(seen[before]!.socket, seen[before + 1]!.socket, 'the second GET reused the connection');
    }
  });

  test(`${scheme}: bytes that arrive before the body is read wait (the parser pauses), none lost`, async () => {
    const r = await blobGet(d, `${base}/blob`, {});
    await sleep(100); // undici delivers the first chunks meanwhile
    assert.equal(sha(await read(r.body, 2)), sha(blob));
  });

  test(`${scheme}: a Range request answered 206 streams the rest`, async () => {
    const r = await blobGet(d, `${base}/blob`, { range: 'bytes=1000000-' });
    assert.equal(r.statusCode, 206);
    assert.equal(lengthOf(r), blob.length - 1_000_000);
    assert.equal(sha(await read(r.body)), sha(blob.subarray(1_000_000)));
  });

  test(`${scheme}: an error answer's text; a body that ends early is a transient error`, async () => {
    const nf = await blobGet(d, `${base}/nothing`, {});
    assert.equal(nf.statusCode, 404);
    assert.match(await nf.body.text(), /BLOB_UNKNOWN/);
    const short = await blobGet(d, `${base}/short`, {});
    const err = await read(short.body).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error, 'rejected');
    assert.ok(isTransientError(err), `transient: ${(err as Error).message}`);
    // The dispatcher is still good afterwards.
    assert.equal(sha(await read((await blobGet(d, `${base}/blob`, {})).body)), sha(blob));
  });
}

test('a redirect to another origin is followed without the Authorization header', async () => {
  const before = seen.length;
  const r = await blobGet(plainD, `${url(plain)}/moved`, { authorization: 'Bearer secret' });
  assert.equal(r.statusCode, 200);
  assert.equal(sha(await read(r.body)), sha(blob));
  const [first, hop] = seen.slice(before);
  assert.equal(first!.auth, 'Bearer secret');
  assert.equal(hop!.url, '/blob');
  assert.equal(hop!.auth, undefined, 'no credentials to the other origin');
});

test('a 200 without Content-Length (chunked) streams too', async () => {
  const r = await blobGet(plainD, `${url(plain)}/chunked`, {});
  assert.equal(lengthOf(r), undefined);
  assert.equal((await read(r.body)).toString(), 'abcdef');
});

test('an aborted signal stops the GET (not a transient error)', async () => {
  const ac = new AbortController();
  const r = await blobGet(plainD, `${url(plain)}/blob`, {}, ac.signal);
  ac.abort();
  const err = await read(r.body, 5).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, 'rejected');
  assert.ok(!isTransientError(err), `not transient: ${(err as Error).message}`);
});

test('a certificate from an unknown CA is refused', async () => {
  const t = new Transport({ env: {} });
  try {
    await assert.rejects(blobGet(t.dispatcherFor(hostOf(tls)), `${url(tls, 'https')}/blob`, {}), /certificate/i);
  } finally {
    await t.close();
  }
});
