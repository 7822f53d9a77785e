/**
 * Reading one SSE response body (a POST answer stream or the standalone GET stream) into
 * JSON-RPC messages, with an idle timeout and the facts needed to resume it
 * (MCP 2025-11-25 transports, "Resumability and Redelivery": event ids + Last-Event-ID).
 */
import { decodeMessages } from '../jsonrpc/json-bytes.js';
import type { JsonRpcMessage, RawMessage } from '../jsonrpc/messages.js';
import { MAX_MESSAGE_BYTES } from '../jsonrpc/limits.js';
import type { HttpBody } from './node-http.js';
import { createSseParser, type SseEvent } from './sse-bytes.js';

export interface StreamOutcome {
  /** Id of the last event seen (for Last-Event-ID), if the server sent ids. */
  lastEventId: string | undefined;
  /** The server's `retry:` field in ms, if sent. */
  retryMs: number | undefined;
  /** Why the stream stopped early: a network error, or 'idle' for the idle timeout. */
  error: unknown;
  idle: boolean;
  /** Number of events with data. */
  events: number;
}

export interface ReadOptions {
  idleMs: number;
  signal?: AbortSignal | undefined;
  /** A message, with its raw text or bytes when it arrived alone in its event. */
  onMessage(msg: JsonRpcMessage, raw: RawMessage | undefined): void;
  onBadEvent(reason: string): void;
  /**
   * Backpressure from the host: a promise while the host is behind on reading what it was sent
   * (the next chunk is read only after it resolves), else undefined. The wait does not count
   * against `idleMs`: it is the host that is slow, not the server.
   */
  ready?: (() => Promise<void> | undefined) | undefined;
}

/**
 * Consume `body` until it ends, fails, goes idle, or `signal` aborts. Never throws.
 * One reader loop feeding a byte-level SSE parser (sse-bytes.ts): an answer is framed without
 * being decoded to a string, and a large one is forwarded as the bytes that came (json-bytes.ts).
 * Any bytes, keep-alive comments included, count as a sign of life for the idle timeout.
 */
export async function readSseStream(body: HttpBody, opts: ReadOptions): Promise<StreamOutcome> {
  const out: StreamOutcome = { lastEventId: undefined, retryMs: undefined, error: undefined, idle: false, events: 0 };
  const onEvent = (event: SseEvent) => {
    if (event.event !== undefined && event.event !== 'message') return;
    if (event.dataBytes === 0) return; // priming events (an id and empty data)
    out.events++;
    const decoded = decodeMessages(event.data, event.dataBytes);
    if (!decoded.ok) {
      opts.onBadEvent(decoded.reason === 'not JSON' ? 'an SSE event that is not JSON' : 'an SSE event that is not a JSON-RPC message');
      return;
    }
    // Several data lines were joined with line breaks: that text cannot go to the host as one line.
    for (const { msg, raw } of decoded.messages) opts.onMessage(msg, event.dataLines === 1 ? raw : undefined);
  };
  const parser = createSseParser(
    {
      onEvent,
      onRetry: (ms) => (out.retryMs = ms),
      onOversized: (bytes) => opts.onBadEvent(`an SSE line of over ${bytes} bytes (dropped)`),
    },
    MAX_MESSAGE_BYTES,
  );
  const reader = body.getReader();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (!opts.idleMs) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      out.idle = true;
      reader.cancel().catch(() => {});
    }, opts.idleMs);
  };
  const onAbort = () => reader.cancel().catch(() => {});
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  arm();
  try {
    for (;;) {
      const backlog = opts.ready?.();
      if (backlog) {
        clearTimeout(timer);
        await untilAborted(backlog, opts.signal);
        arm();
      }
      const { value, done } = await reader.read();
      if (done) break;
      arm();
      if (value) parser.feed(value);
    }
  } catch (err) {
    out.error = err;
  } finally {
    out.lastEventId = parser.lastEventId;
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return out;
}

/** `wait`, cut short by `signal` (no listener left behind either way). */
async function untilAborted(wait: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return wait;
  if (signal.aborted) return;
  let onAbort: () => void = () => {};
  const aborted = new Promise<void>((resolve) => (onAbort = resolve));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([wait, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
