/**
 * Reading one SSE response body (a POST answer stream or the standalone GET stream) into
 * JSON-RPC messages, with an idle timeout and the facts needed to resume it
 * (MCP 2025-11-25 transports, "Resumability and Redelivery": event ids + Last-Event-ID).
 */
import { decodeMessages } from '../jsonrpc/json-bytes.js';
import type { JsonRpcMessage, RawMessage } from '../jsonrpc/messages.js';
import { MAX_MESSAGE_BYTES } from '../jsonrpc/limits.js';
import { inflightExceeded, tooLarge, type Bounds } from './bounded.js';
import type { HttpBody } from './node-http.js';
import { createSseParser, type SseEvent } from './sse-bytes.js';

export interface StreamOutcome {
  /** Id of the last event seen (for Last-Event-ID), if the server sent ids. */
  lastEventId: string | undefined;
  /** The server's `retry:` field in ms, if sent. */
  retryMs: number | undefined;
  /** Why the stream stopped early: a network error, or REMOTE_TOO_LARGE when it passed `bounds`. */
  error: unknown;
  idle: boolean;
  /** Number of events with data. */
  events: number;
}

export interface ReadOptions {
  /** No complete event for this long ends the read as `idle` (0 = never). Bytes alone are no sign of life. */
  idleMs: number;
  /** Memory bounds (default: MAX_MESSAGE_BYTES per line and event, no shared budget). */
  bounds?: Bounds | undefined;
  signal?: AbortSignal | undefined;
  /**
   * A second signal that ends the read the same way (a request's budget beside the transport's
   * closing): one listener on each instead of an `AbortSignal.any` per answer, which costs a new
   * signal with weak references to its sources on every request.
   */
  alsoSignal?: AbortSignal | undefined;
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
 * Only a complete event counts as a sign of life for the idle timeout: a server that trickles
 * bytes, sends keep-alive comments or garbage forever is idle all the same. A line or an event over
 * the message bound, or more buffered bytes than the shared budget allows, ends the read with
 * REMOTE_TOO_LARGE and cancels the body (the connection is dropped).
 */
export async function readSseStream(body: HttpBody, opts: ReadOptions): Promise<StreamOutcome> {
  const out: StreamOutcome = { lastEventId: undefined, retryMs: undefined, error: undefined, idle: false, events: 0 };
  const maxBytes = opts.bounds?.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const budget = opts.bounds?.budget;
  let failure: unknown;
  const onEvent = (event: SseEvent) => {
    arm();
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
      onOversized: (bytes) => (failure ??= tooLarge('an SSE event', bytes, maxBytes)),
    },
    maxBytes,
  );
  /** Bytes of this stream counted against the shared budget. */
  let held = 0;
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
  const signals = [opts.signal, opts.alsoSignal].filter((s): s is AbortSignal => s !== undefined);
  for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
  arm();
  try {
    for (;;) {
      const backlog = opts.ready?.();
      if (backlog) {
        clearTimeout(timer);
        await untilAborted(backlog, signals);
        arm();
      }
      const { value, done } = await reader.read();
      if (done) break;
      if (value) parser.feed(value);
      if (budget) {
        const now = parser.bufferedBytes;
        if (now > held && !budget.take(now - held)) failure ??= inflightExceeded(budget);
        else if (now > held) held = now;
        else if (now < held) {
          budget.give(held - now);
          held = now;
        }
      }
      if (failure) {
        out.error = failure;
        await reader.cancel().catch(() => {});
        break;
      }
    }
  } catch (err) {
    out.error = err;
  } finally {
    budget?.give(held);
    out.lastEventId = parser.lastEventId;
    clearTimeout(timer);
    for (const s of signals) s.removeEventListener('abort', onAbort);
  }
  return out;
}

/** `wait`, cut short by any of `signals` (no listener left behind either way). */
async function untilAborted(wait: Promise<void>, signals: readonly AbortSignal[]): Promise<void> {
  if (signals.length === 0) return wait;
  if (signals.some((s) => s.aborted)) return;
  let onAbort: () => void = () => {};
  const aborted = new Promise<void>((resolve) => (onAbort = resolve));
  for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([wait, aborted]);
  } finally {
    for (const s of signals) s.removeEventListener('abort', onAbort);
  }
}
