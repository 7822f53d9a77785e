/**
 * Types shared by the MCP test-server fixtures (see `mcp-servers.ts` for the entry points).
 */

/**
 * Which transport the fixture speaks.
 * - `stateful`: Streamable HTTP with `Mcp-Session-Id`, responses streamed as SSE on the POST.
 * - `stateless`: Streamable HTTP without sessions; a fresh McpServer + transport per POST;
 *   GET and DELETE answer 405.
 * - `json`: like `stateful` but with `enableJsonResponse: true` (one JSON body per POST).
 * - `sse`: the legacy HTTP+SSE transport (2024-11-05): `GET /sse` opens the stream, the client
 *   posts to `/messages?sessionId=…`.
 */
export type ServerKind = 'stateful' | 'stateless' | 'json' | 'sse';

/** Options for {@link startTestServer}. */
export interface TestServerOptions {
  kind: ServerKind;
  /** 0 or absent = a random free port; a fixed port lets a test restart the server in place. */
  port?: number;
  /** Answer 401 (plain text, no `WWW-Authenticate`) to any request that lacks this header value. */
  requireHeader?: { name: string; value: string };
  /**
   * Stateful kinds only (`stateful`, `json`): give every session an in-memory EventStore so
   * SSE streams carry event ids and can be resumed with `Last-Event-ID`.
   */
  eventStore?: boolean;
}

/** One HTTP request as the fixture received it (before the header check). */
export interface RecordedRequest {
  method: string;
  /** URL path without the query string. */
  path: string;
  /** `Mcp-Session-Id` header, or the `sessionId` query parameter for the legacy SSE kind. */
  sessionId?: string;
  /** Parsed JSON for POST (the raw text when it was not JSON); undefined otherwise. */
  body?: unknown;
}

/**
 * What the MCP layer saw. Requests refused by `requireHeader` are not counted here (they are
 * still in `requests` and `seenHeaders`).
 */
export interface TestServerCounters {
  /** `initialize` JSON-RPC requests received (batches counted per message). */
  initialize: number;
  /** HTTP DELETE requests received (whatever the answer was). */
  deleteSession: number;
  /** `slow` calls stopped by a client `notifications/cancelled` (not by the session closing). */
  cancelled: number;
  /** HTTP GET requests received (standalone SSE streams, legacy `/sse` streams). */
  get: number;
}

/** A running fixture server. */
export interface TestServer {
  kind: ServerKind;
  /** The endpoint a client uses: `http://127.0.0.1:PORT/mcp` (or `/sse` for kind `sse`). */
  url: string;
  port: number;
  /** Lower-cased request headers of every HTTP request, in arrival order. */
  seenHeaders: Array<Record<string, string | undefined>>;
  /** Every HTTP request, in arrival order. */
  requests: RecordedRequest[];
  counters: TestServerCounters;
  /** Currently open session ids (always empty for `stateless`). */
  sessionIds(): string[];
  /** Close every session as if the server expired them: an old id then gets 404. */
  dropAllSessions(): Promise<void>;
  /** Stop listening, close sessions and destroy open sockets; idempotent. */
  close(): Promise<void>;
}
