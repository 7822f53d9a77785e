/**
 * The Streamable HTTP client side of the relay (MCP 2025-11-25, basic/transports).
 *
 * Ours rather than the SDK's StreamableHTTPClientTransport, because a relay needs what that one
 * does not do (checked against SDK 1.32.x):
 * - every request it accepted gets exactly one answer: when an answer stream ends or goes silent
 *   without the response, it resumes with Last-Event-ID or answers with an error, instead of
 *   reporting an unattributed `onerror` and leaving the host waiting forever;
 * - a 404 for a known session starts a new session with the host's original `initialize` and
 *   retries, instead of throwing and keeping the stale session id;
 * - 401/403 go to the auth coordinator with the full parsed WWW-Authenticate challenge (exchange.ts);
 * - messages are forwarded as the raw text the host sent, not re-validated and re-serialised.
 */
import type { HttpBody, HttpResponse } from '../../http/node-http.js';
import { RelayError, describeError, isRelayError } from '../../errors.js';
import { readBounded, type Bounds } from '../../http/bounded.js';
import { MAX_MESSAGE_BYTES } from '../../jsonrpc/limits.js';
import type { Logger } from '../../log.js';
import {
  errorResponse,
  isRequest,
  isResponse,
  RELAY_ERROR,
  REQUEST_TIMEOUT,
  type JsonRpcId,
  type JsonRpcMessage,
  type RawMessage,
} from '../../jsonrpc/messages.js';
import { httpError } from '../../http/http-error.js';
import { networkError } from '../../http/net-errors.js';
import { readSseStream } from '../../http/sse-reader.js';
import { decodeMessages } from '../../jsonrpc/json-bytes.js';
import { runGetStream } from './get-stream.js';
import { answerKind, Exchange as HttpExchange, unexpectedAnswer } from '../exchange.js';
import { heldReady, ownDeadline } from '../watch.js';
import type { Remote, RemoteOptions, RequestWatch } from '../types.js';
import { sleep } from '../../sleep.js';

/** Resume a broken answer stream at most this often before answering with an error. */
const MAX_STREAM_RESUMES = 3;
/** Backoff before resuming a broken answer stream (when the server sends no `retry:`). */
const GET_BACKOFF_INITIAL_MS = 1_000;
/** The idle check for --ping-interval runs at least this far apart. */
const MIN_PING_CHECK_MS = 250;
/** DELETE on shutdown must not hold the exit up for long. */
const DELETE_TIMEOUT_MS = 2_000;
const INTERNAL_ID_PREFIX = 'mcp-relay-internal-';

interface Exchange {
  /** Internal requests (re-initialize) are answered to a waiter, not the host. */
  internal: boolean;
  /** An internal request's own deadline (ownDeadline), in place of a host request's budget. */
  watch?: RequestWatch;
}

export class StreamableHttpRemote implements Remote {
  readonly kind = 'http' as const;
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  /** The host's original initialize request, re-sent when the server forgets the session. */
  private initRequest: JsonRpcMessage | undefined;
  private recovering: Promise<void> | undefined;
  private getStream: { abort: AbortController } | undefined;
  /** Server answered the GET with 405: it offers no standalone stream. */
  private getRefused = false;
  private readonly closing = new AbortController();
  private readonly waiters = new Map<JsonRpcId, (m: JsonRpcMessage) => void>();
  private internalSeq = 0;
  /** When the link last carried anything (a request sent, a message received), for --ping-interval. */
  private lastActivity = Date.now();
  private pinger: NodeJS.Timeout | undefined;

  private readonly http: HttpExchange;
  private readonly bounds: Bounds;

  constructor(private readonly opts: RemoteOptions) {
    this.http = new HttpExchange({ ...opts, closing: this.closing.signal });
    this.bounds = opts.bounds ?? { maxMessageBytes: MAX_MESSAGE_BYTES };
  }

  private get log(): Logger {
    return this.opts.log;
  }

  async send(msg: JsonRpcMessage, raw: string): Promise<void> {
    if (isRequest(msg) && msg.method === 'initialize') this.initRequest = msg;
    this.lastActivity = Date.now();
    await this.exchange(msg, raw, { internal: false });
    if (msg.method === 'notifications/initialized') this.startPinging();
  }

