// When and how long to retry an HTTP request: one policy for every request
// the tool makes (registry pulls and pushes, Helm repositories, files), and
// the one place that applies it (withRetries, retryingRequest). Transient means the next try may well succeed (connection reset or
// refused, timeouts, 408/429/5xx); anything else (4xx, digest mismatch) is
// final. Delays grow exponentially with full jitter, so many parallel
// transfers hit by the same outage do not come back in lock-step, and a
// server's Retry-After is honoured up to a cap.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** tries in all, the first included */
  attempts: number;
  /** first backoff ceiling, doubled per retry */
  baseMs: number;
  /** longest single wait, Retry-After included */
  maxMs: number;
  /** [0,1) source for the jitter (tests pass a seeded one) */
  random?: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 250, maxMs: 10_000 };

const TRANSIENT_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export function isTransientStatus(status: number): boolean {
  return TRANSIENT_STATUS.has(status);
}

const TRANSIENT_CODES = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|UND_ERR_CLOSED)$/;

/** A network-level failure worth another try (undici and node error codes, also on a cause). */
export function isTransientError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.test(code)) return true;
    const msg = e instanceof Error ? e.message : '';
    if (/other side closed|socket hang up|terminated|premature close|ECONNRESET|EPIPE/i.test(msg)) return true;
  }
  return false;
}

/** Milliseconds from a Retry-After header (seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Only an HTTP date (IMF-fixdate), not whatever Date.parse would guess at.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** The wait before try number `attempt + 1` (attempt counts from 1): Retry-After if given, else full jitter. */
export function retryDelay(attempt: number, retryAfter: string | undefined, policy: RetryPolicy = DEFAULT_RETRY): number {
  const asked = parseRetryAfter(retryAfter);
  if (asked !== undefined) return Math.min(asked, policy.maxMs);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.floor((policy.random ?? Math.random)() * ceiling);
}

/** Why the last try failed, for the final error message. */
export class RetriesExhausted extends Error {
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    super(`${cause instanceof Error ? cause.message : String(cause)} (after ${attempts} tries)`, { cause });
    this.name = 'RetriesExhausted';
    this.attempts = attempts;
  }
}

/**
 * Runs `fn` until it succeeds, fails for good, or the tries run out.
 * `classify` says whether a failure is transient and what Retry-After came with it.
 */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  opts: { policy?: RetryPolicy; classify?: (err: unknown) => { transient: boolean; retryAfter?: string }; onRetry?: (attempt: number, err: unknown, delayMs: number) => void; signal?: AbortSignal } = {},
): Promise<T> {
  const policy = opts.policy ?? DEFAULT_RETRY;
  const classify = opts.classify ?? ((err: unknown): { transient: boolean; retryAfter?: string } => ({ transient: isTransientError(err) }));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const { transient, retryAfter } = classify(err);
      if (!transient) throw err;
      if (attempt >= policy.attempts) throw new RetriesExhausted(attempt, err);
      const delay = retryDelay(attempt, retryAfter, policy);
      opts.onRetry?.(attempt + 1, err, delay);
      await sleep(delay, undefined, { signal: opts.signal });
    }
  }
}

/** An answer with a transient status (5xx, 429, 408), as an error withRetries can classify. */
export class TransientStatusError extends Error {
  readonly status: number;
  readonly retryAfter: string | undefined;
  constructor(status: number, retryAfter: string | undefined) {
    super(`HTTP ${status}`);
    this.name = 'TransientStatusError';
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** A failure the next try may not see: a network error, or an error naming a transient HTTP status (a push step). */
export function transientFailure(err: unknown): { transient: boolean; retryAfter?: string } {
  if (err instanceof TransientStatusError) return { transient: true, retryAfter: err.retryAfter };
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number') return { transient: isTransientStatus(status) };
  return { transient: isTransientError(err) };
}

interface AnyAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: { dump(): Promise<void> };
}

/**
 * Sends a request (`send`) under the retry policy: a network error or a
 * transient status is tried again after the backoff (Retry-After honoured);
 * the last try's answer comes back as it is, whatever its status.
 * `replayable` false (a streamed upload body): nothing is retried here.
 */
export async function retryingRequest<R extends AnyAnswer>(
  send: (attempt: number) => Promise<R>,
  opts: { policy?: RetryPolicy; replayable?: boolean; onRetry?: (attempt: number, reason: string) => void; signal?: AbortSignal } = {},
): Promise<R> {
  const policy = opts.policy ?? DEFAULT_RETRY;
  if (opts.replayable === false) return send(1);
  return withRetries(
    async (attempt) => {
      const res = await send(attempt);
      if (!isTransientStatus(res.statusCode) || attempt >= policy.attempts) return res;
      await res.body.dump();
      const ra = res.headers['retry-after'];
      throw new TransientStatusError(res.statusCode, Array.isArray(ra) ? ra[0] : ra);
    },
    {
      policy,
      classify: (err) => (opts.signal?.aborted ? { transient: false } : transientFailure(err)),
      onRetry: (attempt, err) => opts.onRetry?.(attempt, err instanceof Error ? err.message : String(err)),
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
  );
}
