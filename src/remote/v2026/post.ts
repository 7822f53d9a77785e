/**
 * One MCP 2026-07-28 HTTP exchange (basic/transports/streamable-http): POST one JSON-RPC request,
 * read the answer as JSON or as an SSE stream of related notifications ending with the response.
 * There are no sessions, no GET stream, no Last-Event-ID: a stream that breaks before the answer
 * is reported as `broken`, and the caller re-issues the request under a new id.
 */
import type { HttpResponse } from '../../http/node-http.js';
import { describeError, isRelayError, RelayError } from '../../errors.js';
import { readBounded, type Bounds } from '../../http/bounded.js';
import { MAX_MESSAGE_BYTES } from '../../jsonrpc/limits.js';
import { asMessage, isResponse, type JsonRpcMessage, type RawMessage } from '../../jsonrpc/messages.js';
import { httpError, httpErrorFromText } from '../../http/http-error.js';
import { networkError } from '../../http/net-errors.js';
import { readSseStream } from '../../http/sse-reader.js';
import { answerKind, Exchange, unexpectedAnswer } from '../exchange.js';
import type { RemoteOptions, RequestWatch } from '../types.js';
import { heldReady } from '../watch.js';

export interface PostOptions {
  /** The metadata headers for this message (see modern-headers.ts). */
  headers: Record<string, string>;
  /** Aborting it closes the answer stream, which the server MUST treat as cancellation. */
  signal?: AbortSignal | undefined;
  /** Silence on the answer stream this long ends the exchange as `idle` (0 = never). */
  idleMs: number;
  /** Ask the auth hook for fresh credentials on 401/403 (false: fail instead, e.g. for background streams). */
  authRetry?: boolean;
  /** The server took the request (response headers are in); called at most once. */
  onAccepted?: () => void;
  /** A notification on the answer stream (progress, log message, list_changed on a listen stream). */
  onNotification?: (msg: JsonRpcMessage, raw: RawMessage | undefined) => void;
  /** The host request this is sent for: its budget replaces `idleMs` and the headers timeout (types.ts). */
  watch?: RequestWatch | undefined;
}

export type PostOutcome =
  /** The JSON-RPC response to the request (a result, or an error, whatever the HTTP status). */
  | { kind: 'answer'; msg: JsonRpcMessage & { id: string | number }; raw: RawMessage | undefined; status: number }
  /** The answer stream ended or broke before the response. */
  | { kind: 'broken'; reason: string }
  /** The answer stream stayed silent for `idleMs`. */
  | { kind: 'idle' }
  /** `signal` aborted. */
  | { kind: 'aborted' };

/**
 * POST requests to one MCP endpoint, each through the one authorized exchange (exchange.ts).
 */
export class ModernHttp {
  private readonly closing = new AbortController();

  private readonly http: Exchange;
  private readonly bounds: Bounds;

  constructor(private readonly opts: RemoteOptions) {
    this.http = new Exchange({ ...opts, closing: this.closing.signal });
    this.bounds = opts.bounds ?? { maxMessageBytes: MAX_MESSAGE_BYTES };
  }

  /** host[:port] of the endpoint, for messages. */
  get host(): string {
    return this.opts.url.host;
  }

