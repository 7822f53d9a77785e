/**
 * When a stored token is due for renewal. Light on purpose (no SDK imports): the relay checks
 * it before every request, and a warm start with a valid token loads nothing else of auth.
 */
import type { StoredTokens } from '../store/store.js';

/** Refresh this long before expiry so a request never races the deadline. */
export const REFRESH_MARGIN_MS = 60_000;

/**
 * True when the token should be refreshed now: within REFRESH_MARGIN_MS of expiry, or past half
 * its lifetime for short-lived tokens (a 30 s token must not count as "expiring" from birth).
 */
export function expiresSoon(t: StoredTokens, now: number, margin = REFRESH_MARGIN_MS): boolean {
  if (t.expires_at === undefined) return false;
  const lifetime = t.expires_at - t.obtained_at;
  const effective = lifetime > 0 ? Math.min(margin, lifetime / 2) : margin;
  return t.expires_at - now <= effective;
}

export function isExpired(t: StoredTokens, now: number): boolean {
  return t.expires_at !== undefined && t.expires_at <= now;
}
