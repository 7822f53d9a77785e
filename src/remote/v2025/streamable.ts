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
 * - 401/403 go to the auth coordinator with the full parsed WWW-Authenticate challenge;
 * - messages are forwarded as the raw text the host sent, not re-validated and re-serialised.
 */
import type { HttpBody, HttpResponse } from '../../http/node-http.js';
import { RelayError, describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { errorResponse, isRequest, isResponse, RELAY_ERROR, REQUEST_TIMEOUT, type JsonRpcId, type JsonRpcMessage, type RawMessage } from '../../jsonrpc/messages.js';
import { bearerChallenge } from '../../http/challenge.js';
import { httpError } from '../../http/http-error.js';
import { networkError } from '../../http/net-errors.js';
import { readSseStream } from '../../http/sse-reader.js';
import { decodeMessages } from '../../jsonrpc/json-bytes.js';
import { runGetStream } from './get-stream.js';
import type { Remote, RemoteOptions } from '../types.js';
import { sleep } from '../../sleep.js';

/** Resume a broken answer stream at most this often before answering with an error. */
const MAX_STREAM_RESUMES = 3;
/** Backoff before resuming a broken answer stream (when the server sends no `retry:`). */
const GET_BACKOFF_INITIAL_MS = 1_000;
/** A 401 right after fresh credentials: try this many times before giving up on the request. */
const MAX_AUTH_ATTEMPTS = 3;
/** DELETE on shutdown must not hold the exit up for long. */
const DELETE_TIMEOUT_MS = 2_000;
const INTERNAL_ID_PREFIX = 'mcp-relay-internal-';

interface Exchange {
  /** Internal requests (re-initialize) are answered to a waiter, not the host. */
  internal: boolean;
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

  constructor(private readonly opts: RemoteOptions) {}

  private get log(): Logger {
    return this.opts.log;
  }

  async send(msg: JsonRpcMessage, raw: string): Promise<void> {
    if (isRequest(msg) && msg.method === 'initialize') this.initRequest = msg;
    await this.exchange(msg, raw, { internal: false });
  }

  private async exchange(msg: JsonRpcMessage, raw: string, ex: Exchange): Promise<void> {
    const request = isRequest(msg);
    for (let attempt = 1; ; attempt++) {
      if (this.closing.signal.aborted) throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down');
      // A session being re-established (404 seen elsewhere, e.g. on the GET stream) must finish
      // first, or this request would leave without a session id and get a 400.
      if (this.recovering && !ex.internal) await this.recovering.catch(() => undefined);
      const authorization = await this.opts.auth?.authorization();
      const sentSession = this.sessionId;
      const res = await this.fetch('POST', raw, authorization);
      if (msg.method === 'initialize') {
        const sid = res.headers.get('mcp-session-id');
        if (sid) this.sessionId = sid;
      }
      const challenge = res.status === 401 || res.status === 403 ? bearerChallenge(res.headers) : undefined;
      if (challenge && this.opts.auth && (res.status === 401 || challenge.error === 'insufficient_scope')) {
        await res.body?.cancel().catch(() => {});
        if (attempt >= MAX_AUTH_ATTEMPTS) {
          throw new RelayError('AUTH_FAILED', `the server keeps refusing fresh credentials (HTTP ${res.status}); run \`mcp-relay logout ${this.opts.url.href}\` and try again`, { status: res.status });
        }
        await this.opts.auth.unauthorized({ status: res.status as 401 | 403, challenge, rejected: authorization });
        continue;
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
        if (request) throw new RelayError('REMOTE_PROTOCOL', `the server accepted the request with HTTP ${res.status} but sent no answer`, { status: res.status });
        return;
      }
      await this.readAnswer(res, msg.id as JsonRpcId);
      if (!this.getStream && !this.getRefused && this.sessionId && this.initRequest && msg.method !== 'initialize') this.openGetStream();
      return;
    }
  }

  /** Read the answer to a POSTed request: a JSON body, or an SSE stream read in the background. */
  private async readAnswer(res: HttpResponse, id: JsonRpcId): Promise<void> {
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json') {
      let bytes: Buffer;
      try {
        bytes = Buffer.from(await res.arrayBuffer());
      } catch (err) {
        throw networkError(err, this.opts.url);
      }
      const decoded = decodeMessages([bytes]);
      if (!decoded.ok) throw new RelayError('REMOTE_PROTOCOL', decoded.reason === 'not JSON' ? 'the server answered with invalid JSON' : 'the server answered with JSON that is not a JSON-RPC message');
      let answered = false;
      for (const { msg, raw } of decoded.messages) {
        if (isResponse(msg) && msg.id === id) answered = true;
        this.onServerMessage(msg, raw);
      }
      if (!answered) throw new RelayError('REMOTE_PROTOCOL', 'the server answered with JSON that holds no response to this request');
      return;
    }
    if (type === 'text/event-stream' && res.body) {
      void this.followStream(res.body, id, 0);
      return;
    }
    await res.body?.cancel().catch(() => {});
    throw new RelayError('REMOTE_PROTOCOL', `the server answered with content type "${type || 'none'}"; expected application/json or text/event-stream`);
  }

  /** Read an answer stream to the end; resume it if it breaks before the answer, else answer with an error. */
  private async followStream(body: HttpBody, id: JsonRpcId, resumes: number): Promise<void> {
    let answered = false;
    const outcome = await readSseStream(body, {
      idleMs: this.opts.requestTimeoutMs,
      signal: this.closing.signal,
      ready: this.opts.hostReady,
      onMessage: (m, raw) => {
        if (isResponse(m) && m.id === id) answered = true;
        this.onServerMessage(m, raw);
      },
      onBadEvent: (reason) => this.log.warn(`server sent ${reason}; ignored`),
    });
    if (answered || this.closing.signal.aborted) return;
    if (outcome.idle) {
      this.answerWithError(id, REQUEST_TIMEOUT, `the server sent nothing for ${Math.round(this.opts.requestTimeoutMs / 1000)} s while answering this request (raise --timeout if this is expected)`);
      return;
    }
    // MCP 2025-11-25 transports, resumability: after a disconnection the client MAY resume with a
    // GET carrying Last-Event-ID; only possible when the server gave its events ids.
    if (outcome.lastEventId && resumes < MAX_STREAM_RESUMES) {
      await sleep(outcome.retryMs ?? GET_BACKOFF_INITIAL_MS * 2 ** resumes, this.closing.signal);
      try {
        const res = await this.fetch('GET', undefined, await this.opts.auth?.authorization(), outcome.lastEventId);
        if (res.ok && res.body) {
          this.log.info('answer stream broke; resumed it with Last-Event-ID');
          return this.followStream(res.body, id, resumes + 1);
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
    this.recovering ??= this.reinitialize().finally(() => {
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
    try {
      await this.exchange(request, JSON.stringify(request), { internal: true });
    } catch (err) {
      this.waiters.delete(id);
      throw err;
    }
    const reply = await answer;
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
      open: async (lastEventId, stop) => this.fetch('GET', undefined, await this.opts.auth?.authorization(), lastEventId, stop),
      session: () => this.sessionId,
      onMessage: (m, raw) => this.onServerMessage(m, raw),
      ready: this.opts.hostReady,
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

  private async fetch(method: 'GET' | 'POST', body: string | undefined, authorization: string | undefined, lastEventId?: string, signal?: AbortSignal): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...this.opts.headers };
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      headers.accept = 'application/json, text/event-stream';
    } else {
      headers.accept = 'text/event-stream';
    }
    if (authorization) headers.authorization = authorization;
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    if (lastEventId) headers['last-event-id'] = lastEventId;
    // The timeout covers the wait for the response headers only: an answer stream that is
    // flowing must not be cut off (its silence is watched by the SSE reader instead).
    const headersDeadline = new AbortController();
    const timer = method === 'POST' && this.opts.requestTimeoutMs
      ? setTimeout(() => headersDeadline.abort(new DOMException('no response headers in time', 'TimeoutError')), this.opts.requestTimeoutMs)
      : undefined;
    try {
      return await this.opts.fetch(this.opts.url, { method, headers, body, signal: AbortSignal.any([signal ?? this.closing.signal, headersDeadline.signal]) });
    } catch (err) {
      if (this.closing.signal.aborted) throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down', { cause: err });
      throw networkError(err, this.opts.url);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const session = this.sessionId;
    this.getStream?.abort.abort();
    if (session) {
      // MCP 2025-11-25 transports, session management: clients SHOULD DELETE a session they no longer need.
      try {
        const res = await this.opts.fetch(this.opts.url, {
          method: 'DELETE',
          headers: {
            ...this.opts.headers,
            'mcp-session-id': session,
            ...(this.protocolVersion ? { 'mcp-protocol-version': this.protocolVersion } : {}),
            ...(await this.authHeader()),
          },
          signal: AbortSignal.timeout(DELETE_TIMEOUT_MS),
        });
        await res.body?.cancel().catch(() => {});
        this.log.debug(`session ended (DELETE answered ${res.status})`);
      } catch (err) {
        this.log.debug(`DELETE of the session failed: ${describeError(err)}`);
      }
    }
    this.closing.abort();
  }

  private async authHeader(): Promise<Record<string, string>> {
    const a = await this.opts.auth?.authorization().catch(() => undefined);
    return a ? { authorization: a } : {};
  }
}
