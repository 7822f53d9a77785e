import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { InMemoryEventStore } from './event-store.js';

/** Streamable HTTP endpoint path. */
export const MCP_PATH = '/mcp';
/** Legacy HTTP+SSE: the stream endpoint. */
export const SSE_PATH = '/sse';
/** Legacy HTTP+SSE: where the client posts (with `?sessionId=`). */
export const SSE_MESSAGES_PATH = '/messages';

/** JSON-RPC error code the SDK uses for "Session not found". */
const SESSION_NOT_FOUND_CODE = -32001;
/** Generic server error code (JSON-RPC implementation-defined range). */
const SERVER_ERROR_CODE = -32000;

/** Handles the MCP part of a fixture for one {@link ServerKind}. */
export interface Router {
  /** `body` is the already-read POST body (parsed JSON), undefined for other methods. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: unknown): Promise<void>;
  sessionIds(): string[];
  /** Close every session / in-flight server (idempotent). */
  closeAll(): Promise<void>;
}

/** Creates the McpServer a session (or a stateless request) talks to. */
export type McpServerFactory = () => McpServer;

/** Writes a JSON-RPC error body with `id: null`, as the SDK's own routing errors do. */
export function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
}

/**
 * Stateful Streamable HTTP (the SDK's simpleStreamableHttp example on node:http).
 * MCP 2025-11-25 transports, "Session Management": an unknown session id gets 404, a
 * non-initialize request without one gets 400.
 */
export function createStatefulRouter(newServer: McpServerFactory, opts: { jsonResponse: boolean; eventStore: boolean }): Router {
  const sessions = new Map<string, { server: McpServer; transport: StreamableHTTPServerTransport }>();

  async function openSession(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const server = newServer();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: opts.jsonResponse,
      ...(opts.eventStore ? { eventStore: new InMemoryEventStore() } : {}),
      onsessioninitialized: (id) => {
        sessions.set(id, { server, transport });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  return {
    async handle(req, res, url, body) {
      if (url.pathname !== MCP_PATH) return notFound(res);
      const header = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (sessionId !== undefined) {
        const session = sessions.get(sessionId);
        if (session === undefined) return sendJsonRpcError(res, 404, SESSION_NOT_FOUND_CODE, 'Session not found');
        return session.transport.handleRequest(req, res, body);
      }
      if (req.method === 'POST' && isInitializeRequest(body)) return openSession(req, res, body);
      return sendJsonRpcError(res, 400, SERVER_ERROR_CODE, 'Bad Request: No valid session ID provided');
    },
    sessionIds: () => [...sessions.keys()],
    async closeAll() {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(open.map(({ server }) => server.close()));
    },
  };
}

/**
 * Stateless Streamable HTTP: a fresh McpServer and transport per POST, closed with the
 * response (as the SDK's simpleStatelessStreamableHttp example); GET and DELETE answer 405.
 */
export function createStatelessRouter(newServer: McpServerFactory): Router {
  const inFlight = new Set<McpServer>();
  return {
    async handle(req, res, url, body) {
      if (url.pathname !== MCP_PATH) return notFound(res);
      if (req.method !== 'POST') return sendJsonRpcError(res, 405, SERVER_ERROR_CODE, 'Method not allowed.', { allow: 'POST' });
      const server = newServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      inFlight.add(server);
      res.on('close', () => {
        inFlight.delete(server);
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    },
    sessionIds: () => [],
    async closeAll() {
      const open = [...inFlight];
      inFlight.clear();
      await Promise.allSettled(open.map((server) => server.close()));
    },
  };
}

/** Legacy HTTP+SSE (protocol 2024-11-05), as the SDK's simpleSseServer example. */
export function createSseRouter(newServer: McpServerFactory): Router {
  const sessions = new Map<string, { server: McpServer; transport: SSEServerTransport }>();
  return {
    async handle(req, res, url, body) {
      if (req.method === 'GET' && url.pathname === SSE_PATH) {
        const server = newServer();
        const transport = new SSEServerTransport(SSE_MESSAGES_PATH, res);
        const { sessionId } = transport;
        sessions.set(sessionId, { server, transport });
        transport.onclose = () => {
          sessions.delete(sessionId);
        };
        await server.connect(transport);
        return;
      }
      if (req.method === 'POST' && url.pathname === SSE_MESSAGES_PATH) {
        const sessionId = url.searchParams.get('sessionId');
        if (sessionId === null) return sendJsonRpcError(res, 400, SERVER_ERROR_CODE, 'Missing sessionId parameter');
        const session = sessions.get(sessionId);
        if (session === undefined) return sendJsonRpcError(res, 404, SESSION_NOT_FOUND_CODE, 'Session not found');
        return session.transport.handlePostMessage(req, res, body);
      }
      return notFound(res);
    },
    sessionIds: () => [...sessions.keys()],
    async closeAll() {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(open.map(({ server }) => server.close()));
    },
  };
}
