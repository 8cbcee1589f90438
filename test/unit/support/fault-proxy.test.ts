// The fault proxy against a plain node:http upstream: every fault lands where
// the rule says, counters tell what passed, and Location headers lead back
// through the proxy.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startFaultProxy, seededRandom, completedBlobFetches, completedBlobUploads, type FaultProxy } from '../../support/fault-proxy.ts';

const BODY = randomBytes(256 * 1024);
const BODY_DIGEST = 'sha256:' + createHash('sha256').update(BODY).digest('hex');
let upstream: Server;
let upstreamUrl: string;
let proxy: FaultProxy;
/** What the upstream saw: method, path, body bytes and their sha256. */
let seen: { method: string; path: string; bytes: number; sha256: string }[] = [];

before(async () => {
  upstream = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    const done = (): void => {
      seen.push({ method: req.method!, path: req.url!, bytes, sha256: hash.digest('hex') });
    };
    req.on('aborted', done);
    req.on('end', () => {
      done();
      const url = req.url ?? '/';
      if (req.method === 'POST' && url.endsWith('/blobs/uploads/')) {
        // Like the distribution registry: an absolute Location on this server.
        res.writeHead(202, { location: `${upstreamUrl}/v2/repo/blobs/uploads/u-1?_state=abc`, 'content-length': 0 });
        res.end();
      } else if (req.method === 'PUT' && url.startsWith('/v2/repo/blobs/uploads/u-1')) {
        res.writeHead(201, { location: `${upstreamUrl}/v2/repo/blobs/${BODY_DIGEST}`, 'content-length': 0 });
        res.end();
      } else if (url === '/cut') {
        // Like the registry's 416 for a range at the blob's end: a long Content-Length, a short body, then close.
        res.writeHead(416, { 'content-length': 1000 });
        res.write('not satisfiable');
        setTimeout(() => res.socket?.destroy(), 10);
      } else if (url.startsWith('/v2/repo/blobs/')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length });
        res.end(BODY);
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = await startFaultProxy({ upstream: upstreamUrl, seed: 7 });
});

after(async () => {
  await proxy.close();
  await new Promise<void>((r) => upstream.close(() => r()));
});

beforeEach(() => {
  proxy.setRules([]);
  proxy.resetCounters();
  seen = [];
});

interface Answer {
  status?: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  error?: string;
}

/** One request with node:http, keeping whatever arrived before an error. */
function call(method: string, url: string, opts: { body?: Buffer; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const answer: Answer = { headers: {}, body: Buffer.alloc(0) };
    const finish = (error?: string): void => {
      answer.body = Buffer.concat(chunks);
      if (error) answer.error = error;
      resolve(answer);
    };
    const req = request(url, { method, agent: false, headers: opts.body ? { 'content-length': opts.body.length } : {} }, (res) => {
      answer.status = res.statusCode;
      answer.headers = res.headers;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish());
      res.on('error', (e) => finish(e.message));
      res.on('aborted', () => finish('aborted'));
    });
    if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => finish(e.message));
    req.end(opts.body);
  });
}

const blobUrl = (): string => `${proxy.url}/v2/repo/blobs/${BODY_DIGEST}`;

test('passes requests through untouched and counts them', async () => {
  const a = await call('GET', blobUrl());
  assert.equal(a.status, 200);
  assert.ok(a.body.equals(BODY));
  assert.deepEqual(proxy.stats(), { requests: 1, passed: 1, injected: { reset: 0, status: 0, stall: 0, corrupt: 0, redirect: 0 } });
  assert.equal(proxy.records[0]!.completed, true);
  assert.equal(proxy.records[0]!.bytesOut, BODY.length);
  assert.equal(completedBlobFetches(proxy.records).get(BODY_DIGEST), 1);
});

