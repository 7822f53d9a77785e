/**
 * The loopback callback listener's request handling: one authorization response per flow,
 * checked for DNS rebinding (Host), cross-origin scripting (Origin), state and error=.
 * Bound by ./callback.ts, which owns port choice and binding.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import { sendReply, type CallbackReplies, type Reply } from './callback-pages.js';
import type { CallbackResult, CallbackServer, Loopback } from './callback.js';

/** Requests that arrive before waitForCallback() are held, up to this many (a tab or two, reloads). */
const MAX_HELD_REQUESTS = 8;
/** After the final response, connections still open are cut after this long (ms) so the port frees. */
const CLOSE_GRACE_MS = 1_000;
/** Longest error / error_description we repeat to the user (characters). */
const MAX_ERROR_TEXT = 300;
/** The only query parameters the listener reads (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207 `iss`). */
const RESPONSE_PARAMS = ['code', 'state', 'iss', 'error', 'error_description'] as const;

interface Waiter {
  expectedState: string;
  resolve(result: CallbackResult): void;
  reject(err: RelayError): void;
  cleanup(): void;
}

type Params = Partial<Record<(typeof RESPONSE_PARAMS)[number], string>>;

/** RFC 6749 §4.1.2.1 limits error text to printable ASCII; shorten and replace anything else. */
function sanitize(text: string | undefined): string {
  if (!text) return '';
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > MAX_ERROR_TEXT ? `${clean.slice(0, MAX_ERROR_TEXT)}…` : clean;
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export class CallbackListener implements CallbackServer {
  readonly host: string;
  readonly redirectUri: string;
  private readonly allowedHosts: Set<string>;
  private readonly held: { params: URLSearchParams; res: ServerResponse }[] = [];
  private waiter: Waiter | undefined;
  private finished = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly server: Server,
    where: Loopback,
    readonly port: number,
    private readonly path: string,
    private readonly log: Logger,
    private readonly replies: CallbackReplies,
  ) {
    this.host = where.bindHost;
    this.redirectUri = `http://${where.urlHost}:${port}${path}`;
    // DNS-rebinding guard: a page on evil.example that re-points its name at 127.0.0.1 still
    // sends "Host: evil.example:<port>"; only names that really mean this machine pass.
    this.allowedHosts = new Set(
      [where.urlHost, where.bindHost.includes(':') ? `[${where.bindHost}]` : where.bindHost, 'localhost', '127.0.0.1', '[::1]'].map((h) => `${h}:${port}`),
    );
    server.on('request', (req, res) => this.onRequest(req, res));
  }

  waitForCallback(expectedState: string, opts: { timeoutMs: number; signal?: AbortSignal; retryHint?: string }): Promise<CallbackResult> {
    if (this.closing || this.finished) {
      return Promise.reject(new RelayError('AUTH_FAILED', 'the login callback listener is already closed; start a new login'));
    }
    if (this.waiter) {
      return Promise.reject(new RelayError('AUTH_FAILED', 'a login is already waiting on this callback listener'));
    }
    if (!expectedState) return Promise.reject(new RelayError('AUTH_FAILED', 'cannot wait for a login without a state value'));
    const hint = opts.retryHint ?? 'run `mcp-relay login <server-url>` to try again';
    return new Promise<CallbackResult>((resolve, reject) => {
      // Detach first so close() does not reject with its own "closed" error, then release the
      // port before settling: a caller that retries can bind the same port at once.
      const fail = (err: RelayError) => {
        this.waiter?.cleanup();
        void this.close().then(() => reject(err));
      };
      const onAbort = () => {
        const reason: unknown = opts.signal?.reason;
        fail(reason instanceof RelayError ? reason : new RelayError('AUTH_FAILED', 'the login was cancelled', { cause: reason }));
      };
      const timer = setTimeout(() => {
        const seconds = Math.round(opts.timeoutMs / 1000);
        fail(new RelayError('AUTH_TIMEOUT', `no authorization response reached ${this.redirectUri} within ${seconds} s; ${hint}`));
      }, opts.timeoutMs);
      this.waiter = {
        expectedState,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          this.waiter = undefined;
        },
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      for (const { params, res } of this.held.splice(0)) this.answer(params, res);
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.finished = true;
      this.waiter?.reject(new RelayError('AUTH_FAILED', 'the login callback listener was closed before the login finished'));
      this.waiter?.cleanup();
      for (const { res } of this.held.splice(0)) {
        sendReply(res, this.replies.stopped());
      }
      const force = setTimeout(() => this.server.closeAllConnections(), CLOSE_GRACE_MS);
      force.unref();
      this.server.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.server.closeIdleConnections();
    });
    return this.closing;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.allowedHosts.has(host)) {
      this.log.warn('callback listener: ignored a request with an unexpected Host header (possible DNS rebinding)');
      return sendReply(res, this.replies.badHost());
    }
    if (req.headers.origin !== undefined) {
      this.log.warn('callback listener: refused a request sent by a web page (Origin header present)');
      return sendReply(res, this.replies.crossOrigin());
    }
    const target = req.url ?? '';
    const url = target.startsWith('/') && !target.startsWith('//') ? new URL(target, 'http://callback.invalid') : undefined;
    if (req.method !== 'GET' || !url || url.pathname !== this.path) {
      return sendReply(res, this.replies.notFound());
    }
    if (this.finished) return sendReply(res, this.replies.finished());
    if (this.waiter) return this.answer(url.searchParams, res);
    if (this.held.length >= MAX_HELD_REQUESTS) {
      return sendReply(res, this.replies.notReady());
    }
    this.log.debug('callback listener: holding an authorization response until the login starts waiting');
    this.held.push({ params: url.searchParams, res });
  }

  /** Judge one authorization response against the current waiter (RFC 6749 §4.1.2, §10.12). */
  private answer(query: URLSearchParams, res: ServerResponse): void {
    const waiter = this.waiter;
    if (this.finished || !waiter) return sendReply(res, this.replies.finished());
    const params: Params = {};
    for (const name of RESPONSE_PARAMS) {
      const values = query.getAll(name);
      // RFC 6749 §3.1: parameters MUST NOT be included more than once.
      if (values.length > 1) {
        this.log.warn(`callback listener: ignored a response with a repeated "${name}" parameter`);
        return sendReply(res, this.replies.malformed(`The "${name}" parameter appears more than once.`));
      }
      if (values[0] !== undefined) params[name] = values[0];
    }
    // A present but different state is a stale tab or a forged link (CSRF): answer it, keep
    // waiting, so it cannot kill the good flow. An error without any state is accepted, since
    // some servers omit it on errors; the worst it can do is cancel a login.
    if (params.state !== undefined && !sameSecret(params.state, waiter.expectedState)) {
      this.log.warn('callback listener: ignored a response whose state does not match the login in progress');
      return sendReply(res, this.replies.stale());
    }
    if (params.error !== undefined) {
      const error = sanitize(params.error);
      const description = sanitize(params.error_description);
      const message = `authorization server returned error "${error}"${description ? `: ${description}` : ''}`;
      this.log.warn({ error }, 'callback listener: the authorization server returned an error');
      return this.finish(res, this.replies.serverError(error, description), () => waiter.reject(new RelayError('AUTH_FAILED', message)));
    }
    if (params.state === undefined) {
      this.log.warn('callback listener: ignored a response without a state');
      return sendReply(res, this.replies.stale());
    }
    if (!params.code) {
      this.log.warn('callback listener: ignored a response without an authorization code');
      return sendReply(res, this.replies.malformed('The authorization code is missing.'));
    }
    const result: CallbackResult = { code: params.code, state: params.state };
    if (params.iss !== undefined) result.iss = params.iss;
    this.log.info('callback listener: received the authorization response');
    this.finish(res, this.replies.success(), () => waiter.resolve(result));
  }

  /** Serve the one final response, settle the waiter, and close once the response is flushed. */
  private finish(res: ServerResponse, reply: Reply, settle: () => void): void {
    this.finished = true;
    this.waiter?.cleanup();
    res.once('finish', () => void this.close());
    res.once('close', () => void this.close());
    sendReply(res, reply, true);
    for (const { res: other } of this.held.splice(0)) sendReply(other, this.replies.finished());
    settle();
  }
}
