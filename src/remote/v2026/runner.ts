/**
 * The HTTP rules the relay itself must follow for every 2026-07-28 request, whoever wrote it
 * (a translated 2025 host request or a modern host's own): metadata headers from the body,
 * `Mcp-Param-*` from the last tools/list, re-issuing a request whose answer stream broke under a
 * new id, one tools/list refresh after a HeaderMismatch, and cancellation by closing the stream.
 */
import { describeError, RelayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { errorResponse, RELAY_ERROR, REQUEST_TIMEOUT, type JsonRpcId, type JsonRpcMessage, type RawMessage } from '../../jsonrpc/messages.js';
import { requestHeaders, screenTools, type HeaderParam } from './headers.js';
import type { ModernHttp } from './post.js';
import type { RequestWatch } from '../types.js';
import { sleep } from '../../sleep.js';

/**
 * 2026-07-28 changelog: "A broken response stream loses the in-flight request; clients MUST
 * re-issue it as a new request with a new request ID." Bounded, because the protocol has no
 * idempotency key and a server that keeps dropping the stream would otherwise loop forever.
 */
export const MAX_REISSUES = 2;
/** Pause before a re-issue, doubling each time, so a restarting server gets a moment. */
const REISSUE_DELAY_MS = 200;
const REISSUE_DELAY_MAX_MS = 30_000;
/** HeaderMismatch (2026-07-28 streamable-http, Server Validation). */
export const HEADER_MISMATCH = -32020;
/** Pages of tools/list fetched when refreshing the x-mcp-header annotations. */
const MAX_TOOL_PAGES = 10;

export interface ExchangeOptions {
  /** Upstream id of the first attempt (the host's own id when it can be kept). */
  firstId?: JsonRpcId | undefined;
  signal: AbortSignal;
  /** Silence on the answer stream this long fails the request (0 = never). */
  idleMs: number;
  onAccepted?: () => void;
  onNotification(msg: JsonRpcMessage, raw: RawMessage | undefined): void;
  /** Re-issues after broken streams (default MAX_REISSUES; Infinity for a listen stream, whose count restarts after each notification). */
  maxReissues?: number;
  /** The host request's budget (types.ts), for every attempt and re-issue. */
  watch?: RequestWatch | undefined;
}

export type ExchangeResult =
  | { kind: 'answer'; msg: JsonRpcMessage & { id: JsonRpcId }; raw: RawMessage | undefined }
  /** The server took the request but no answer could be had (stream broke too often, silence). */
  | { kind: 'failed'; code: number; message: string }
  | { kind: 'aborted' };

/** The final answer for the host (undefined: none, the host cancelled). */
export type HostAnswer = { msg: JsonRpcMessage; raw?: RawMessage | undefined } | undefined;

export class UpstreamRunner {
  /** x-mcp-header annotations of the tools in the last tools/list, by tool name. */
  private readonly toolParams = new Map<string, HeaderParam[]>();
  /** Host requests on their way upstream, for notifications/cancelled. */
  private readonly inflight = new Map<JsonRpcId, AbortController>();
  private seq = 0;

  constructor(
    private readonly http: ModernHttp,
    private readonly log: Logger,
    private readonly deliver: (msg: JsonRpcMessage, raw?: RawMessage) => void,
  ) {}

  /**
   * Carry one host request through `work` (which calls exchange() as often as it needs). Resolves
   * once the server took the first attempt, so `Remote.send` keeps its contract; rejects when it
   * never did. Afterwards exactly one answer reaches the host: `work`'s, or an error for a failure
   * (none when the host cancelled the request).
   */
  forward(hostId: JsonRpcId, method: string, work: (signal: AbortSignal, onAccepted: () => void) => Promise<HostAnswer>, watch?: RequestWatch): Promise<void> {
    const abort = new AbortController();
    this.inflight.set(hostId, abort);
    // The relay giving up on the request (its budget) cancels it like the host would.
    watch?.signal.addEventListener('abort', () => abort.abort(), { once: true });
    let accepted = false;
    return new Promise<void>((resolve, reject) => {
      const onAccepted = () => {
        accepted = true;
        resolve();
      };
      work(abort.signal, onAccepted)
        .then(
          (answer) => {
            if (answer) this.deliver(answer.msg, answer.raw);
          },
          (err: unknown) => {
            if (!accepted) return reject(err);
            this.log.warn(`${method} ${JSON.stringify(hostId)}: ${describeError(err)}`);
            this.deliver(failedAnswer(hostId, err));
          },
        )
        .finally(() => {
          if (this.inflight.get(hostId) === abort) this.inflight.delete(hostId);
          resolve();
        });
    });
  }

  /**
   * The host's notifications/cancelled: close the request's answer stream, which the server MUST
   * treat as cancellation (2026-07-28 streamable-http, Cancellation); nothing is POSTed.
   */
  cancel(params: unknown): void {
    const id = (params as { requestId?: unknown } | undefined)?.requestId;
    if (typeof id === 'string' || typeof id === 'number') this.inflight.get(id)?.abort();
  }

  abortAll(): void {
    for (const abort of this.inflight.values()) abort.abort();
  }

  /** A fresh upstream request id (retries and re-issues MUST use a different id). */
  newId(): string {
    return `mcp-relay-${++this.seq}`;
  }

  /**
   * Send one request upstream and get its final answer. Throws a RelayError when an attempt was
   * not taken by the server (network, HTTP status, credentials); the caller decides whether that
   * still reaches the host as a rejection of `send` or as an error answer.
   */
  async exchange(method: string, params: Record<string, unknown>, o: ExchangeOptions): Promise<ExchangeResult> {
    let id: JsonRpcId = o.firstId ?? this.newId();
    let refreshed = false;
    const maxReissues = o.maxReissues ?? MAX_REISSUES;
    for (let reissues = 0; ; ) {
      const msg = { jsonrpc: '2.0' as const, id, method, params };
      let notified = false;
      const out = await this.http.post(msg, {
        headers: requestHeaders(msg, method === 'tools/call' ? this.toolParams.get(params.name as string) : undefined),
        signal: o.signal,
        idleMs: o.idleMs,
        watch: o.watch,
        onAccepted: o.onAccepted,
        onNotification: (m, raw) => {
          notified = true;
          o.onNotification(m, raw);
        },
      });
      if (out.kind === 'aborted') return out;
      if (out.kind === 'idle') {
        return {
          kind: 'failed',
          code: REQUEST_TIMEOUT,
          message: `the server sent nothing for ${Math.round(o.idleMs / 1000)} s while answering this request (raise --timeout if this is expected)`,
        };
      }
      if (out.kind === 'broken') {
        if (reissues >= maxReissues)
          return {
            kind: 'failed',
            code: RELAY_ERROR,
            message: `${out.reason} before answering this request, ${reissues + 1} times; the relay is still running, retry the request`,
          };
        reissues = notified && maxReissues === Infinity ? 1 : reissues + 1;
        id = this.newId();
        this.log.info(`${method}: ${out.reason} before the answer; re-issuing it as ${id} (2026-07-28: a broken stream loses the request)`);
        await sleep(Math.min(REISSUE_DELAY_MS * 2 ** (reissues - 1), REISSUE_DELAY_MAX_MS), o.signal);
        continue;
      }
      if (out.msg.error?.code === HEADER_MISMATCH && method === 'tools/call' && !refreshed) {
        // streamable-http, Client Behavior: on HeaderMismatch the client SHOULD call tools/list to
        // check for changes to the tool's inputSchema, then retry with the right headers.
        refreshed = true;
        this.log.info(`${method}: the server reports a header mismatch (${out.msg.error.message}); refreshing tools/list and retrying`);
        await this.refreshTools(params._meta, o).catch((err) => this.log.warn(`refreshing tools/list failed: ${describeError(err)}`));
        id = this.newId();
        continue;
      }
      // A tools/list result that lost invalid tools no longer matches the raw text.
      const changed = method === 'tools/list' && this.noteTools(out.msg, params.cursor !== undefined);
      return { kind: 'answer', msg: out.msg, raw: changed ? undefined : out.raw };
    }
  }

  /**
   * Remember the x-mcp-header annotations of a tools/list answer and drop tools whose annotations
   * are invalid (streamable-http, Schema Extension: the client MUST exclude them from the result).
   * Returns true when the result was changed.
   */
  noteTools(answer: JsonRpcMessage, nextPage: boolean): boolean {
    const result = answer.result as { tools?: Array<{ name?: unknown }> } | undefined;
    if (!result || !Array.isArray(result.tools)) return false;
    if (!nextPage) this.toolParams.clear();
    const { keep, rejected } = screenTools(result);
    for (const t of keep) this.toolParams.set(t.name, t.params);
    if (!rejected.length) return false;
    for (const r of rejected) this.log.warn(`tool "${r.name}" left out of tools/list: ${r.reason} (2026-07-28 x-mcp-header rules)`);
    const bad = new Set(rejected.map((r) => r.name));
    result.tools = result.tools.filter((t) => !bad.has(typeof t.name === 'string' ? t.name : ''));
    return true;
  }

  private async refreshTools(meta: unknown, o: ExchangeOptions): Promise<void> {
    let cursor: unknown;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const params: Record<string, unknown> = { _meta: meta, ...(cursor !== undefined ? { cursor } : {}) };
      const msg = { jsonrpc: '2.0' as const, id: this.newId(), method: 'tools/list', params };
      const out = await this.http.post(msg, { headers: requestHeaders(msg), signal: o.signal, idleMs: o.idleMs, watch: o.watch });
      if (out.kind !== 'answer' || out.msg.error)
        throw new RelayError('REMOTE_PROTOCOL', `tools/list did not answer (${out.kind === 'answer' ? out.msg.error!.message : out.kind})`);
      this.noteTools(out.msg, page > 0);
      cursor = (out.msg.result as { nextCursor?: unknown } | undefined)?.nextCursor;
      if (cursor === undefined) return;
    }
  }
}

/** `answer` under the host's id (its raw text only when the id did not change). */
export function asHostAnswer(answer: JsonRpcMessage & { id: JsonRpcId }, raw: RawMessage | undefined, hostId: JsonRpcId): HostAnswer {
  return answer.id === hostId ? { msg: answer, raw } : { msg: { ...answer, id: hostId } };
}

/** The host-facing error for a request that the server took but that failed later. */
export function failedAnswer(hostId: JsonRpcId, err: unknown): JsonRpcMessage {
  const data = err instanceof RelayError ? { relay: { code: err.code, ...(err.status ? { status: err.status } : {}) } } : undefined;
  return errorResponse(hostId, RELAY_ERROR, `mcp-relay: ${describeError(err)}`, data);
}
