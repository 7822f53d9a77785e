/**
 * A 2026-07-28 host in front of a 2026-07-28 server: messages go through untouched, and the relay
 * only does what the HTTP transport asks of the client itself (the host speaks stdio and cannot):
 * metadata headers from each message, `Mcp-Param-*` from the tools/list the host fetched,
 * re-issuing a request whose answer stream broke under a new id (answer mapped back to the host's
 * id, listen notifications' subscriptionId too), and cancellation by closing the stream.
 */
import { errorResponse, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type RawMessage } from '../../jsonrpc/messages.js';
import { META_SUBSCRIPTION_ID } from './headers.js';
import type { ModernHttp } from './post.js';
import { asHostAnswer, UpstreamRunner } from './runner.js';
import type { Remote, RemoteOptions } from '../types.js';

const LISTEN = 'subscriptions/listen';

export class PassthroughRemote implements Remote {
  readonly kind = 'http' as const;
  private readonly runner: UpstreamRunner;

  constructor(
    private readonly opts: RemoteOptions,
    private readonly http: ModernHttp,
  ) {
    this.runner = new UpstreamRunner(http, opts.log, opts.deliver);
  }

  async send(msg: JsonRpcMessage, _raw: string): Promise<void> {
    if (isResponse(msg)) {
      this.opts.log.debug(`a 2026-07-28 server sends no requests; host response ${JSON.stringify(msg.id)} dropped`);
      return;
    }
    if (!isRequest(msg)) {
      if (msg.method === 'notifications/cancelled') this.runner.cancel(msg.params);
      else this.opts.log.debug(`host notification ${msg.method} has no 2026-07-28 HTTP counterpart; dropped`);
      return;
    }
    const hostId = msg.id;
    const listen = msg.method === LISTEN;
    const watch = this.opts.watch?.(hostId);
    await this.runner.forward(
      hostId,
      msg.method,
      async (signal, onAccepted) => {
        const out = await this.runner.exchange(msg.method, (msg.params ?? {}) as Record<string, unknown>, {
          firstId: hostId,
          signal,
          // A listen stream is quiet by design and is re-opened however often it breaks.
          idleMs: listen ? 0 : this.opts.requestTimeoutMs,
          maxReissues: listen ? Infinity : undefined,
          watch,
          onAccepted,
          onNotification: (m, raw) => this.opts.deliver(...withSubscriptionId(m, raw, hostId)),
        });
        if (out.kind === 'aborted') return undefined;
        if (out.kind === 'failed') return { msg: errorResponse(hostId, out.code, `mcp-relay: ${out.message}`) };
        return asHostAnswer(out.msg, out.raw, hostId);
      },
      watch,
    );
  }

  async close(): Promise<void> {
    this.runner.abortAll();
    this.http.close();
  }
}

/**
 * A listen stream re-issued under a relay id stamps that id as the subscriptionId ("MUST equal
 * the listen request's JSON-RPC id"); the host knows its own id only.
 */
function withSubscriptionId(m: JsonRpcMessage, raw: RawMessage | undefined, hostId: JsonRpcId): [JsonRpcMessage, RawMessage | undefined] {
  const params = m.params as { _meta?: Record<string, unknown> } | undefined;
  const sub = params?._meta?.[META_SUBSCRIPTION_ID];
  if (sub === undefined || sub === hostId) return [m, raw];
  return [{ ...m, params: { ...params, _meta: { ...params!._meta, [META_SUBSCRIPTION_ID]: hostId } } }, undefined];
}
