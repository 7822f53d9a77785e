/**
 * The remote side behind one small interface, so the stdio side never knows which transport
 * (Streamable HTTP 2025-11-25, legacy HTTP+SSE, or 2026-07-28 Streamable HTTP: v2026/, whose
 * kind is also 'http') carries the messages.
 */
import type { Logger } from '../log.js';
import type { Bounds } from '../http/bounded.js';
import type { JsonRpcId, JsonRpcMessage, RawMessage } from '../jsonrpc/messages.js';
import type { AuthHook } from '../auth/hook.js';
import type { FetchFn } from '../http/fetch.js';
import type { HttpFetch } from '../http/node-http.js';

/**
 * The relay's budget for one host request, as a remote sees it (relay/budget.ts keeps the clocks,
 * so every transport is held to the same limits in one place). A remote that carries the request
 * MUST stop working on it once `signal` aborts (the host has its answer already), and SHOULD report
 * every complete message that belongs to it.
 */
export interface RequestWatch {
  /** Aborts when the relay gives up on the request (--timeout without progress, or --max-time). */
  readonly signal: AbortSignal;
  /** A complete message for this request arrived: the no-progress clock starts again. */
  progress(): void;
  /** What is being done for the request now ("waiting for response headers" …), for the error if a limit fires. */
  phase(what: string): void;
  /** Time spent in `work` is not silence (a login the user is going through): the no-progress clock waits for it. */
  hold<T>(work: Promise<T>): Promise<T>;
}

export interface RemoteOptions {
  url: URL;
  /** Static headers from --header (already expanded). */
  headers: Record<string, string>;
  /** The client for MCP traffic (createMcpFetch; a web fetch fits too). */
  fetch: HttpFetch;
  /** A web fetch for the legacy SSE transport, which hands it to the SDK (default: the global fetch). */
  webFetch?: FetchFn | undefined;
  auth?: AuthHook | undefined;
  log: Logger;
  /**
   * For the relay's own requests (the era probe, a re-initialize, resuming): no response headers,
   * or no complete message, for this long fails them (0 = never). Host requests are held to their
   * RequestWatch instead.
   */
  requestTimeoutMs: number;
  /** --ping-interval: ping an idle 2025-11-25 session this often (0 or absent: never). */
  pingIntervalMs?: number | undefined;
  /** The budget of the host request with this id, while it is pending (absent: none is kept). */
  watch?: ((id: JsonRpcId) => RequestWatch | undefined) | undefined;
  /** Memory bounds for every answer read (default: MAX_MESSAGE_BYTES per message, no shared budget). */
  bounds?: Bounds | undefined;
  /** A promise while the host is behind on reading stdout: answer streams wait for it (sse-reader.ts). */
  hostReady?: (() => Promise<void> | undefined) | undefined;
  /** Every message from the server to the host, with its raw JSON text when it arrived alone. */
  deliver(msg: JsonRpcMessage, raw?: RawMessage): void;
}

export interface Remote {
  readonly kind: 'http' | 'sse';
  /**
   * Send one host message. Resolves once the server has accepted it; answers to requests arrive
   * through `deliver` (a request the server accepted always gets exactly one answer there, the
   * server's or a synthesised error). Rejects with a RelayError if the server did not accept it.
   */
  send(msg: JsonRpcMessage, raw: string): Promise<void>;
  /** End the session (DELETE where there is one) and stop every stream. */
  close(): Promise<void>;
}
