/**
 * End-to-end fixtures: real MCP servers from the SDK on 127.0.0.1, hosted on node:http, that
 * record what they saw (headers, requests, counters) so tests assert on the far side of the relay.
 *
 * Capabilities (same for every kind) are listed on {@link createCapabilityServer}. Limits:
 * `sample`, `ask` and `roots` need the `stateful` or `sse` kind (server→client requests need a
 * stream and a session), and in the `json` kind the SDK drops request-scoped notifications
 * (`slow` progress, `log`).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { listenLoopback } from './loopback-server.js';
import { createCapabilityServer } from './mcp-capabilities.js';
import { createSseRouter, createStatefulRouter, createStatelessRouter, MCP_PATH, type Router, sendJsonRpcError, SSE_PATH } from './mcp-routes.js';
import type { RecordedRequest, ServerKind, TestServer, TestServerCounters, TestServerOptions } from './mcp-server-types.js';

export type { RecordedRequest, ServerKind, TestServer, TestServerCounters, TestServerOptions } from './mcp-server-types.js';
export { HELLO_RESOURCE_URI, ITEM_TEMPLATE_URI } from './mcp-capabilities.js';
export { InMemoryEventStore } from './event-store.js';

/** Fixtures listen on loopback only. */
const LOOPBACK_HOST = '127.0.0.1';
/** JSON-RPC "Parse error" (JSON-RPC 2.0 §5.1). */
const PARSE_ERROR_CODE = -32700;
/** JSON-RPC "Internal error" (JSON-RPC 2.0 §5.1). */
const INTERNAL_ERROR_CODE = -32603;
/** Event-loop turns close() waits after destroying sockets (see there). */
const CLIENT_NOTICE_TURNS = 2;

type ParsedBody = { ok: true; value: unknown } | { ok: false; raw: string };

function lowerCaseHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

async function readJsonBody(req: IncomingMessage): Promise<ParsedBody> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false, raw };
  }
}

function countInitializeRequests(body: unknown): number {
  const messages = Array.isArray(body) ? (body as unknown[]) : [body];
  return messages.filter((m) => typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize').length;
}

function createRouter(kind: ServerKind, counters: TestServerCounters, eventStore: boolean): Router {
  const newServer = () => createCapabilityServer(counters);
  switch (kind) {
    case 'stateful':
      return createStatefulRouter(newServer, { jsonResponse: false, eventStore });
    case 'json':
      return createStatefulRouter(newServer, { jsonResponse: true, eventStore });
    case 'stateless':
      return createStatelessRouter(newServer);
    case 'sse':
      return createSseRouter(newServer);
  }
}

/**
 * Starts a fixture MCP server of the given kind on 127.0.0.1 (random port unless `opts.port`).
 * Always `close()` it in `afterEach`.
 */
export async function startTestServer(opts: TestServerOptions): Promise<TestServer> {
  if (opts.eventStore === true && opts.kind !== 'stateful' && opts.kind !== 'json') {
    throw new Error(`eventStore needs a stateful kind (got ${opts.kind})`);
  }
  const counters: TestServerCounters = { initialize: 0, deleteSession: 0, cancelled: 0, get: 0 };
  const seenHeaders: TestServer['seenHeaders'] = [];
  const requests: RecordedRequest[] = [];
  const router = createRouter(opts.kind, counters, opts.eventStore === true);
  const required = opts.requireHeader && { name: opts.requireHeader.name.toLowerCase(), value: opts.requireHeader.value };

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK_HOST}`);
    const headers = lowerCaseHeaders(req.headers);
    seenHeaders.push(headers);
    const method = req.method ?? 'GET';
    const sessionId = headers['mcp-session-id'] ?? url.searchParams.get('sessionId') ?? undefined;
    const entry: RecordedRequest = { method, path: url.pathname, ...(sessionId !== undefined ? { sessionId } : {}) };
    requests.push(entry);
    const parsed = method === 'POST' ? await readJsonBody(req) : undefined;
    if (parsed !== undefined) entry.body = parsed.ok ? parsed.value : parsed.raw;

    if (required !== undefined && headers[required.name] !== required.value) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized');
      return;
    }
    // The SDK transports would try to re-read a consumed body: answer malformed POSTs here.
    if (parsed !== undefined && !parsed.ok) return sendJsonRpcError(res, 400, PARSE_ERROR_CODE, 'Parse error');
    if (method === 'GET') counters.get += 1;
    if (method === 'DELETE') counters.deleteSession += 1;
    if (parsed?.ok) counters.initialize += countInitializeRequests(parsed.value);
    await router.handle(req, res, url, parsed?.ok ? parsed.value : undefined);
  }

  const host = await listenLoopback(
    (req, res) => {
      onRequest(req, res).catch((error: unknown) => {
        if (!res.headersSent) sendJsonRpcError(res, 500, INTERNAL_ERROR_CODE, `Internal error: ${String(error)}`);
        else res.destroy();
      });
    },
    { host: LOOPBACK_HOST, port: opts.port ?? 0 },
  );
  const { port } = host;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await router.closeAll();
      await host.close();
      // In-process clients (undici's keep-alive pool) learn of the FINs in the next poll phase;
      // let the loop turn so a request right after close()/restart does not reuse a dead socket.
      for (let turn = 0; turn < CLIENT_NOTICE_TURNS; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    })();
    return closing;
  };

  return {
    kind: opts.kind,
    url: `http://${LOOPBACK_HOST}:${port}${opts.kind === 'sse' ? SSE_PATH : MCP_PATH}`,
    port,
    seenHeaders,
    requests,
    counters,
    sessionIds: () => router.sessionIds(),
    dropAllSessions: () => router.closeAll(),
    close,
  };
}

/**
 * Closes `s` and starts a new server of `opts` on the same port: same URL, fresh process state,
 * so every old session id gets 404.
 */
export async function restartTestServer(s: TestServer, opts: TestServerOptions): Promise<TestServer> {
  await s.close();
  return startTestServer({ ...opts, port: s.port });
}
