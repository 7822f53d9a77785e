/**
 * The RelayError for an HTTP answer the relay cannot use, shared by the Streamable HTTP clients
 * (2025-11-25 streamable.ts and 2026-07-28 modern-http.ts): the status, a short excerpt of the
 * body, and a hint at what to do.
 */
import type { HttpResponse } from './node-http.js';
import { RelayError } from '../errors.js';
import { readPrefix } from './bounded.js';
import { retryAfterMs } from './retry-after.js';

/** At most this much of an error body goes into the message (bodies can be whole HTML pages). */
const DETAIL_MAX_CHARS = 200;
/** At most this much of an error body is read at all (a hostile server may send gigabytes with its 500). */
const ERROR_BODY_MAX_BYTES = 16 * 1024;

/** Read the start of `res`'s body (the rest is cancelled) and describe it as REMOTE_HTTP with `status` set. */
export async function httpError(res: HttpResponse, url: URL): Promise<RelayError> {
  let body = '';
  try {
    body = await readPrefix(res, ERROR_BODY_MAX_BYTES);
  } catch {
    // body unreadable: the status says enough
  }
  return httpErrorFromText(res.status, res.statusText, body, url, res.headers.get('location') ?? undefined, res.headers.get('retry-after') ?? undefined);
}

/** The same, for a body already read. */
export function httpErrorFromText(status: number, statusText: string, body: string, url: URL, location?: string, retryAfter?: string): RelayError {
  const after = retryAfter !== undefined ? retryAfterMs(retryAfter, Date.now()) : undefined;
  const detail = body.replace(/\s+/g, ' ').trim().slice(0, DETAIL_MAX_CHARS);
  const target = location ? safeLocation(location, url) : undefined;
  const hint =
    status >= 300 && status < 400
      ? ` (the server redirects${target ? ` to ${target}` : ''}; the relay follows redirects only within ${url.origin}, so credentials never leave it: if you trust the new address, use it as the server URL)`
      : status === 401 || status === 403
        ? ' (the server wants credentials: add --header "Authorization: Bearer ${TOKEN}" or check the server\'s OAuth setup)'
        : after !== undefined && (status === 429 || status === 503)
          ? ` (the server asks to retry after ${Math.ceil(after / 1000)} s)`
          : status === 429
            ? ' (too many requests: retry later)'
            : status >= 500
              ? ' (a server-side failure; the relay keeps running)'
              : '';
  return new RelayError('REMOTE_HTTP', `${url.host} answered HTTP ${status}${statusText ? ` ${statusText}` : ''}${detail ? `: ${detail}` : ''}${hint}`, {
    status,
  });
}

function safeLocation(location: string, base: URL): string | undefined {
  try {
    const u = new URL(location, base);
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return undefined;
  }
}