  /**
   * Send `msg` (a request) and wait for its answer. Throws a RelayError when the server did not
   * take it: network failure, an HTTP error without a JSON-RPC body, refused credentials, shutdown.
   */
  async post(msg: JsonRpcMessage & { id: string | number }, o: PostOptions): Promise<PostOutcome> {
    const body = JSON.stringify(msg);
    const stop = o.signal ? AbortSignal.any([o.signal, this.closing.signal]) : this.closing.signal;
    if (this.closing.signal.aborted) throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down');
    if (o.signal?.aborted) return { kind: 'aborted' };
    let res: HttpResponse;
    try {
      // 2026-07-28 streamable-http "Sending Messages": Accept MUST list both types, and every POST
      // carries the request metadata headers; authorization/index: the token on every request.
      res = await this.http.request('POST', {
        body,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...o.headers },
        signal: stop,
        headersTimeoutMs: o.watch ? 0 : this.opts.requestTimeoutMs,
        authRetry: o.authRetry,
        watch: o.watch,
      });
    } catch (err) {
      if ((o.signal?.aborted || o.watch?.signal.aborted) && !this.closing.signal.aborted) return { kind: 'aborted' };
      throw err;
    }
    return this.readAnswer(res, msg.id, o, stop);
  }

  private async readAnswer(res: HttpResponse, id: string | number, o: PostOptions, stop: AbortSignal): Promise<PostOutcome> {
    const kind = answerKind(res);
    if (kind === 'sse' && res.ok && res.body) {
      o.onAccepted?.();
      let answer: PostOutcome | undefined;
      // The final response SHOULD terminate the stream; stop reading once it is in either way.
      const answered = new AbortController();
      o.watch?.phase('streaming its answer (SSE)');
      const outcome = await readSseStream(res.body, {
        idleMs: o.watch ? 0 : o.idleMs,
        signal: AbortSignal.any([stop, answered.signal]),
        bounds: this.bounds,
        ready: heldReady(this.opts.hostReady, o.watch),
        onMessage: (m, raw) => {
          if (answer) return;
          o.watch?.progress();
          if (isResponse(m) && m.id === id) {
            answer = { kind: 'answer', msg: m, raw, status: res.status };
            answered.abort();
          } else if (m.method !== undefined && m.id === undefined) {
            o.onNotification?.(m, raw);
          } else {
            // 2026-07-28 streamable-http: "The server MUST NOT send independent JSON-RPC requests on this stream."
            this.opts.log.warn(`server sent ${m.method ? `a ${m.method} request` : 'an unrelated response'} on an answer stream; ignored`);
          }
        },
        onBadEvent: (reason) => this.opts.log.warn(`server sent ${reason}; ignored`),
      });
      if (answer) return answer;
      if (o.signal?.aborted || o.watch?.signal.aborted) return { kind: 'aborted' };
      if (this.closing.signal.aborted) throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down');
      if (outcome.idle) return { kind: 'idle' };
      // Not a broken stream to re-issue: the same request would bring the same oversized answer.
      if (isRelayError(outcome.error, 'REMOTE_TOO_LARGE')) throw outcome.error;
      const why = outcome.error ? `the connection broke (${describeError(networkError(outcome.error, this.opts.url))})` : 'the server closed the stream';
      return { kind: 'broken', reason: why };
    }
    if (kind === 'json') {
      let text: string;
      try {
        o.watch?.phase('reading its JSON answer');
        text = (await readBounded(res, this.bounds)).toString('utf8');
      } catch (err) {
        if (o.signal?.aborted || o.watch?.signal.aborted) return { kind: 'aborted' };
        if (isRelayError(err, 'REMOTE_TOO_LARGE')) throw err;
        if (res.ok) return { kind: 'broken', reason: `the connection broke (${describeError(networkError(err, this.opts.url))})` };
        throw networkError(err, this.opts.url);
      }
      const msg = parseMessage(text);
      // A modern server answers errors with a JSON-RPC body and a 4xx status (-32022 with 400,
      // -32601 with 404 …): that body is the answer. An error body without an id (e.g. a 403 from
      // an Origin check) is taken as the answer to this request too.
      if (msg && (isResponse(msg) || (msg.error && msg.id === null))) {
        o.onAccepted?.();
        return { kind: 'answer', msg: { ...msg, id } as JsonRpcMessage & { id: string | number }, raw: msg.id === id ? text : undefined, status: res.status };
      }
      if (!res.ok) throw httpErrorFromText(res.status, res.statusText, text, this.opts.url);
      throw new RelayError('REMOTE_PROTOCOL', 'the server answered with JSON that is not a JSON-RPC response');
    }
    if (!res.ok) throw await httpError(res, this.opts.url);
    throw await unexpectedAnswer(res);
  }

  close(): void {
    this.closing.abort();
  }
}

function parseMessage(text: string): JsonRpcMessage | undefined {
  try {
    return asMessage(JSON.parse(text));
  } catch {
    return undefined;
  }
}
