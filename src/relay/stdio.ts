/**
 * The host side: newline-delimited JSON-RPC on stdin/stdout (MCP 2025-11-25 transports, stdio:
 * messages are delimited by newlines and MUST NOT contain embedded newlines; the server MUST NOT
 * write anything to stdout that is not a valid MCP message).
 *
 * Ours rather than the SDK's StdioServerTransport because a relay needs what that one does not do:
 * answer a malformed line with a -32700 parse error instead of dropping it, hand over the raw text
 * so it is forwarded without re-serialising, and split lines in time linear in the input (the SDK
 * re-scans its whole buffer per chunk, which is quadratic on multi-MiB messages).
 */
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log.js';
import { asMessage, errorResponse, INVALID_REQUEST, PARSE_ERROR, type JsonRpcMessage } from './jsonrpc.js';

/** A single host message larger than this is refused (answered with a parse error) to bound memory. */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
const NEWLINE = 0x0a;

export interface StdioHostEvents {
  message(msg: JsonRpcMessage, raw: string): void;
  /** stdin ended or failed: the host is gone. */
  close(): void;
}

export class StdioHost {
  private chunks: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;
  private closed = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly events: StdioHostEvents,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.input.on('data', (chunk: Buffer) => this.onData(chunk));
    this.input.on('end', () => this.onEnd());
    this.input.on('error', (err) => {
      this.log.warn({ err }, 'stdin failed; treating the host as gone');
      this.onEnd();
    });
    // A host that exits closes our stdout; writing then raises EPIPE, which must not crash us.
    this.output.on('error', (err) => {
      this.log.debug({ err }, 'stdout closed');
      this.onEnd();
    });
  }

  /** Write one message to the host. `raw` (already-serialised JSON without newlines) skips a stringify. */
  send(msg: JsonRpcMessage, raw?: string): void {
    if (this.closed) return;
    const text = raw !== undefined && !raw.includes('\n') ? raw : JSON.stringify(msg);
    this.output.write(text + '\n');
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE, start);
    while (nl !== -1) {
      this.push(chunk.subarray(start, nl));
      this.flushLine();
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) this.push(chunk.subarray(start));
  }

  private push(part: Buffer): void {
    if (this.discarding) return;
    this.pendingBytes += part.length;
    if (this.pendingBytes > MAX_MESSAGE_BYTES) {
      this.discarding = true;
      this.chunks = [];
      return;
    }
    if (part.length) this.chunks.push(part);
  }

  private flushLine(): void {
    if (this.discarding) {
      this.discarding = false;
      this.pendingBytes = 0;
      this.reject(`message larger than ${MAX_MESSAGE_BYTES} bytes`);
      return;
    }
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.pendingBytes);
    this.chunks = [];
    this.pendingBytes = 0;
    let text: string;
    try {
      text = this.decoder.decode(buf);
    } catch {
      this.reject('line is not valid UTF-8');
      return;
    }
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.reject('line is not valid JSON');
      return;
    }
    const msg = asMessage(value);
    if (!msg) {
      // JSON-RPC 2.0 §5: a valid JSON value that is not a request object → -32600, id null.
      this.send(errorResponse(null, INVALID_REQUEST, 'Invalid Request: expected a JSON-RPC 2.0 object (batches are not supported by MCP 2025-11-25)'));
      this.log.warn('host sent JSON that is not a JSON-RPC 2.0 message; answered -32600');
      return;
    }
    this.events.message(msg, text);
  }

  private reject(reason: string): void {
    this.log.warn(`host sent a malformed line (${reason}); answered -32700 and carrying on`);
    this.send(errorResponse(null, PARSE_ERROR, `Parse error: ${reason}`));
  }

  private onEnd(): void {
    if (this.closed) return;
    this.closed = true;
    this.events.close();
  }
}