  /**
   * --ping-interval: while the link is idle, ping the server (MCP 2025-11-25 utilities/ping) so a
   * session the server or a proxy dropped is noticed, and re-established (404 → new initialize),
   * before the host's next request rather than by it.
   */
  private startPinging(): void {
    const every = this.opts.pingIntervalMs ?? 0;
    if (!every || this.pinger) return;
    this.pinger = setInterval(
      () => {
        if (Date.now() - this.lastActivity >= every && !this.recovering) void this.ping();
      },
      Math.max(MIN_PING_CHECK_MS, every / 2),
    );
    this.pinger.unref();
  }

  private async ping(): Promise<void> {
    this.lastActivity = Date.now();
    const id = `${INTERNAL_ID_PREFIX}${++this.internalSeq}`;
    const answer = new Promise<JsonRpcMessage>((resolve) => this.waiters.set(id, resolve));
    const msg = { jsonrpc: '2.0' as const, id, method: 'ping' };
    try {
      // Not `internal`: a 404 here starts a new session, exactly as a host request's would.
      await this.exchange(msg, JSON.stringify(msg), { internal: false });
      const reply = await answer;
      if (reply.error) this.log.debug(`ping answered with an error: ${reply.error.message}`);
    } catch (err) {
      this.waiters.delete(id);
      if (!this.closing.signal.aborted) this.log.warn(`ping to the server failed: ${describeError(err)}`);
    }
  }

