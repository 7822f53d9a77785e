/**
 * The remote side behind one small interface, so the stdio side never knows which transport
 * (Streamable HTTP 2025-11-25, legacy HTTP+SSE, or 2026-07-28 Streamable HTTP: modern.ts, whose
 * kind is also 'http') carries the messages.
 */
import type { Logger } from '../log.js';
import type { JsonRpcMessage, RawMessage } from '../jsonrpc/messages.js';
import type { AuthHook } from '../auth/hook.js';
import type { FetchFn } from '../http/fetch.js';
import type { HttpFetch } from '../http/node-http.js';

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
  /** A request whose answer stream stays silent this long is answered with a timeout error (0 = never). */
  requestTimeoutMs: number;
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
