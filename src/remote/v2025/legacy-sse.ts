/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05) for servers that predate Streamable HTTP.
 * Wraps the SDK's SSEClientTransport; the fetch we hand it sends through the one authorized
 * exchange (exchange.ts), so the SDK never sees a 401 and the auth coordinator stays the only place
 * that knows about tokens.
 */
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describeError, RelayError } from '../../errors.js';
import { errorResponse, isRequest, isResponse, RELAY_ERROR, type JsonRpcId, type JsonRpcMessage } from '../../jsonrpc/messages.js';
import { networkError } from '../../http/net-errors.js';
import { boundEventStream } from '../../http/sse-guard.js';
import { MAX_MESSAGE_BYTES } from '../../jsonrpc/limits.js';
import { Exchange } from '../exchange.js';
import type { Remote, RemoteOptions } from '../types.js';

export class LegacySseRemote implements Remote {
  readonly kind = 'sse' as const;
  private transport: SSEClientTransport | undefined;
  /** Requests sent and not answered: legacy SSE cannot resume, so a dropped stream fails them. */
  private readonly pending = new Set<JsonRpcId>();
  private readonly closing = new AbortController();
  private readonly exchange: Exchange;

  constructor(private readonly opts: RemoteOptions) {
    this.exchange = new Exchange({ ...opts, closing: this.closing.signal });
  }

  async start(): Promise<void> {
    const transport = new SSEClientTransport(this.opts.url, { fetch: this.authedFetch });
    transport.onmessage = (m) => {
      const msg = m as JsonRpcMessage;
      if (isResponse(msg)) this.pending.delete(msg.id);
      this.opts.deliver(msg);
    };
    transport.onerror = (err) => {
      if (this.closing.signal.aborted) return;
      this.opts.log.warn(`legacy SSE stream: ${describeError(err)}`);
      this.failPending("the server's SSE stream broke before answering; retry the request");
    };
    transport.onclose = () => this.failPending('the SSE connection closed before answering');
    try {
      await transport.start();
    } catch (err) {
      throw err instanceof RelayError ? err : networkError(err, this.opts.url);
    }
    this.transport = transport;
    this.opts.log.info('connected with the legacy HTTP+SSE transport');
  }

  async send(msg: JsonRpcMessage, _raw: string): Promise<void> {
    if (!this.transport) await this.start();
    if (isRequest(msg)) this.pending.add(msg.id);
    try {
      await this.transport!.send(msg as JSONRPCMessage);
    } catch (err) {
      if (isRequest(msg)) this.pending.delete(msg.id);
      throw err instanceof RelayError ? err : new RelayError('REMOTE_HTTP', describeError(err), { cause: err });
    }
  }

  /** The SDK's requests, each through the one authorized exchange (static headers, Authorization, 401 → login → retry). */
  private readonly authedFetch = (input: string | URL, init?: RequestInit): Promise<Response> =>
    this.exchange.authorized({ method: init?.method ?? 'GET', url: new URL(input) }, async (credentials) => {
      const headers = new Headers(init?.headers);
      for (const [k, v] of Object.entries(credentials)) headers.set(k, v);
      let res: Response;
      try {
        res = await (this.opts.webFetch ?? fetch)(input, { ...init, headers });
      } catch (err) {
        throw networkError(err, this.opts.url);
      }
      // The SDK reads the stream with no bound of its own: one endless line took the relay past
      // 800 MB (found by invariants.test.ts). Held to --max-message-mb per event, as every path is.
      const eventStream = (res.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
      return eventStream
        ? boundEventStream(res, this.opts.bounds?.maxMessageBytes ?? MAX_MESSAGE_BYTES, (m) => this.opts.log.warn(`legacy SSE stream: ${m}; skipped it`))
        : res;
    });

  private failPending(message: string): void {
    for (const id of this.pending) this.opts.deliver(errorResponse(id, RELAY_ERROR, `mcp-relay: ${message}`));
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.transport?.close().catch(() => {});
  }
}