test('answers 503 with Retry-After without reaching the upstream, then passes', async () => {
  proxy.setRules([{ method: 'GET', path: /\/blobs\//, fault: { kind: 'status', status: 503, retryAfter: 2 }, times: 1 }]);
  const first = await call('GET', blobUrl());
  assert.equal(first.status, 503);
  assert.equal(first.headers['retry-after'], '2');
  assert.match(first.body.toString(), /UNAVAILABLE/);
  assert.equal(seen.length, 0);
  const second = await call('GET', blobUrl());
  assert.equal(second.status, 200);
  assert.ok(second.body.equals(BODY));
  assert.equal(seen.length, 1);
  assert.equal(proxy.stats().injected.status, 1);
  assert.equal(proxy.stats().passed, 1);
  assert.equal(completedBlobFetches(proxy.records).get(BODY_DIGEST), 1);
});

test('429 answers carry Retry-After and a TOOMANYREQUESTS code', async () => {
  proxy.setRules([{ path: /.*/, fault: { kind: 'status', status: 429, retryAfter: 1 } }]);
  const a = await call('GET', blobUrl());
  assert.equal(a.status, 429);
  assert.equal(a.headers['retry-after'], '1');
  assert.match(a.body.toString(), /TOOMANYREQUESTS/);
});

test('resets the connection after exactly N bytes of the response body', async () => {
  proxy.setRules([{ method: 'GET', path: /\/blobs\//, fault: { kind: 'reset', afterBytes: 10_000 } }]);
  const a = await call('GET', blobUrl());
  assert.equal(a.status, 200);
  assert.ok(a.error, 'the client sees a broken body');
  assert.equal(a.body.length, 10_000);
  assert.ok(a.body.equals(BODY.subarray(0, 10_000)), 'the bytes before the reset are the real ones');
  assert.equal(proxy.records[0]!.completed, false);
  assert.equal(proxy.stats().injected.reset, 1);
  assert.equal(completedBlobFetches(proxy.records).size, 0);
});

test('a reset at byte 0 breaks the response right after its headers', async () => {
  proxy.setRules([{ path: /\/blobs\//, fault: { kind: 'reset' } }]);
  const a = await call('GET', blobUrl());
  assert.ok(a.error);
  assert.equal(a.body.length, 0);
});

test('flips exactly one byte at the given offset of the body', async () => {
  proxy.setRules([{ path: /\/blobs\//, fault: { kind: 'corrupt', offset: 100_000 } }]);
  const a = await call('GET', blobUrl());
  assert.equal(a.status, 200);
  assert.equal(a.body.length, BODY.length);
  const diffs = [...a.body.keys()].filter((i) => a.body[i] !== BODY[i]);
  assert.deepEqual(diffs, [100_000]);
  assert.equal(a.body[100_000], BODY[100_000]! ^ 0xff);
  assert.equal(proxy.stats().injected.corrupt, 1);
  assert.equal(completedBlobFetches(proxy.records).size, 0, 'a corrupted delivery does not count as a fetched blob');
});

test('a corrupt rule without an offset picks a seeded position inside the body', async () => {
  proxy.setRules([{ path: /\/blobs\//, fault: { kind: 'corrupt' } }]);
  const a = await call('GET', blobUrl());
  const diffs = [...a.body.keys()].filter((i) => a.body[i] !== BODY[i]);
  assert.equal(diffs.length, 1);
});

test('stalls forever: the client has to give up, and the body never completes', async () => {
  proxy.setRules([{ path: /\/blobs\//, fault: { kind: 'stall' }, times: 1 }]);
  const a = await call('GET', blobUrl(), { timeoutMs: 300 });
  assert.equal(a.error, 'client timeout');
  assert.equal(proxy.records[0]!.completed, false);
  const b = await call('GET', blobUrl());
  assert.ok(b.body.equals(BODY), 'the next request passes');
});

test('a timed stall mid-body delivers the whole body afterwards', async () => {
  proxy.setRules([{ path: /\/blobs\//, fault: { kind: 'stall', ms: 100, afterBytes: 5000 } }]);
  const a = await call('GET', blobUrl());
  assert.equal(a.error, undefined);
  assert.ok(a.body.equals(BODY));
  assert.equal(proxy.records[0]!.completed, true);
  assert.equal(proxy.stats().injected.stall, 1);
});

test('a timed stall before the response still answers whole', async () => {
  proxy.setRules([{ path: /\/blobs\//, fault: { kind: 'stall', ms: 50 } }]);
  const a = await call('GET', blobUrl());
  assert.ok(a.body.equals(BODY));
});

test('rewrites absolute upload Locations so PATCH/PUT come back through the proxy', async () => {
  const started = await call('POST', `${proxy.url}/v2/repo/blobs/uploads/`);
  assert.equal(started.status, 202);
  const location = String(started.headers.location);
  assert.ok(location.startsWith(proxy.url + '/'), `Location ${location} points at the proxy`);
  const put = await call('PUT', `${location}&digest=${encodeURIComponent(BODY_DIGEST)}`, { body: BODY });
  assert.equal(put.status, 201);
  assert.ok(String(put.headers.location).startsWith(proxy.url));
  assert.deepEqual(seen.map((s) => s.method), ['POST', 'PUT']);
  assert.equal(seen[1]!.sha256, BODY_DIGEST.slice(7));
  assert.equal(proxy.records[1]!.bytesIn, BODY.length);
  assert.deepEqual(completedBlobUploads(proxy.records), [{ repository: 'repo', digest: BODY_DIGEST }]);
});

test('resets an upload after N request bytes: the upstream sees only those', async () => {
  proxy.setRules([{ method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'reset', phase: 'request', afterBytes: 4096 } }]);
  const put = await call('PUT', `${proxy.url}/v2/repo/blobs/uploads/u-1?digest=${encodeURIComponent(BODY_DIGEST)}`, { body: BODY });
  assert.ok(put.error, 'the client sees the connection break');
  assert.equal(proxy.records[0]!.bytesIn, 4096);
  // The upstream may or may not log the aborted request; it never got more than 4096 bytes.
  for (const s of seen) assert.ok(s.bytes <= 4096);
  assert.deepEqual(completedBlobUploads(proxy.records), []);
});

test('corrupts an upload body: the upstream receives different bytes', async () => {
  proxy.setRules([{ method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'corrupt', phase: 'request', offset: 7 } }]);
  await call('PUT', `${proxy.url}/v2/repo/blobs/uploads/u-1?digest=x`, { body: BODY });
  assert.equal(seen[0]!.bytes, BODY.length);
  const expected = Buffer.from(BODY);
  expected[7] ^= 0xff;
  assert.equal(seen[0]!.sha256, createHash('sha256').update(expected).digest('hex'));
});

test('skip lets the first matches pass; times bounds the injections', async () => {
  proxy.setRules([{ path: /\/blobs\//, fault: { kind: 'status', status: 500 }, skip: 2, times: 2 }]);
  const statuses: (number | undefined)[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await call('GET', blobUrl())).status);
  assert.deepEqual(statuses, [200, 200, 500, 500, 200, 200]);
  assert.deepEqual(proxy.records.map((r) => r.fault ?? '-'), ['-', '-', 'status', 'status', '-', '-']);
});

test('rules match by method: a GET rule leaves HEAD alone', async () => {
  proxy.setRules([{ method: 'GET', path: /\/blobs\//, fault: { kind: 'status', status: 500 } }]);
  assert.equal((await call('HEAD', blobUrl())).status, 200);
  assert.equal((await call('GET', blobUrl())).status, 500);
});

test('probabilities follow the seed: the same seed gives the same schedule', async () => {
  const schedules: string[] = [];
  for (let run = 0; run < 2; run++) {
    const p = await startFaultProxy({ upstream: upstreamUrl, seed: 42, rules: [{ path: /\/blobs\//, fault: { kind: 'status', status: 503 }, probability: 0.3 }] });
    try {
      let s = '';
      for (let i = 0; i < 40; i++) s += (await call('GET', `${p.url}/v2/repo/blobs/x`)).status === 503 ? 'F' : '.';
      schedules.push(s);
    } finally {
      await p.close();
    }
  }
  assert.equal(schedules[0], schedules[1]);
  const hits = schedules[0]!.split('F').length - 1;
  assert.ok(hits > 2 && hits < 30, `about 30% of 40 requests were hit (got ${hits}: ${schedules[0]})`);
});

test('seededRandom is deterministic and spread over [0,1)', () => {
  const a = seededRandom(3);
  const b = seededRandom(3);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(mean > 0.4 && mean < 0.6);
});

test('close() ends stalled responses', async () => {
  const p = await startFaultProxy({ upstream: upstreamUrl, rules: [{ path: /.*/, fault: { kind: 'stall' } }] });
  const pending = call('GET', `${p.url}/v2/repo/blobs/x`);
  await new Promise((r) => setTimeout(r, 50));
  await p.close();
  const a = await pending;
  assert.ok(a.error, 'the stalled client is disconnected');
});

test('an upstream that breaks off while a stall holds its response breaks the client off too (no hang)', async () => {
  proxy.setRules([{ path: /^\/cut$/, fault: { kind: 'stall', ms: 100 } }]);
  const a = await call('GET', `${proxy.url}/cut`, { timeoutMs: 5000 });
  assert.ok(a.error, 'the client sees a broken response');
  assert.notEqual(a.error, 'client timeout', 'and does not have to time out');
});

test('locationOrigin sends uploads to another origin; records say whether Authorization came, never its value', async () => {
  const other = await startFaultProxy({ upstream: upstreamUrl });
  const p = await startFaultProxy({ upstream: upstreamUrl, locationOrigin: other.url });
  try {
    const started = await new Promise<{ location: string }>((resolve, reject) => {
      const req = request(`${p.url}/v2/repo/blobs/uploads/`, { method: 'POST', agent: false, headers: { authorization: 'Basic c2VjcmV0' } }, (res) => {
        res.resume();
        resolve({ location: String(res.headers.location) });
      });
      req.on('error', reject);
      req.end();
    });
    assert.ok(started.location.startsWith(other.url + '/'), started.location);
    await call('PUT', `${started.location}&digest=${encodeURIComponent(BODY_DIGEST)}`, { body: BODY });
    assert.deepEqual(p.records.map((r) => r.authorization), [true]);
    assert.deepEqual(other.records.map((r) => [r.method, r.authorization]), [['PUT', false]]);
    assert.ok(!JSON.stringify(p.records).includes('c2VjcmV0'), 'the header value is not recorded');
  } finally {
    await p.close();
    await other.close();
  }
});

test('redirect answers 307 to the same path on another origin without asking the upstream', async () => {
  proxy.setRules([{ method: 'GET', path: /\/blobs\//, fault: { kind: 'redirect', to: 'http://127.0.0.1:9' } }]);
  const a = await call('GET', blobUrl());
  assert.equal(a.status, 307);
  assert.equal(a.headers.location, `http://127.0.0.1:9/v2/repo/blobs/${BODY_DIGEST}`);
  assert.equal(seen.length, 0);
  assert.equal(proxy.stats().injected.redirect, 1);
});
