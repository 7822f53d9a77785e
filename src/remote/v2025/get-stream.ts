/**
 * The standalone GET stream of a 2025-11-25 session (server-initiated messages outside any
 * request): kept open while the session lives, resumed with Last-Event-ID after a drop,
 * reconnected with the server's SSE `retry` or exponential backoff while the server is away.
 */
import type { HttpResponse } from '../../http/node-http.js';
import { describeError, isRelayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { JsonRpcMessage, RawMessage } from '../../jsonrpc/messages.js';
import { sleep } from '../../sleep.js';
import { networkError } from '../../http/net-errors.js';
import { readSseStream } from '../../http/sse-reader.js';
import type { Bounds } from '../../http/bounded.js';

/** Reconnect backoff when the server sends no `retry:` (1 s doubling to 30 s). */
const GET_BACKOFF_INITIAL_MS = 1_000;
const GET_BACKOFF_MAX_MS = 30_000;

export interface GetStreamDeps {
  stop: AbortSignal;
  /** GET the endpoint (with Last-Event-ID when resuming). */
  open(lastEventId: string | undefined, stop: AbortSignal): Promise<HttpResponse>;
  /** The session the stream belongs to, if any. */
  session(): string | undefined;
  onMessage(msg: JsonRpcMessage, raw: RawMessage | undefined): void;
  /** The remote's memory bounds (--max-message-mb and the shared in-flight budget), as for answers. */
  bounds: Bounds;
  /** Backpressure from the host (see ReadOptions.ready). */
  ready?: (() => Promise<void> | undefined) | undefined;
  /** The server offers no GET stream (405): never ask again. */
  onRefused(): void;
  /** The server forgot the session (404): a new one must be started. */
  onSessionGone(session: string): void;
  url: URL;
  log: Logger;
}

export async function runGetStream(d: GetStreamDeps): Promise<void> {
  let lastEventId: string | undefined;
  let failures = 0;
  while (!d.stop.aborted) {
    let retryMs: number | undefined;
    const session = d.session();
    try {
      const res = await d.open(lastEventId, d.stop);
      if (res.status === 405) {
        // MCP 2025-11-25 transports: the server MUST return 405 if it offers no stream at this endpoint.
        await res.body?.cancel().catch(() => {});
        d.onRefused();
        return;
      }
      if (res.status === 404 && session) {
        await res.body?.cancel().catch(() => {});
        d.onSessionGone(session);
        return;
      }
      if (res.ok && res.body) {
        const outcome = await readSseStream(res.body, {
          idleMs: 0,
          signal: d.stop,
          // Without them the reader fell back to its 256 MiB default (found by invariants.test.ts).
          bounds: d.bounds,
          onMessage: d.onMessage,
          ready: d.ready,
          onBadEvent: (reason) => d.log.warn(`server sent ${reason} on the GET stream; ignored`),
        });
        // MCP 2025-11-25 transports, resumability: reconnect with the last event id seen.
        lastEventId = outcome.lastEventId ?? lastEventId;
        retryMs = outcome.retryMs;
        if (outcome.events > 0) failures = 0;
        if (isRelayError(outcome.error, 'REMOTE_TOO_LARGE')) d.log.warn(`the GET stream: ${outcome.error.message}; reopening it`);
      } else {
        await res.body?.cancel().catch(() => {});
        d.log.debug(`GET stream answered HTTP ${res.status}`);
      }
    } catch (err) {
      if (d.stop.aborted) return;
      d.log.debug(`GET stream failed: ${describeError(networkError(err, d.url))}`);
    }
    failures++;
    // Honour the server's SSE `retry` field; otherwise back off exponentially.
    await sleep(retryMs ?? Math.min(GET_BACKOFF_INITIAL_MS * 2 ** (failures - 1), GET_BACKOFF_MAX_MS), d.stop);
  }
}
