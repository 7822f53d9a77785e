/**
 * The remote side behind one small interface, so the stdio side never knows which transport
 * (Streamable HTTP 2025-11-25, legacy HTTP+SSE, or 2026-07-28 Streamable HTTP: modern.ts, whose
 * kind is also 'http') carries the messages.
 */
import type { Logger } from '../log.js';
import type { JsonRpcMessage, RawMessage } from '../relay/jsonrpc.js';
import type { BearerChallenge } from './challenge.js';
import type { FetchFn } from './fetch.js';
import type { HttpFetch } from './node-http.js';

export interface UnauthorizedInfo {
  status: 401 | 403;
  challenge: BearerChallenge;
  /** The Authorization value the server rejected (so the auth side can tell a stale token from a fresh one). */
  rejected: string | undefined;
}

/** How a remote gets credentials. Implemented by the auth coordinator; absent for header-only use. */
export interface AuthHook {
  /** The Authorization header value for the next request, if there are credentials. */
  authorization(): Promise<string | undefined>;
  /**
   * The server refused the credentials (401, or 403 insufficient_scope). Resolves when fresh
   * credentials are in place and the request should be retried; rejects (AUTH_*) when they cannot be had.
   */
  unauthorized(info: UnauthorizedInfo): Promise<void>;
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
