/**
 * The embedded demo: an in-process OAuth 2.1 authorization server plus an OAuth-protected MCP
 * server (Streamable HTTP) on one node:http listener. Used by `npm run demo`,
 * `mcp-relay demo-server` and the test suite, which reads its counters to see what a client
 * really did (registrations, browser tabs, token requests by grant, failures by reason).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthServerRoutes } from './auth-server.js';
import { createContext, MCP_PATH, type DemoContext } from './context.js';
import { isLoopbackHostname, sendJson } from './http.js';
import { createMcpEndpoint, type McpEndpoint } from './mcp-endpoint.js';
import type { DemoServer, DemoServerOptions } from './types.js';

export type { DemoCounters, DemoRequestEvent, DemoServer, DemoServerOptions, StaticClient } from './types.js';

const DEFAULT_HOST = '127.0.0.1';

/** How the listener's address is written in URLs (IPv6 in brackets; wildcard → loopback). */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function createDispatcher(ctx: DemoContext, mcp: McpEndpoint): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const routes = createAuthServerRoutes(ctx);
  return async (req, res) => {
    const url = new URL(req.url ?? '/', ctx.issuer);
    const method = req.method ?? 'GET';
    ctx.events.emit('request', { method, path: url.pathname });
    try {
      if (url.pathname === MCP_PATH) return await mcp.handle(req, res);
      const route = routes.get(`${method} ${url.pathname}`);
      if (route) return await route(req, res, url);
      const allowed = [...routes.keys()].filter((k) => k.endsWith(` ${url.pathname}`)).map((k) => k.split(' ')[0]!);
      if (allowed.length) return sendJson(res, 405, { error: 'method_not_allowed' }, { Allow: allowed.join(', ') });
      sendJson(res, 404, { error: 'not_found', error_description: `nothing at ${url.pathname}` });
    } catch (err) {
      ctx.log.error({ err, path: url.pathname }, 'demo server: request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'internal error' });
      else res.destroy();
    }
  };
}

/**
 * Start the demo server and resolve once it listens.
 *
 * @example
 * const demo = await startDemoServer({ autoApprove: true });
 * // demo.url is the MCP endpoint; demo.counters shows what clients did.
 * await demo.close();
 */
export async function startDemoServer(opts: DemoServerOptions = {}): Promise<DemoServer> {
  const host = opts.host ?? DEFAULT_HOST;
  let dispatch: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  const httpServer = createServer((req, res) => {
    if (dispatch) void dispatch(req, res);
    else sendJson(res, 503, { error: 'temporarily_unavailable' });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port ?? 0, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const ctx = createContext(opts, `http://${urlHost(host)}:${port}`);
  // DNS rebinding protection: a server bound to loopback answers only to loopback Host headers.
  const loopback = isLoopbackHostname(host.includes(':') ? `[${host}]` : host);
  const mcp = createMcpEndpoint(ctx, loopback ? { allowedHosts: [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`] } : {});
  dispatch = createDispatcher(ctx, mcp);
  ctx.log.info({ url: ctx.mcpUrl, issuer: ctx.issuer }, 'demo server listening');

  let closing: Promise<void> | undefined;
  return {
    url: ctx.mcpUrl,
    issuer: ctx.issuer,
    resourceMetadataUrl: ctx.resourceMetadataUrl,
    counters: ctx.counters,
    events: ctx.events,
    expireAccessTokens: () => ctx.grants.expireAccessTokens(),
    revokeAll: () => ctx.grants.revokeAll(),
    setDown: (down) => {
      ctx.down = down;
    },
    approveDevice: (userCode) => {
      if (!ctx.devices.decide(userCode, true)) throw new Error(`no pending device authorization for user code ${userCode}`);
    },
    dropSessions: () => mcp.dropSessions(),
    close: () => {
      closing ??= (async () => {
        await mcp.dropSessions();
        httpServer.closeAllConnections();
        await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      })();
      return closing;
    },
  };
}
