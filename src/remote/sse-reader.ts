/**
 * Reading one SSE response body (a POST answer stream or the standalone GET stream) into
 * JSON-RPC messages, with an idle timeout and the facts needed to resume it
 * (MCP 2025-11-25 transports, "Resumability and Redelivery": event ids + Last-Event-ID).
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { ReadableStream } from 'node:stream/web';
import { asMessage, type JsonRpcMessage } from '../relay/jsonrpc.js';

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
  onMessage(msg: JsonRpcMessage, raw: string | undefined): void;
  onBadEvent(reason: string): void;
}

/**
 * Consume `body` until it ends, fails, goes idle, or `signal` aborts. Never throws.
 * One reader loop feeding eventsource-parser's push parser: no per-answer TextDecoderStream and
 * parser stream (measured by `npm run bench` as a large part of the relay's CPU per call).
 * Any bytes, keep-alive comments included, count as a sign of life for the idle timeout.
 */
export async function readSseStream(body: ReadableStream<Uint8Array>, opts: ReadOptions): Promise<StreamOutcome> {
  const out: StreamOutcome = { lastEventId: undefined, retryMs: undefined, error: undefined, idle: false, events: 0 };
  const onEvent = (event: EventSourceMessage) => {
    if (event.id) out.lastEventId = event.id;
    if (!event.data) return; // priming events
    if (event.event && event.event !== 'message') return;
    out.events++;
    let value: unknown;
    try {
      value = JSON.parse(event.data);
    } catch {
      opts.onBadEvent('an SSE event that is not JSON');
      return;
    }
    const list = Array.isArray(value) ? value : [value];
    for (const item of list) {
      const msg = asMessage(item);
      if (msg) opts.onMessage(msg, list.length === 1 ? event.data : undefined);
      else opts.onBadEvent('an SSE event that is not a JSON-RPC message');
    }
  };
  const parser = createParser({ onEvent, onRetry: (ms) => (out.retryMs = ms) });
  const decoder = new TextDecoder();
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
      const { value, done } = await reader.read();
      if (done) break;
      arm();
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } catch (err) {
    out.error = err;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return out;
}