  private async exchange(msg: JsonRpcMessage, raw: string, ex: Exchange): Promise<void> {
    const request = isRequest(msg);
    // The relay's own requests keep the --timeout of their own; the host's are held to their budget.
    const watch = ex.watch ?? (request && !ex.internal ? this.opts.watch?.(msg.id as JsonRpcId) : undefined);
    for (let attempt = 1; ; attempt++) {
      // A session being re-established (404 seen elsewhere, e.g. on the GET stream) must finish
      // first, or this request would leave without a session id and get a 400.
      if (this.recovering && !ex.internal) await this.recovering.catch(() => undefined);
      const sentSession = this.sessionId;
      const res = await this.http.request('POST', {
        body: raw,
        headers: { ...this.sessionHeaders(), 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        headersTimeoutMs: watch ? 0 : this.opts.requestTimeoutMs,
        watch,
      });
      if (msg.method === 'initialize') {
        const sid = res.headers.get('mcp-session-id');
        if (sid) this.sessionId = sid;
      }
      // MCP 2025-11-25 transports, session management: a 404 for a request carrying a session id
      // means the session is gone; the client MUST start a new session by sending a new initialize.
      if (res.status === 404 && sentSession && msg.method !== 'initialize' && !ex.internal) {
        await res.body?.cancel().catch(() => {});
        if (attempt > 2) throw new RelayError('SESSION_EXPIRED', 'the server keeps forgetting the session', { status: 404 });
        await this.recoverSession(sentSession);
        continue;
      }
      if (!res.ok) throw await httpError(res, this.opts.url);
      if (res.status === 202 || !request) {
        await res.body?.cancel().catch(() => {});
        if (msg.method === 'notifications/initialized') this.openGetStream();
        // A request must be answered: 202 is only for notifications and responses (MCP 2025-11-25 transports).
        if (request)
          throw new RelayError('REMOTE_PROTOCOL', `the server accepted the request with HTTP ${res.status} but sent no answer`, { status: res.status });
        return;
      }
      await this.readAnswer(res, msg.id as JsonRpcId, watch);
      if (!this.getStream && !this.getRefused && this.sessionId && this.initRequest && msg.method !== 'initialize') this.openGetStream();
      return;
    }
  }

  /** Read the answer to a POSTed request: a JSON body, or an SSE stream read in the background. */
  private async readAnswer(res: HttpResponse, id: JsonRpcId, watch: RequestWatch | undefined): Promise<void> {
    const kind = answerKind(res);
    if (kind === 'json') {
      let bytes: Buffer;
      try {
        // A JSON answer is one message: no progress until it is all in (the relay's clock covers the wait).
        watch?.phase('reading its JSON answer');
        bytes = await readBounded(res, this.bounds);
      } catch (err) {
        throw networkError(err, this.opts.url);
      }
      const decoded = decodeMessages([bytes]);
      if (!decoded.ok)
        throw new RelayError(
          'REMOTE_PROTOCOL',
          decoded.reason === 'not JSON' ? 'the server answered with invalid JSON' : 'the server answered with JSON that is not a JSON-RPC message',
        );
      let answered = false;
      for (const { msg, raw } of decoded.messages) {
        if (isResponse(msg) && msg.id === id) answered = true;
        this.onServerMessage(msg, raw);
      }
      if (!answered) throw new RelayError('REMOTE_PROTOCOL', 'the server answered with JSON that holds no response to this request');
      return;
    }
    if (kind === 'sse' && res.body) {
      void this.followStream(res.body, id, 0, watch);
      return;
    }
    throw await unexpectedAnswer(res);
  }

  /** Read an answer stream to the end; resume it if it breaks before the answer, else answer with an error. */
  private async followStream(body: HttpBody, id: JsonRpcId, resumes: number, watch: RequestWatch | undefined): Promise<void> {
    let answered = false;
    watch?.phase('streaming its answer (SSE)');
    const outcome = await readSseStream(body, {
      idleMs: watch ? 0 : this.opts.requestTimeoutMs,
      signal: this.closing.signal,
      alsoSignal: watch?.signal,
      bounds: this.bounds,
      ready: heldReady(this.opts.hostReady, watch),
      onMessage: (m, raw) => {
        watch?.progress();
        if (isResponse(m) && m.id === id) answered = true;
        this.onServerMessage(m, raw);
      },
      onBadEvent: (reason) => this.log.warn(`server sent ${reason}; ignored`),
    });
    if (answered || this.closing.signal.aborted || watch?.signal.aborted) return;
    if (isRelayError(outcome.error, 'REMOTE_TOO_LARGE')) {
      this.answerWithError(id, RELAY_ERROR, `the server's answer stream: ${outcome.error.message}`);
      return;
    }
    if (outcome.idle) {
      this.answerWithError(
        id,
        REQUEST_TIMEOUT,
        `the server sent nothing for ${Math.round(this.opts.requestTimeoutMs / 1000)} s while answering this request (raise --timeout if this is expected)`,
      );
      return;
    }
    // MCP 2025-11-25 transports, resumability: after a disconnection the client MAY resume with a
    // GET carrying Last-Event-ID; only possible when the server gave its events ids.
    if (outcome.lastEventId && resumes < MAX_STREAM_RESUMES) {
      await sleep(outcome.retryMs ?? GET_BACKOFF_INITIAL_MS * 2 ** resumes, this.closing.signal);
      try {
        const res = await this.http.request('GET', {
          headers: { ...this.sessionHeaders(outcome.lastEventId), accept: 'text/event-stream' },
          authRetry: false,
          watch,
        });
        if (res.ok && res.body) {
          this.log.info('answer stream broke; resumed it with Last-Event-ID');
          return this.followStream(res.body, id, resumes + 1, watch);
        }
        await res.body?.cancel().catch(() => {});
      } catch (err) {
        this.log.debug({ err }, 'resuming the answer stream failed');
      }
    }
    const why = outcome.error ? `the connection broke (${describeError(networkError(outcome.error, this.opts.url))})` : 'the server closed the stream';
    this.answerWithError(id, RELAY_ERROR, `${why} before answering this request; the relay is still running, retry the request`);
  }

  private onServerMessage(m: JsonRpcMessage, raw: RawMessage | undefined): void {
    this.lastActivity = Date.now();
    if (isResponse(m)) {
      const waiter = this.waiters.get(m.id);
      if (waiter) {
        this.waiters.delete(m.id);
        waiter(m);
        return;
      }
      if (this.initRequest && m.id === this.initRequest.id) this.noteInitializeResult(m);
    }
    this.opts.deliver(m, raw);
  }

  private noteInitializeResult(m: JsonRpcMessage): void {
    const version = (m.result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    // MCP 2025-11-25 transports, protocol version header: the client MUST send MCP-Protocol-Version
    // with the negotiated version on every subsequent request.
    if (typeof version === 'string') this.protocolVersion = version;
  }

  private answerWithError(id: JsonRpcId, code: number, message: string): void {
    this.log.warn(`request ${JSON.stringify(id)}: ${message}`);
    const waiter = this.waiters.get(id);
    const msg = errorResponse(id, code, message);
    if (waiter) {
      this.waiters.delete(id);
      waiter(msg);
    } else {
      this.opts.deliver(msg);
    }
  }

  /** Single-flight: start a new session with the host's original initialize (see exchange()). */
  private recoverSession(staleSession: string): Promise<void> {
    if (this.sessionId !== staleSession) return Promise.resolve(); // someone already did
    this.recovering ??= this.reinitialize()
      .catch((err: unknown) => {
        // A failed re-initialize must not leave the relay without a session for good (every later
        // request would go without an id and get HTTP 400): with the stale id back, the next
        // request meets the 404 again and starts another attempt. (Found by invariants.test.ts.)
        this.sessionId ??= staleSession;
        throw err;
      })
      .finally(() => {
        this.recovering = undefined;
      });
    return this.recovering;
  }

  private async reinitialize(): Promise<void> {
    const init = this.initRequest;
    this.sessionId = undefined;
    this.getStream?.abort.abort();
    this.getStream = undefined;
    if (!init) throw new RelayError('SESSION_EXPIRED', 'the server ended the session before it was initialized', { status: 404 });
    this.log.info('the server forgot our session (HTTP 404); starting a new one with the original initialize');
    const id = `${INTERNAL_ID_PREFIX}${++this.internalSeq}`;
    const answer = new Promise<JsonRpcMessage>((resolve) => this.waiters.set(id, resolve));
    const request = { ...init, id };
    // Host requests wait for this one, so it has a limit in all: --timeout, for its one answer (an
    // answer stream of garbage or of notifications would otherwise hold them forever).
    const deadline = ownDeadline(this.opts.requestTimeoutMs);
    const expired = new Promise<JsonRpcMessage>((resolve) => {
      const message = `no answer within ${Math.round(this.opts.requestTimeoutMs / 1000)} s (the --timeout limit)`;
      deadline.signal.addEventListener('abort', () => resolve(errorResponse(id, REQUEST_TIMEOUT, message)), { once: true });
    });
    let reply: JsonRpcMessage;
    try {
      await this.exchange(request, JSON.stringify(request), { internal: true, watch: deadline });
      reply = await Promise.race([answer, expired]);
    } finally {
      this.waiters.delete(id);
      deadline.end();
    }
    if (reply.error) throw new RelayError('SESSION_EXPIRED', `re-initializing the session failed: ${reply.error.message}`);
    this.noteInitializeResult(reply);
    const initialized = { jsonrpc: '2.0' as const, method: 'notifications/initialized' };
    await this.exchange(initialized, JSON.stringify(initialized), { internal: true });
  }

  /** The standalone GET stream for server-initiated messages; reconnects with backoff while open. */
  private openGetStream(): void {
    if (this.getStream || this.getRefused || this.closing.signal.aborted) return;
    const abort = new AbortController();
    this.getStream = { abort };
    void this.runGetStream(abort.signal).finally(() => {
      if (this.getStream?.abort === abort) this.getStream = undefined;
    });
  }

  private runGetStream(signal: AbortSignal): Promise<void> {
    return runGetStream({
      stop: AbortSignal.any([signal, this.closing.signal]),
      // A background stream does not start a login; a host request will, and the next attempt picks up the token.
      open: (lastEventId, stop) =>
        this.http.request('GET', { headers: { ...this.sessionHeaders(lastEventId), accept: 'text/event-stream' }, signal: stop, authRetry: false }),
      session: () => this.sessionId,
      onMessage: (m, raw) => this.onServerMessage(m, raw),
      ready: this.opts.hostReady,
      bounds: this.bounds,
      onRefused: () => {
        this.getRefused = true;
      },
      onSessionGone: (session) => {
        this.getStream = undefined;
        this.recoverSession(session).catch((err) => this.log.warn(`could not start a new session: ${describeError(err)}`));
      },
      url: this.opts.url,
      log: this.log,
    });
  }

  /** The session's headers (MCP 2025-11-25 transports: session id, negotiated version, Last-Event-ID when resuming). */
  private sessionHeaders(lastEventId?: string): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    // MCP 2025-11-25 transports, protocol version header: the client MUST send MCP-Protocol-Version
    // with the negotiated version on every subsequent request.
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    if (lastEventId) headers['last-event-id'] = lastEventId;
    return headers;
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    const session = this.sessionId;
    this.getStream?.abort.abort();
    if (session) {
      // MCP 2025-11-25 transports, session management: clients SHOULD DELETE a session they no longer need.
      try {
        const res = await this.http.request('DELETE', { headers: this.sessionHeaders(), signal: AbortSignal.timeout(DELETE_TIMEOUT_MS), authRetry: false });
        await res.body?.cancel().catch(() => {});
        this.log.debug(`session ended (DELETE answered ${res.status})`);
      } catch (err) {
        this.log.debug(`DELETE of the session failed: ${describeError(err)}`);
      }
    }
    this.closing.abort();
  }
}
