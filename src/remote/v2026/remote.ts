/**
 * A 2025-11-25 host in front of a 2026-07-28 server: the relay plays the 2025 server to the host
 * and a 2026 client to the server. MCP 2026-07-28 pages: server/discover; basic/index,
 * "Statelessness" and "_meta"; basic/transports/streamable-http, "Request Metadata" and
 * "Cancellation"; basic/patterns/mrtr; basic/patterns/subscriptions; changelog, "Major changes"
 * (the handshake, ping, logging/setLevel and resources/subscribe removed).
 * - initialize is answered from server/discover; notifications/initialized is swallowed;
 *   ping, logging/setLevel and resources/(un)subscribe are answered by the relay, which has
 *   no session upstream (they are removed methods in 2026-07-28).
 * - every other request goes up with the per-request `_meta` (version, the host's client info and
 *   capabilities, the log level) and the metadata headers; its answer goes back under the host's id.
 * - `input_required` results become server→client requests to the host (input.ts), then
 *   the original request is retried with `inputResponses` and the exact `requestState`.
 * - list_changed and resource updates arrive on the relay's listen stream (listen.ts).
 * - the host's notifications/cancelled closes the request's answer stream (HTTP cancellation).
 */
import {
  errorResponse,
  INVALID_PARAMS,
  isRequest,
  isResponse,
  METHOD_NOT_FOUND,
  RELAY_ERROR,
  type JsonRpcId,
  type JsonRpcMessage,
} from '../../jsonrpc/messages.js';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL, META_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSION } from './headers.js';
import type { ModernHttp } from './post.js';
import { HostInputs } from './input.js';
import { ListenStream } from './listen.js';
import { asHostAnswer, UpstreamRunner, type HostAnswer } from './runner.js';
import { discoverCapabilities, initializeResultFrom, listenFilter, RELAY_CLIENT_INFO } from './wire.js';
import type { Remote, RemoteOptions } from '../types.js';

/** SDK v2's default (`inputRequired.maxRounds`); the spec sets no limit, a relay must not loop forever. */
export const MAX_INPUT_ROUNDS = 10;
/** mrtr.mdx: only these may answer `input_required`. */
const MRTR_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);

export class ModernRemote implements Remote {
  readonly kind = 'http' as const;
  private readonly runner: UpstreamRunner;
  private readonly inputs: HostInputs;
  private readonly listen: ListenStream;
  private clientInfo: unknown = RELAY_CLIENT_INFO;
  private capabilities: unknown = {};
  private logLevel: string | undefined;
  private readonly subscriptions = new Set<string>();

  constructor(
    private readonly opts: RemoteOptions,
    private readonly http: ModernHttp,
    /** The DiscoverResult of the probe: an object with `supportedVersions` (probeEra guarantees it). */
    private readonly discover: Record<string, unknown>,
  ) {
    this.runner = new UpstreamRunner(http, opts.log, opts.deliver);
    this.inputs = new HostInputs((m) => opts.deliver(m), opts.log);
    this.listen = new ListenStream({ http, log: opts.log, newId: () => this.runner.newId(), meta: () => this.meta(undefined), deliver: opts.deliver });
  }

  async send(msg: JsonRpcMessage, _raw: string): Promise<void> {
    if (isResponse(msg)) {
      // 2026-07-28 streamable-http: the client MUST NOT send JSON-RPC responses; the only ones a
      // host sends here answer the relay's own input requests.
      if (!this.inputs.take(msg)) this.opts.log.debug(`host answered unknown request ${JSON.stringify(msg.id)}; dropped`);
      return;
    }
    if (!isRequest(msg)) return this.onHostNotification(msg);
    const p = (msg.params ?? {}) as Record<string, unknown>;
    switch (msg.method) {
      case 'initialize':
        this.clientInfo = p.clientInfo ?? RELAY_CLIENT_INFO;
        this.capabilities = p.capabilities ?? {};
        return this.answer(msg.id, initializeResultFrom(this.discover, p.protocolVersion, this.opts.url.host));
      case 'ping':
        return this.answer(msg.id, {});
      case 'logging/setLevel':
        // Sent upstream as _meta logLevel: servers MUST NOT emit notifications/message without it.
        if (typeof p.level === 'string') this.logLevel = p.level;
        return this.answer(msg.id, {});
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        return this.subscribe(msg.id, msg.method === 'resources/subscribe', p.uri);
      default:
        this.listen.update(listenFilter(this.discover, this.subscriptions));
        return this.runner.forward(msg.id, msg.method, (signal, onAccepted) => this.run(msg, signal, onAccepted), this.opts.watch?.(msg.id));
    }
  }

