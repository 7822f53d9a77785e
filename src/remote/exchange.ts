/**
 * One authorized HTTP exchange with the MCP server, the only place where a request gets its
 * headers and credentials and where a refused credential turns into a login and a retry. Every
 * transport and revision sends through it (v2025/streamable.ts and get-stream, v2025/legacy-sse.ts,
 * v2026/post.ts), so a new proof or credential (a DPoP proof, a header from a command) is one
 * change here, seen by all of them.
 *
 * - MCP 2025-11-25 and 2026-07-28 authorization: the client MUST send the access token in the
 *   `Authorization` header of every HTTP request to the MCP server; on 401, and on 403 with
 *   `error="insufficient_scope"` (step-up), it obtains new credentials and retries.
 * - A server that refuses fresh credentials again and again is not asked forever: after
 *   MAX_AUTH_ATTEMPTS the request fails with AUTH_REQUIRED (the user must log in again).
 * - Content-type dispatch (JSON body or SSE stream) is decided here too, by the media type only.
 * - DPoP (RFC 9449 §7.1): a DPoP-bound token goes as `Authorization: DPoP <token>` with a new proof
 *   in the `DPoP` header on every send, for the method and URL actually requested. A `DPoP-Nonce`
 *   from the server is remembered for its origin (§9); a 401 `use_dpop_nonce` with a new nonce is
 *   sent once more with it and is never a reason to log in (the token is fine).
 */
import { RelayError } from '../errors.js';
import type { AuthHook } from '../auth/hook.js';
import { DpopNonces } from '../auth/dpop.js';
import { bearerChallenge } from '../http/challenge.js';
import { networkError } from '../http/net-errors.js';
import type { HttpFetch, HttpResponse } from '../http/node-http.js';
import { retryAfterMs } from '../http/retry-after.js';
import { sleep } from '../sleep.js';
import type { RequestWatch } from './types.js';

/** Credentials refused right after fresh ones were obtained: try this many times in all, then fail the request. */
export const MAX_AUTH_ATTEMPTS = 3;
/**
 * 429 / 503 with a Retry-After this short is waited out and the request sent again (the server did
 * not process it); a longer one is answered at once with an error saying when to retry.
 */
export const MAX_SERVER_RETRY_AFTER_MS = 10_000;
/** How many times one request waits out a busy server before it answers with the error. */
const MAX_BUSY_RETRIES = 2;
const BUSY_STATUSES = new Set([429, 503]);

/** What the exchange needs of any HTTP response (node-http's and a web Response both fit). */
export interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body?: { cancel(reason?: unknown): Promise<void> } | null;
}

export interface ExchangeOptions {
  url: URL;
  /** Static headers from --header (already expanded); they never override what the protocol sets. */
  headers: Record<string, string>;
  /** The client for MCP traffic (see HttpFetch for its contract). */
  fetch: HttpFetch;
  auth?: AuthHook | undefined;
  /** Aborts when the remote closes: every request in flight ends with SHUTTING_DOWN. */
  closing: AbortSignal;
}

export interface RequestOptions {
  body?: string | undefined;
  /** Protocol headers for this request (content type, accept, session, version, metadata). */
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  /** Give up waiting for the response headers after this long (0 or absent: no limit of its own). */
  headersTimeoutMs?: number | undefined;
  /** On a credentials challenge, log in and retry (default). False: return the 401/403 as it is (background streams). */
  authRetry?: boolean | undefined;
  /** The host request this is sent for: its abort ends the exchange, a login's time is held off its clock. */
  watch?: RequestWatch | undefined;
}

/** What one attempt is sent as: the method and URL a DPoP proof names (RFC 9449 §4.2 htm, htu). */
export interface ExchangeTarget {
  method: string;
  url: URL;
}

export class Exchange {
  /** Nonces the MCP server handed out (RFC 9449 §9), per origin. */
  private readonly nonces = new DpopNonces();

  constructor(private readonly o: ExchangeOptions) {}

  get url(): URL {
    return this.o.url;
  }

  /**
   * Send one request to the MCP endpoint and return the first response that is not a credentials
   * challenge, body unread (the caller MUST read or cancel it, as HttpFetch requires). Throws a
   * RelayError: REMOTE_UNAVAILABLE / REMOTE_TIMEOUT for network failures, AUTH_* when no
   * credentials can be had, SHUTTING_DOWN once the remote is closing.
   */
  async request(method: 'GET' | 'POST' | 'DELETE', r: RequestOptions = {}): Promise<HttpResponse> {
    const signal = r.watch ? (r.signal ? AbortSignal.any([r.signal, r.watch.signal]) : r.watch.signal) : r.signal;
    for (let busy = 0; ; busy++) {
      const res = await this.authorized(
        { method, url: this.o.url },
        (auth) => {
          r.watch?.phase('waiting for the response headers');
          return this.fetchOnce(method, { ...r, signal }, auth);
        },
        r.authRetry,
        r.watch,
      );
      // RFC 6585 §4 / RFC 9110 §15.6.4: the server is busy and says when to come back. A short
      // wait is waited out (the request's own budget still applies); a long one is the caller's
      // error, whose message says when (http-error.ts).
      const wait = BUSY_STATUSES.has(res.status) && busy < MAX_BUSY_RETRIES ? retryAfterMs(res.headers.get('retry-after') ?? undefined, Date.now()) : undefined;
      if (wait === undefined || wait > MAX_SERVER_RETRY_AFTER_MS) return res;
      await res.body?.cancel().catch(() => {});
      r.watch?.phase(`waiting ${Math.ceil(wait / 1000)} s as the server asked (HTTP ${res.status} with Retry-After)`);
      await sleep(wait, signal ? AbortSignal.any([signal, this.o.closing]) : this.o.closing);
      if (this.o.closing.aborted) throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down');
      if (signal?.aborted) throw new RelayError('REMOTE_TIMEOUT', 'the relay gave up on this request while the server was busy');
    }
  }

