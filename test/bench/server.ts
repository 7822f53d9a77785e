/**
 * The bench's MCP server, in-process: node:http + the SDK's McpServer and
 * StreamableHTTPServerTransport with stateful sessions and SSE answer streams (the SDK default),
 * as test/helpers/mcp-routes.ts hosts it. All three ways of reaching it (direct, relay,
 * mcp-remote) talk to this same server, so its cost is the same for each.
 *
 * Tools: `echo {text}` returns the text; `blob {bytes}` returns a text block of exactly `bytes`
 * base64 characters (incompressible, no JSON escapes); `slow {steps, delayMs}` sends one
 * `notifications/progress` per step when the caller gave a progress token.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod/v4';
import { listenLoopback } from '../helpers/loopback-server.js';
import { sleep } from '../../src/sleep.js';

/** The server listens on loopback only. */
const LOOPBACK_HOST = '127.0.0.1';
const MCP_PATH = '/mcp';
/** Largest `blob` the server agrees to build (the bench asks for at most 8 MiB). */
const MAX_BLOB_BYTES = 64 * 1024 * 1024;
/** JSON-RPC codes the SDK itself uses for routing errors. */
const SESSION_NOT_FOUND_CODE = -32001;
const SERVER_ERROR_CODE = -32000;
const PARSE_ERROR_CODE = -32700;
/** base64 turns 3 bytes into 4 characters. */
const BASE64_CHARS_PER_BYTE = 4 / 3;

export interface BenchServer {
  /** The Streamable HTTP endpoint, e.g. http://127.0.0.1:40123/mcp */
  url: string;
  /** Sessions currently open (one per connected client). */
  sessionCount(): number;
  close(): Promise<void>;
}

function text(value: string): CallToolResult {
  return { content: [{ type: 'text', text: value }] };
}

/** Blobs are built once per size: the server's own cost stays out of the measured time. */
function blobMaker(): (bytes: number) => string {
  const cache = new Map<number, string>();
  return (bytes) => {
    let blob = cache.get(bytes);
    if (blob === undefined) {
      blob = randomBytes(Math.ceil(bytes / BASE64_CHARS_PER_BYTE) + 3)
        .toString('base64')
        .slice(0, bytes);
      cache.set(bytes, blob);
    }
    return blob;
  };
}

function newMcpServer(blob: (bytes: number) => string): McpServer {
  const mcp = new McpServer({ name: 'mcp-relay-bench', version: '1.0.0' });
  mcp.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text: value }) => text(value));
  mcp.registerTool('blob', { inputSchema: { bytes: z.number().int().min(0).max(MAX_BLOB_BYTES) } }, ({ bytes }) => text(blob(bytes)));
  mcp.registerTool('slow', { inputSchema: { steps: z.number().int().min(0), delayMs: z.number().int().min(0) } }, async ({ steps, delayMs }, extra) => {
    const progressToken = extra._meta?.progressToken;
    for (let step = 1; step <= steps && !extra.signal.aborted; step += 1) {
      if (progressToken !== undefined) {
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: step, total: steps } });
      }
      await sleep(delayMs, extra.signal);
    }
    return text(`done ${steps}`);
  });
  return mcp;
}

function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Start the bench server on a random free loopback port. Always `close()` it. */
export async function startBenchServer(): Promise<BenchServer> {
  const blob = blobMaker();
  const sessions = new Map<string, { server: McpServer; transport: StreamableHTTPServerTransport }>();

  async function openSession(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const server = newMcpServer(blob);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, { server, transport }),
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK_HOST}`);
    if (url.pathname !== MCP_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    let body: unknown;
    if (req.method === 'POST') {
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return sendJsonRpcError(res, 400, PARSE_ERROR_CODE, 'Parse error');
      }
    }
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (session === undefined) return sendJsonRpcError(res, 404, SESSION_NOT_FOUND_CODE, 'Session not found');
      return session.transport.handleRequest(req, res, body);
    }
    // MCP 2025-11-25 transports, session management: a request without a session id that is not
    // an initialize gets 400.
    if (req.method === 'POST' && isInitializeRequest(body)) return openSession(req, res, body);
    return sendJsonRpcError(res, 400, SERVER_ERROR_CODE, 'Bad Request: No valid session ID provided');
  }

  const host = await listenLoopback(
    (req, res) => {
      onRequest(req, res).catch((error: unknown) => {
        if (!res.headersSent) sendJsonRpcError(res, 500, SERVER_ERROR_CODE, `Internal error: ${String(error)}`);
        else res.destroy();
      });
    },
    { host: LOOPBACK_HOST },
  );
  const { port } = host;

  return {
    url: `http://${LOOPBACK_HOST}:${port}${MCP_PATH}`,
    sessionCount: () => sessions.size,
    async close() {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(open.map(({ server }) => server.close()));
      await host.close();
    },
  };
}
