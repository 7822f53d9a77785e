/**
 * The OAuth loopback redirect listener (RFC 8252 §7.3, §8.3).
 *
 * Contract: binds node:http directly on a loopback address and keeps that socket for the whole
 * flow. (get-port only probes a port by binding and closing it; probing then binding would let
 * another process take the port in between.) It answers exactly one valid authorization
 * response for the state it waits for, then closes; stale tabs, forged hosts and cross-origin
 * requests are answered but never complete the flow. Codes and states are never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import type { AddressInfo } from 'node:net';
import getPort from 'get-port';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_BRAND, callbackReplies, sendReply, type CallbackReplies, type Reply } from './callback-pages.js';

/**
 * Preferred ports live in 33418–49151: above the ports dev servers and debuggers like
 * (3000, 5173, 8080, 9229, …) and below the IANA dynamic range (49152+) that macOS and Windows
 * hand out as outgoing source ports. Linux's ephemeral range (32768–60999) overlaps it, so a
 * preferred port can occasionally be busy: callers treat `undefined` from bindCallbackServer
 * as "busy" and fall back.
 */
export const PREFERRED_PORT_MIN = 33_418;
export const PREFERRED_PORT_MAX = 49_151;
/** RFC 8252 §8.3: loopback IP literal rather than "localhost" (which may resolve elsewhere). */
export const DEFAULT_CALLBACK_HOST = '127.0.0.1';
export const DEFAULT_CALLBACK_PATH = '/callback';
/** How often bindAnyCallbackServer picks a new port after losing a bind race to another process. */
const BIND_RACE_ATTEMPTS = 5;
/** Requests that arrive before waitForCallback() are held, up to this many (a tab or two, reloads). */
const MAX_HELD_REQUESTS = 8;
/** After the final response, connections still open are cut after this long (ms) so the port frees. */
const CLOSE_GRACE_MS = 1_000;
/** Longest error / error_description we repeat to the user (characters). */
const MAX_ERROR_TEXT = 300;
/** The only query parameters the listener reads (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207 `iss`). */
const RESPONSE_PARAMS = ['code', 'state', 'iss', 'error', 'error_description'] as const;

export interface CallbackResult {
  code: string;
  state: string;
  /** RFC 9207 issuer identifier, when the authorization server sent one; the caller verifies it. */
  iss?: string;
}

export interface CallbackServer {
  /** The bound address (127.x or ::1; "localhost" binds 127.0.0.1). */
  readonly host: string;
  readonly port: number;
  /** `http://<host>:<port><path>`, with the host as the caller named it ("localhost" stays). */
  readonly redirectUri: string;
  /**
   * Wait for the authorization response carrying `expectedState`. Responses that arrived before
   * this call were held and are answered now. Rejects with `AUTH_FAILED` (authorization server
   * `error=`, cancelled via `signal`, listener closed) or `AUTH_TIMEOUT`; the listener is closed
   * (port released) before it settles either way, except on success where it closes right after.
   */
  waitForCallback(expectedState: string, opts: { timeoutMs: number; signal?: AbortSignal; retryHint?: string }): Promise<CallbackResult>;
  /** Stop listening, answer held requests, reject a pending waiter. Idempotent. */
  close(): Promise<void>;
}

export interface BindCallbackOptions {
  /** Loopback only: 127.0.0.0/8, ::1 or "localhost" (bound as 127.0.0.1). Default 127.0.0.1. */
  host?: string;
  port: number;
  /** Path of the redirect URI. Default "/callback". */
  path?: string;
  log: Logger;
  /** Name shown on the browser pages. */
  brand?: string;
}

export interface BindAnyCallbackOptions extends Omit<BindCallbackOptions, 'port'> {
  /** Ports never to use (e.g. a preferred port another process holds). */
  exclude?: number[];
  /** Picks a free port to try; default get-port. Injected by tests to simulate losing a race. */
  pickPort?: (opts: { host: string; exclude: number[] }) => Promise<number>;
}

/**
 * A stable port for a server, so a redirect URI registered with a static client (or cached in
 * a dynamic registration) keeps working across restarts. Derived from the server key (the
 * store's hex hash); spread over {@link PREFERRED_PORT_MIN}–{@link PREFERRED_PORT_MAX}.
 */