  /**
   * The credentials loop on its own, for a transport that sends with a client of its own (the
   * legacy SSE transport hands a web fetch to the SDK): `send` is called with the headers to add
   * (static headers, Authorization and a DPoP proof for `target`) once per attempt.
   */
  async authorized<R extends ResponseLike>(
    target: ExchangeTarget,
    send: (headers: Record<string, string>) => Promise<R>,
    authRetry = true,
    watch?: RequestWatch,
  ): Promise<R> {
    const auth = this.o.auth;
    let nonceRetried = false;
    for (let attempt = 1; ; attempt++) {
      if (this.o.closing.aborted) throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down');
      // The relay already answered the host (a limit fired during a login): the request must not run now.
      if (watch?.signal.aborted) throw new RelayError('REMOTE_TIMEOUT', 'the relay gave up on this request before sending it');
      const authorization = await auth?.authorization();
      const extra = await auth?.headers?.();
      // RFC 9449 §4.1 / §7.1: one DPoP header, a fresh proof for this very send.
      const proof = authorization && auth?.dpopProof ? await auth.dpopProof({ ...target, authorization, nonce: this.nonces.get(target.url) }) : undefined;
      const res = await send({ ...this.o.headers, ...extra, ...(authorization ? { authorization } : {}), ...(proof ? { dpop: proof } : {}) });
      // RFC 9449 §9: the server may hand out a new nonce with any answer (even the 401 before a
      // login), and the next proof to it carries that one.
      const newNonce = this.nonces.remember(target.url, res.headers.get('dpop-nonce'));
      const challenge = res.status === 401 || res.status === 403 ? bearerChallenge(res.headers) : {};
      if (proof !== undefined && res.status === 401 && challenge.dpop?.error === 'use_dpop_nonce') {
        await res.body?.cancel().catch(() => {});
        // The token is fine; the proof lacked the server's nonce. Once more with it, then give up
        // (a nonce is never a reason to log in again).
        if (newNonce && !nonceRetried) {
          nonceRetried = true;
          attempt--;
          continue;
        }
        throw new RelayError(
          'REMOTE_HTTP',
          `the server keeps asking for a DPoP nonce (HTTP 401 use_dpop_nonce) ${newNonce ? 'after the relay sent the one it gave' : 'without giving one in a DPoP-Nonce header'}`,
          {
            status: 401,
          },
        );
      }
      if (!auth || !authRetry || (res.status !== 401 && res.status !== 403)) return res;
      // A 403 that is not about scope is an answer (e.g. an Origin check), not a reason to log in.
      if (res.status === 403 && challenge.error !== 'insufficient_scope') return res;
      await res.body?.cancel().catch(() => {});
      if (attempt >= MAX_AUTH_ATTEMPTS) {
        throw new RelayError(
          'AUTH_REQUIRED',
          `the server keeps refusing fresh credentials (HTTP ${res.status}); run \`mcp-relay logout ${this.o.url.href}\` and try again`,
          {
            status: res.status,
          },
        );
      }
      const login = auth.unauthorized({ status: res.status as 401 | 403, challenge, rejected: authorization });
      if (watch) {
        watch.phase('waiting for the login');
        await watch.hold(login);
      } else {
        await login;
      }
    }
  }

  private async fetchOnce(method: 'GET' | 'POST' | 'DELETE', r: RequestOptions, credentials: Record<string, string>): Promise<HttpResponse> {
    // Protocol headers win over --header values; credentials win over both only where they are
    // set (a --header Authorization with no auth hook is the user's credential and stays).
    const headers = { ...credentials, ...r.headers };
    if (credentials.authorization) headers.authorization = credentials.authorization;
    // The timeout covers the wait for the response headers only: a flowing answer is watched by
    // the relay's per-request budget instead.
    // A host request (headersTimeoutMs 0: its budget watches it) needs no deadline of its own:
    // one AbortController and one AbortSignal.any input fewer per request (docs/performance.md).
    const headersDeadline = r.headersTimeoutMs ? new AbortController() : undefined;
    const timer = headersDeadline
      ? setTimeout(() => headersDeadline.abort(new DOMException('no response headers in time', 'TimeoutError')), r.headersTimeoutMs)
      : undefined;
    const signals = [r.signal ?? this.o.closing];
    if (headersDeadline) signals.push(headersDeadline.signal);
    if (r.signal) signals.push(this.o.closing);
    try {
      return await this.o.fetch(this.o.url, { method, headers, body: r.body, signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) });
    } catch (err) {
      if (this.o.closing.aborted) throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down', { cause: err });
      throw networkError(headersDeadline?.signal.aborted ? headersDeadline.signal.reason : err, this.o.url);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** How an answer body is to be read, by its media type (MCP transports: JSON or an SSE stream). */
export type AnswerKind = 'json' | 'sse' | undefined;

export function answerKind(res: ResponseLike): AnswerKind {
  const type = mediaType(res);
  return type === 'application/json' ? 'json' : type === 'text/event-stream' ? 'sse' : undefined;
}

/** The error for an answer of any other media type (its body is cancelled). */
export async function unexpectedAnswer(res: ResponseLike): Promise<RelayError> {
  await res.body?.cancel().catch(() => {});
  const type = mediaType(res);
  return new RelayError('REMOTE_PROTOCOL', `the server answered with content type "${type || 'none'}"; expected application/json or text/event-stream`, {
    status: res.status,
  });
}

function mediaType(res: ResponseLike): string {
  return (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}
