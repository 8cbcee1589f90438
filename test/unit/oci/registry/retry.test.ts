// The retry policy shared by registry pulls and pushes (pure parts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTransientError, isTransientStatus, parseRetryAfter, retryDelay, withRetries, RetriesExhausted, DEFAULT_RETRY, retryingRequest, transientFailure } from '../../../../src/oci/registry/retry.ts';
import { seededRandom } from '../../../support/fault-proxy.ts';

test('transient statuses: 408, 429 and 5xx gateways; never 4xx answers about the request', () => {
  for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(isTransientStatus(s), true, String(s));
  for (const s of [200, 201, 202, 400, 401, 403, 404, 405, 416, 501]) assert.equal(isTransientStatus(s), false, String(s));
});

test('transient errors: resets, refusals and timeouts, also when wrapped as a cause', () => {
  const withCode = (code: string) => Object.assign(new Error('x'), { code });
  assert.equal(isTransientError(withCode('ECONNRESET')), true);
  assert.equal(isTransientError(withCode('UND_ERR_SOCKET')), true);
  assert.equal(isTransientError(withCode('UND_ERR_HEADERS_TIMEOUT')), true);
  assert.equal(isTransientError(new Error('fetch failed', { cause: withCode('ECONNREFUSED') })), true);
  assert.equal(isTransientError(new Error('other side closed')), true);
  assert.equal(isTransientError(withCode('ENOENT')), false);
  assert.equal(isTransientError(new Error('digest mismatch')), false);
  assert.equal(isTransientError(Object.assign(new Error('bad cert'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })), false);
});

test('Retry-After: seconds or an HTTP date; anything else is ignored', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter('0'), 0);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a date in the past means now');
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter('-1'), undefined);
});

test('delays: Retry-After honoured up to the cap, otherwise full jitter under a doubling ceiling', () => {
  const policy = { attempts: 6, baseMs: 100, maxMs: 1000, random: seededRandom(5) };
  assert.equal(retryDelay(1, '2', { ...policy, maxMs: 10_000 }), 2000);
  assert.equal(retryDelay(1, '3600', policy), 1000, 'a server asking for an hour is capped');
  const seen = new Set<number>();
  for (let attempt = 1; attempt <= 6; attempt++) {
    for (let i = 0; i < 50; i++) {
      const d = retryDelay(attempt, undefined, policy);
      assert.ok(d >= 0 && d < Math.min(1000, 100 * 2 ** (attempt - 1)), `attempt ${attempt}: ${d}`);
      seen.add(d);
    }
  }
  assert.ok(seen.size > 100, 'delays are spread (jitter), not in lock-step');
  assert.ok(DEFAULT_RETRY.attempts >= 3 && DEFAULT_RETRY.maxMs <= 60_000, 'bounded by default');
});

test('withRetries: transient failures are retried until success, others thrown at once, and tries are bounded', async () => {
  const policy = { attempts: 4, baseMs: 1, maxMs: 5 };
  const reset = () => Object.assign(new Error('socket reset'), { code: 'ECONNRESET' });

  let calls = 0;
  const ok = await withRetries(async () => {
    if (++calls < 3) throw reset();
    return 'done';
  }, { policy });
  assert.equal(ok, 'done');
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(withRetries(async () => {
    calls++;
    throw new Error('HTTP 400 DIGEST_INVALID');
  }, { policy }), /DIGEST_INVALID/);
  assert.equal(calls, 1, 'a final error is not retried');

  calls = 0;
  const retries: number[] = [];
  const err = await withRetries(async () => {
    calls++;
    throw reset();
  }, { policy, onRetry: (n) => retries.push(n) }).catch((e: unknown) => e);
  assert.ok(err instanceof RetriesExhausted);
  assert.equal(err.attempts, 4);
  assert.match(err.message, /socket reset \(after 4 tries\)/, 'the last error is kept');
  assert.equal(calls, 4);
  assert.deepEqual(retries, [2, 3, 4]);
});

test('withRetries: a classifier passes Retry-After through', async () => {
  const delays: number[] = [];
  let calls = 0;
  await withRetries(async () => {
    if (++calls === 1) throw Object.assign(new Error('HTTP 429'), { status: 429 });
  }, {
    policy: { attempts: 3, baseMs: 1, maxMs: 50 },
    classify: (e) => ({ transient: (e as { status?: number }).status === 429, retryAfter: '0' }),
    onRetry: (_n, _e, d) => delays.push(d),
  });
  assert.deepEqual(delays, [0]);
});

test('retryingRequest: a transient status is tried again (Retry-After honoured), the last try comes back as it is', async () => {
  const answer = (statusCode: number, headers: Record<string, string> = {}) => {
    let dumped = false;
    return { statusCode, headers, body: { dump: async () => void (dumped = true) }, get dumped() { return dumped; } };
  };
  const seen: number[] = [];
  const retries: string[] = [];
  const first = answer(503, { 'retry-after': '0' });
  const r = await retryingRequest(async (attempt) => (seen.push(attempt), attempt === 1 ? first : answer(200)), { onRetry: (n, why) => retries.push(`${n} ${why}`) });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(seen, [1, 2]);
  assert.ok(first.dumped, 'the refused answer was read off its connection');
  assert.deepEqual(retries, ['2 HTTP 503']);
  const policy = { attempts: 3, baseMs: 1, maxMs: 2 };
  const last = await retryingRequest(async () => answer(429), { policy });
  assert.equal(last.statusCode, 429, 'the tries ran out: the answer itself, for the caller to report');
  let sends = 0;
  const once = await retryingRequest(async () => (sends++, answer(503)), { policy, replayable: false });
  assert.equal(once.statusCode, 503);
  assert.equal(sends, 1, 'a streamed body is not replayed');
});

test('retryingRequest: network errors are retried, a 4xx is not, an aborted signal stops the retries', async () => {
  const policy = { attempts: 4, baseMs: 1, maxMs: 2 };
  let n = 0;
  const r = await retryingRequest(async () => {
    if (++n < 3) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    return { statusCode: 404, headers: {}, body: { dump: async () => undefined } };
  }, { policy });
  assert.equal(r.statusCode, 404);
  assert.equal(n, 3);
  const ac = new AbortController();
  ac.abort();
  let tries = 0;
  await assert.rejects(retryingRequest(async () => (tries++, Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))), { policy, signal: ac.signal }), /ECONNREFUSED/);
  assert.equal(tries, 1);
});

test('transientFailure: an error carrying a transient HTTP status (a push step) is retried, a final one is not', () => {
  assert.equal(transientFailure(Object.assign(new Error('the registry answered HTTP 503'), { status: 503 })).transient, true);
  assert.equal(transientFailure(Object.assign(new Error('the registry answered HTTP 400'), { status: 400 })).transient, false);
  assert.equal(transientFailure(Object.assign(new Error('x'), { code: 'EPIPE' })).transient, true);
});
