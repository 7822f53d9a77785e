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
      // 800 MB. Hold it to --max-message-mb per event, as every other path is (bounded.ts). (Found
      // by invariants.test.ts.)
      if (!res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) return res;
      const maxBytes = this.opts.bounds?.maxMessageBytes ?? MAX_MESSAGE_BYTES;
      const dropped = (bytes: number) => this.opts.log.warn(`legacy SSE stream: ${tooLarge('an SSE event', bytes, maxBytes).message}; skipped it`);
      const body = res.body.pipeThrough(boundedEvents(maxBytes, dropped));
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
 * Pass an SSE byte stream on one whole event at a time (an event ends at a blank line), holding at
 * most `maxBytes` of it: an event over that is dropped (`onDropped`) and the stream goes on, since
 * on the legacy transport one stream carries every answer of the session. The request whose answer
 * was dropped is answered by its budget (--timeout). Line ends are found with indexOf.
 */
function boundedEvents(maxBytes: number, onDropped: (bytes: number) => void): TransformStream<Uint8Array, Uint8Array> {
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  let dropping = false;
  /** Bytes of the current line so far, and the byte before the current chunk (for a CRLF split across chunks). */
  let lineBytes = 0;
  let prev = LF;
  const keep = (piece: Uint8Array) => {
    if (dropping || piece.length === 0) return;
    held.push(piece);
    heldBytes += piece.length;
    if (heldBytes > maxBytes) {
      dropping = true;
      held = [];
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      let start = 0;
      for (let nl = chunk.indexOf(LF); nl !== -1; nl = chunk.indexOf(LF, start)) {
        const line = lineBytes + nl - start;
        keep(chunk.subarray(start, nl + 1));
        lineBytes = 0;
        start = nl + 1;
        const blank = line === 0 || (line === 1 && (nl > 0 ? chunk[nl - 1] : prev) === CR);
        if (!blank) continue;
        if (dropping) onDropped(heldBytes);
        else for (const piece of held) controller.enqueue(piece);
        held = [];
        heldBytes = 0;
        dropping = false;
      }
      keep(chunk.subarray(start));
      lineBytes += chunk.length - start;
      if (chunk.length > 0) prev = chunk[chunk.length - 1]!;
    },
    flush(controller) {
      if (!dropping) for (const piece of held) controller.enqueue(piece);
    },
  });
}
