/** The Retry-After response header (RFC 9110 §10.2.3), read once for every client that honours it. */

/**
 * RFC 9110 §10.2.3 Retry-After → milliseconds from `now`: delay-seconds (digits only) or an
 * HTTP-date; undefined when absent or unreadable; never negative.
 */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Every HTTP-date form (IMF-fixdate and the two obsolete ones) starts with the day's name.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
