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
import { tooLarge } from '../../http/bounded.js';
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

  /** The SDK's requests, each through the one authorized exchange (static headers, Authorization, 401 → login → retry). */
  private readonly authedFetch = (input: string | URL, init?: RequestInit): Promise<Response> =>
    this.exchange.authorized(async (credentials) => {
      const headers = new Headers(init?.headers);
      for (const [k, v] of Object.entries(credentials)) headers.set(k, v);
      let res: Response;
      try {
        res = await (this.opts.webFetch ?? fetch)(input, { ...init, headers });
      } catch (err) {
        throw networkError(err, this.opts.url);
      }
      // The SDK reads the stream with no bound of its own: one endless line took the relay past
      // 800 MB. Cut it where an event passes --max-message-mb, as every other path does (bounded.ts);
      // the SDK then reports a broken stream and connects again. (Found by invariants.test.ts.)
      if (!res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) return res;
      const body = res.body.pipeThrough(boundedEvents(this.opts.bounds?.maxMessageBytes ?? MAX_MESSAGE_BYTES));
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
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

const LF = 0x0a;
const CR = 0x0d;

/**
 * Pass an SSE byte stream through while no event (the bytes since the last blank line) is over
 * `maxBytes`; past that, fail the stream with REMOTE_TOO_LARGE. Scans line ends with indexOf, so a
 * normal stream costs little.
 */
function boundedEvents(maxBytes: number): TransformStream<Uint8Array, Uint8Array> {
  let eventBytes = 0;
  let lineBytes = 0;
  /** The byte before `chunk` (a CR there and a LF at its start make a CRLF). */
  let prev = LF;
  return new TransformStream({
    transform(chunk, controller) {
      let start = 0;
      for (let nl = chunk.indexOf(LF); nl !== -1; nl = chunk.indexOf(LF, start)) {
        const line = lineBytes + nl - start;
        // A blank line ("\n" or "\r\n" alone) ends the event.
        eventBytes = line === 0 || (line === 1 && (nl > 0 ? chunk[nl - 1] : prev) === CR) ? 0 : eventBytes + line + 1;
        lineBytes = 0;
        start = nl + 1;
      }
      lineBytes += chunk.length - start;
      if (chunk.length > 0) prev = chunk[chunk.length - 1]!;
      if (eventBytes + lineBytes > maxBytes) {
        controller.error(tooLarge('an SSE event', eventBytes + lineBytes, maxBytes));
        return;
      }
      controller.enqueue(chunk);
    },
  });
}
