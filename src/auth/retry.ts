/**
 * Retrying a token request, by an allowlist: only failures that say "try again later" are tried
 * again, decided by HTTP status, OAuth error code or network error code, never by message text:
 * - HTTP 5xx (RFC 9110 §15.6: the server failed, not the request);
 * - the OAuth error `temporarily_unavailable` (RFC 6749 §4.1.2.1, used by token endpoints too);
 * - a connection reset or a timeout (http/net-errors.ts `isTransientNetworkError`).
 * Everything else is an answer: invalid_grant, invalid_client, a malformed 200 (which may have
 * rotated a refresh token already: sending the old one again would look like a replay), DNS
 * failures and refused connections.
 *
 * Waits honour Retry-After (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), capped at
 * MAX_RETRY_AFTER_MS; without one they back off linearly. The whole loop runs under the store
 * lock, so it stops once another wait would take it past TOKEN_RETRY_BUDGET_MS (the lock's stale
 * time): other relays wait on that lock, and a transient failure is reported instead.
 */
import { RelayError } from '../errors.js';
import { isTransientNetworkError } from '../http/net-errors.js';
import { retryAfterMs } from '../http/retry-after.js';
import type { Logger } from '../log.js';
import { LOCK_STALE_MS } from '../store/lock.js';
import { sleep as realSleep } from '../sleep.js';
import { tokenProblem } from './token-endpoint.js';

/** Attempts at a token request whose failures are all transient (the first one included). */
export const TOKEN_RETRY_ATTEMPTS = 3;
/** Backoff step without Retry-After: 1 s, then 2 s. */
export const TOKEN_RETRY_BACKOFF_MS = 1_000;
/** A Retry-After longer than this is shortened to it (the caller holds the store lock). */
export const MAX_RETRY_AFTER_MS = 5_000;
/** Retrying stops before the loop (under the lock) would last longer than the lock's stale time. */
export const TOKEN_RETRY_BUDGET_MS = LOCK_STALE_MS;

/** Whether a token request failure is worth another try (see the module header). */
export function isTransientTokenFailure(err: unknown): boolean {
  if (!(err instanceof RelayError)) return false;
  if (err.code === 'AUTH_GRANT_DEAD') return false;
  const problem = tokenProblem(err);
  if (problem) return problem.status >= 500 || problem.error === 'temporarily_unavailable';
  return isTransientNetworkError(err.cause);
}

export { retryAfterMs };

export interface TokenRetryDeps {
  now(): number;
  /** Waits between attempts (tests record what was asked for); default: a timer. */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  /** Stops retrying (shutdown). */
  signal?: AbortSignal | undefined;
  log?: Logger | undefined;
  /** Default {@link TOKEN_RETRY_BUDGET_MS}. */
  budgetMs?: number | undefined;
}

/**
 * Run `call`, trying again on transient failures (see the module header).
 *
 * @throws the first non-transient failure as it is; a transient one that outlasted the attempts
 *   or the budget as RelayError `AUTH_SERVER_UNAVAILABLE` (same message, status and cause).
 */
export async function withTokenRetry<T>(call: () => Promise<T>, deps: TokenRetryDeps): Promise<T> {
  const start = deps.now();
  const budget = deps.budgetMs ?? TOKEN_RETRY_BUDGET_MS;
  const sleep = deps.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isTransientTokenFailure(err)) throw err;
      const e = err as RelayError;
      const header = retryAfterMs(tokenProblem(e)?.retryAfter, deps.now());
      const wait = Math.min(header ?? TOKEN_RETRY_BACKOFF_MS * attempt, MAX_RETRY_AFTER_MS);
      const outOfTime = deps.now() - start + wait > budget;
      if (attempt >= TOKEN_RETRY_ATTEMPTS || outOfTime || deps.signal?.aborted) {
        throw new RelayError('AUTH_SERVER_UNAVAILABLE', e.message, { cause: e.cause, ...(e.status !== undefined ? { status: e.status } : {}) });
      }
      deps.log?.warn(`${e.message}; trying again in ${wait} ms${header !== undefined ? ' (Retry-After)' : ''}`);
      await sleep(wait, deps.signal);
    }
  }
}
