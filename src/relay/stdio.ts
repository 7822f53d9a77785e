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
import { MAX_MESSAGE_BYTES } from '../jsonrpc/limits.js';
import { classifyHostValue, errorResponse, INVALID_REQUEST, PARSE_ERROR, type JsonRpcMessage, type RawMessage } from '../jsonrpc/messages.js';

const NEWLINE = 0x0a;

export interface StdioHostEvents {
  message(msg: JsonRpcMessage, raw: string): void;
  /** stdin ended or failed: the host is gone. */
  close(): void;
}

export interface StdioHostOptions {
  /** Longest accepted line in bytes (default {@link MAX_MESSAGE_BYTES}). */
  maxMessageBytes?: number;
  /** Called once a message of at least 1 MiB has been written (the relay passes memory.ts's releaseGarbage). */
  afterLargeWrite?: (() => void) | undefined;
}

/** Above this, a message and its newline are written separately instead of concatenated. */
const LARGE_MESSAGE_CHARS = 64 * 1024;
const LINE_END = Buffer.from('\n');
/** How far the host may fall behind on stdout before the relay stops reading from the server. */
export const HOST_BACKLOG_BYTES = 4 * 1024 * 1024;
/** After writing a message this large, its buffers are worth collecting at once (see memory.ts). */
const LARGE_WRITE_BYTES = 1024 * 1024;
const CR = 0x0d;

export class StdioHost {
  private chunks: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;
  /** The close event was emitted (stdin ended or failed, or stdout failed). */
  private closed = false;
  /** stdout failed (EPIPE: the host is gone): nothing more can be written. */
  private outputFailed = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly maxMessageBytes: number;
  private readonly afterLargeWrite: (() => void) | undefined;
  private drained: Promise<void> | undefined;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly events: StdioHostEvents,
    private readonly log: Logger,
    opts: StdioHostOptions = {},
  ) {
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.afterLargeWrite = opts.afterLargeWrite;
  }

  start(): void {
    this.input.on('data', (chunk: Buffer) => this.onData(chunk));
    this.input.on('end', () => {
      // A last message without its newline is still a message: answer it rather than drop it.
      if (this.chunks.length > 0 || this.discarding) this.flushLine();
      this.onEnd();
    });
    this.input.on('error', (err) => {
      this.log.warn({ err }, 'stdin failed; treating the host as gone');
      this.onEnd();
    });
    this.input.on('close', () => this.onEnd());
    // A host that exits closes our stdout; writing then raises EPIPE, which must not crash us.
    this.output.on('error', (err) => {
      this.log.debug({ err }, 'stdout closed');
      this.outputFailed = true;
      this.onEnd();
    });
  }

  /**
   * Write one message to the host as one line. `raw` (the message as received: text, or the bytes
   * of a large answer) is written as is unless it holds a line break (LF, or CR: Node's readline
   * ends lines at a lone CR too), in which case the message is re-serialised.
   * Still writes after stdin ended: a host that closed its end of stdin may still read our
   * stdout, and shutdown answers every pending request (MCP 2025-11-25 lifecycle, stdio shutdown).
   */
  send(msg: JsonRpcMessage, raw?: RawMessage): void {
    if (this.outputFailed || this.output.destroyed || this.output.writableEnded) return;
    if (raw !== undefined && typeof raw !== 'string') {
      // Bytes go out untouched: no decode, no re-encode, no copy (a memchr-speed check for breaks).
      const segments = (isBytes(raw) ? [raw] : raw).map(asBuffer);
      if (segments.every((b) => b.indexOf(NEWLINE) === -1 && b.indexOf(CR) === -1)) {
        this.writeSegments(segments);
        return;
      }
      raw = undefined;
    }
    const text = raw !== undefined && raw.indexOf('\n') === -1 && raw.indexOf('\r') === -1 ? raw : JSON.stringify(msg);
    // Large messages: two writes rather than a concatenated copy of several MiB.
    if (text.length > LARGE_MESSAGE_CHARS) {
      this.output.write(text);
      this.output.write('\n');
    } else {
      this.output.write(`${text}\n`);
    }
  }

  /**
   * While the host is more than HOST_BACKLOG_BYTES behind on reading stdout, a promise that
   * resolves once it has caught up (or stdout is gone); otherwise undefined. Answer streams wait
   * on it before reading more from the server, so a host that stops reading makes the server
   * wait (TCP backpressure) instead of the relay holding everything in memory.
   */
  whenDrained(): Promise<void> | undefined {
    if (this.outputFailed || !this.output.writableNeedDrain || this.output.writableLength <= HOST_BACKLOG_BYTES) return undefined;
    this.drained ??= new Promise<void>((resolve) => {
      const done = () => {
        this.output.off('drain', done).off('close', done).off('error', done);
        this.drained = undefined;
        resolve();
      };
      this.output.on('drain', done).on('close', done).on('error', done);
    });
    return this.drained;
  }

  /** One line from byte segments, written together (cork: one writev), then the newline. */
  private writeSegments(segments: Buffer[]): void {
    let bytes = 0;
    this.output.cork();
    for (const b of segments) {
      bytes += b.length;
      this.output.write(b);
    }
    // Once a large message has left, its buffers are garbage (memory.ts has them collected). Not
    // from inside the write callback: the finished write still holds the buffers until it returns.
    const done = this.afterLargeWrite;
    this.output.write(LINE_END, done && bytes >= LARGE_WRITE_BYTES ? () => setImmediate(done) : undefined);
    this.output.uncork();
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
    if (this.pendingBytes > this.maxMessageBytes) {
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
      this.reject(`message larger than ${this.maxMessageBytes} bytes`);
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
    const checked = classifyHostValue(value);
    if (checked.kind === 'bad-response') {
      // JSON-RPC 2.0 §5: a response is never answered; there is nothing to send back.
      this.log.warn(`host sent ${checked.reason}; dropped`);
      return;
    }
    if (checked.kind === 'invalid') {
      // JSON-RPC 2.0 §5: a valid JSON value that is not a valid request → -32600, id null unless
      // the request's id could be read (so the host's request is still answered).
      this.send(errorResponse(checked.id, INVALID_REQUEST, `Invalid Request: ${checked.reason}`));
      this.log.warn(`host sent an invalid message (${checked.reason}); answered -32600`);
      return;
    }
    const msg = checked.msg;
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

function isBytes(raw: Uint8Array | readonly Uint8Array[]): raw is Uint8Array {
  return raw instanceof Uint8Array;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