  private onHostNotification(msg: JsonRpcMessage): void {
    if (msg.method === 'notifications/initialized') {
      this.listen.update(listenFilter(this.discover, this.subscriptions));
    } else if (msg.method === 'notifications/cancelled') {
      this.runner.cancel(msg.params);
    } else {
      // roots/list_changed and the like: no 2026-07-28 HTTP counterpart.
      this.opts.log.debug(`host notification ${msg.method} has no 2026-07-28 counterpart; dropped`);
    }
  }

  private answer(id: JsonRpcId, result: unknown): void {
    this.opts.deliver({ jsonrpc: '2.0', id, result });
  }

  private subscribe(id: JsonRpcId, on: boolean, uri: unknown): void {
    if (typeof uri !== 'string') {
      this.opts.deliver(errorResponse(id, INVALID_PARAMS, 'mcp-relay: "uri" must be a string'));
      return;
    }
    if (!discoverCapabilities(this.discover).resources?.subscribe) {
      this.opts.deliver(errorResponse(id, METHOD_NOT_FOUND, 'mcp-relay: the server does not offer resource subscriptions'));
      return;
    }
    if (on) this.subscriptions.add(uri);
    else this.subscriptions.delete(uri);
    this.listen.update(listenFilter(this.discover, this.subscriptions));
    this.answer(id, {});
  }

  /** The per-request `_meta` (2026-07-28 basic/index): the host's own keys (progressToken, traceparent …) kept. */
  private meta(hostMeta: unknown): Record<string, unknown> {
    return {
      ...(hostMeta && typeof hostMeta === 'object' ? (hostMeta as Record<string, unknown>) : {}),
      [META_PROTOCOL_VERSION]: MODERN_PROTOCOL_VERSION,
      [META_CLIENT_INFO]: this.clientInfo,
      [META_CLIENT_CAPABILITIES]: this.capabilities,
      ...(this.logLevel ? { [META_LOG_LEVEL]: this.logLevel } : {}),
    };
  }

  /** One host request to its final answer: rounds of MRTR, each attempt re-issued on broken streams. */
  private async run(msg: JsonRpcMessage & { id: JsonRpcId; method: string }, signal: AbortSignal, onAccepted: () => void): Promise<HostAnswer> {
    const original = (msg.params ?? {}) as Record<string, unknown>;
    let retry: Record<string, unknown> = {};
    for (let round = 0; ; round++) {
      const params = { ...original, ...retry, _meta: this.meta(original._meta) };
      const out = await this.runner.exchange(msg.method, params, {
        firstId: round === 0 ? msg.id : undefined,
        signal,
        idleMs: this.opts.requestTimeoutMs,
        watch: this.opts.watch?.(msg.id),
        onAccepted,
        onNotification: (m, raw) => this.opts.deliver(m, raw),
      });
      if (out.kind === 'aborted') return undefined;
      if (out.kind === 'failed') return { msg: errorResponse(msg.id, out.code, `mcp-relay: ${out.message}`) };
      const answer = out.msg;
      const result = answer.result as { resultType?: unknown; inputRequests?: unknown; requestState?: unknown } | undefined;
      const type = result?.resultType ?? 'complete'; // clients MUST treat an absent resultType as "complete"
      if (answer.error || type === 'complete') return asHostAnswer(answer, out.raw, msg.id);
      if (type !== 'input_required' || !MRTR_METHODS.has(msg.method)) {
        // "A resultType of any value unrecognized by the client MUST be considered invalid."
        return {
          msg: errorResponse(
            msg.id,
            RELAY_ERROR,
            `mcp-relay: the server answered ${msg.method} with resultType ${JSON.stringify(type)}, which is not valid here`,
          ),
        };
      }
      if (round + 1 >= MAX_INPUT_ROUNDS) {
        return {
          msg: errorResponse(
            msg.id,
            RELAY_ERROR,
            `mcp-relay: the server asked for more input ${MAX_INPUT_ROUNDS} times in a row without answering ${msg.method}; giving up`,
          ),
        };
      }
      retry = {};
      if (result!.inputRequests !== undefined) {
        // The host's user answering (an elicitation, say) is not the server's silence.
        const asking = this.inputs.ask(result!.inputRequests, signal);
        const watch = this.opts.watch?.(msg.id);
        const asked = await (watch ? watch.hold(asking) : asking);
        if (asked.kind === 'aborted') return undefined;
        if (asked.kind === 'failed') return { msg: errorResponse(msg.id, asked.error.code, asked.error.message) };
        retry.inputResponses = asked.responses;
      }
      // mrtr.mdx: echo the exact requestState, and include none when the server sent none.
      if ('requestState' in result!) retry.requestState = result!.requestState;
    }
  }

  async close(): Promise<void> {
    // No DELETE: 2026-07-28 has no sessions. Closing every stream is all there is to end.
    this.listen.close();
    this.runner.abortAll();
    this.http.close();
  }
}