export function preferredCallbackPort(serverKey: string): number {
  const digest = createHash('sha256').update(serverKey).digest();
  const span = PREFERRED_PORT_MAX - PREFERRED_PORT_MIN + 1;
  return PREFERRED_PORT_MIN + (digest.readUInt32BE(0) % span);
}

interface Loopback {
  bindHost: string;
  urlHost: string;
}

/** RFC 8252 §8.3: the listener must only be reachable from this machine. */
function resolveLoopback(host: string): Loopback {
  const h = host.trim().toLowerCase();
  if (h === 'localhost') return { bindHost: DEFAULT_CALLBACK_HOST, urlHost: 'localhost' };
  if (h === '::1' || h === '[::1]') return { bindHost: '::1', urlHost: '[::1]' };
  if (isIPv4(h) && h.startsWith('127.')) return { bindHost: h, urlHost: h };
  throw new RelayError('BAD_CONFIG', `callback host must be a loopback address (127.0.0.1, ::1 or localhost), got ${JSON.stringify(host)}`);
}

function validatePath(path: string): string {
  if (!/^\/[A-Za-z0-9\-._~/]*$/.test(path) || path.startsWith('//')) {
    throw new RelayError('BAD_CONFIG', `callback path must be a plain absolute path like "/callback", got ${JSON.stringify(path)}`);
  }
  return path;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Bind the callback listener on `host:port`.
 * @returns the listener, or `undefined` when the port is in use (the caller decides what that means).
 * @throws RelayError `BAD_CONFIG` for a non-loopback host, a bad path, or a port we may not bind.
 */
export async function bindCallbackServer(opts: BindCallbackOptions): Promise<CallbackServer | undefined> {
  const where = resolveLoopback(opts.host ?? DEFAULT_CALLBACK_HOST);
  const path = validatePath(opts.path ?? DEFAULT_CALLBACK_PATH);
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) {
    throw new RelayError('BAD_CONFIG', `callback port must be an integer 0–65535, got ${opts.port}`);
  }
  const server = createServer();
  try {
    await listen(server, opts.port, where.bindHost);
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'EADDRINUSE') return undefined;
    const code = errno === 'EACCES' || errno === 'EADDRNOTAVAIL' ? 'BAD_CONFIG' : 'AUTH_FAILED';
    throw new RelayError(code, `could not listen for the login callback on ${where.urlHost}:${opts.port} (${errno ?? 'error'})`, { cause: err });
  }
  const port = (server.address() as AddressInfo).port;
  return new CallbackListener(server, where, port, path, opts.log, callbackReplies(opts.brand ?? DEFAULT_BRAND));
}

/**
 * Bind the callback listener on any free loopback port. The port is bound directly (never
 * probed then bound); losing a race to another process just means trying another port.
 */
export async function bindAnyCallbackServer(opts: BindAnyCallbackOptions): Promise<CallbackServer> {
  const { bindHost } = resolveLoopback(opts.host ?? DEFAULT_CALLBACK_HOST);
  const exclude = opts.exclude ?? [];
  const pick = opts.pickPort ?? ((o: { host: string; exclude: number[] }) => getPort(o));
  for (let attempt = 1; attempt <= BIND_RACE_ATTEMPTS; attempt++) {
    const port = await pick({ host: bindHost, exclude });
    // get-port applies `exclude` to the ports it was asked about, not to the OS-assigned one.
    if (exclude.includes(port)) continue;
    const server = await bindCallbackServer({ ...opts, port });
    if (server) return server;
    opts.log.debug({ port, attempt }, 'callback port was taken before we could bind it; trying another');
  }
  throw new RelayError('AUTH_FAILED', `could not bind a free loopback port for the login callback after ${BIND_RACE_ATTEMPTS} attempts`);
}

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

class CallbackListener implements CallbackServer {
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
      [where.urlHost, where.bindHost.includes(':') ? `[${where.bindHost}]` : where.bindHost, 'localhost', '127.0.0.1', '[::1]'].map(
        (h) => `${h}:${port}`,
      ),
    );
    server.on('request', (req, res) => this.onRequest(req, res));
  }

  waitForCallback(
    expectedState: string,
    opts: { timeoutMs: number; signal?: AbortSignal; retryHint?: string },
  ): Promise<CallbackResult> {
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
