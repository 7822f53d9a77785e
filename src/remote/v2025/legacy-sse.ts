/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05) for servers that predate Streamable HTTP.
 * Wraps the SDK's SSEClientTransport; credentials and the 401 → login → retry loop live in the
 * fetch we hand it, so the SDK never sees a 401 and the auth coordinator stays the only place
 * that knows about tokens.
 */
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describeError, RelayError } from '../../errors.js';
import { errorResponse, isRequest, isResponse, RELAY_ERROR, type JsonRpcId, type JsonRpcMessage } from '../../jsonrpc/messages.js';
import { bearerChallenge } from '../../http/challenge.js';
import { networkError } from '../../http/net-errors.js';
import type { Remote, RemoteOptions } from '../types.js';

const MAX_AUTH_ATTEMPTS = 3;

export class LegacySseRemote implements Remote {
  readonly kind = 'sse' as const;
  private transport: SSEClientTransport | undefined;
  /** Requests sent and not answered: legacy SSE cannot resume, so a dropped stream fails them. */
  private readonly pending = new Set<JsonRpcId>();
  private closed = false;

  constructor(private readonly opts: RemoteOptions) {}

  async start(): Promise<void> {
    const transport = new SSEClientTransport(this.opts.url, { fetch: this.authedFetch });
    transport.onmessage = (m) => {
      const msg = m as JsonRpcMessage;
      if (isResponse(msg)) this.pending.delete(msg.id);
      this.opts.deliver(msg);
    };
    transport.onerror = (err) => {
      if (this.closed) return;
      this.opts.log.warn(`legacy SSE stream: ${describeError(err)}`);
      this.failPending('the server\'s SSE stream broke before answering; retry the request');
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

  /** fetch with the static headers and Authorization, handling 401 by asking the auth hook and retrying. */
  private readonly authedFetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    for (let attempt = 1; ; attempt++) {
      const headers = new Headers(init?.headers);
      for (const [k, v] of Object.entries(this.opts.headers)) headers.set(k, v);
      const authorization = await this.opts.auth?.authorization();
      if (authorization) headers.set('authorization', authorization);
      let res: Response;
      try {
        res = await (this.opts.webFetch ?? fetch)(input, { ...init, headers });
      } catch (err) {
        throw networkError(err, this.opts.url);
      }
      const auth = this.opts.auth;
      if (!auth || (res.status !== 401 && res.status !== 403)) return res;
      const challenge = bearerChallenge(res.headers);
      if (res.status === 403 && challenge.error !== 'insufficient_scope') return res;
      await res.body?.cancel().catch(() => {});
      if (attempt >= MAX_AUTH_ATTEMPTS) {
        throw new RelayError('AUTH_FAILED', `the server keeps refusing fresh credentials (HTTP ${res.status})`, { status: res.status });
      }
      await auth.unauthorized({ status: res.status as 401 | 403, challenge, rejected: authorization });
    }
  };

  private failPending(message: string): void {
    for (const id of this.pending) this.opts.deliver(errorResponse(id, RELAY_ERROR, `mcp-relay: ${message}`));
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.transport?.close().catch(() => {});
  }
}
