/**
 * The OAuth-protected MCP endpoint: bearer token validation (MCP 2025-11-25 "Token Handling"),
 * per-tool scopes answered with 403 insufficient_scope before the transport sees the request,
 * and stateful Streamable HTTP sessions (one SDK transport + Server per session).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { DemoContext } from './context.js';
import { bearerToken, HttpError, MAX_BODY_BYTES, readBody, sameResource, sendJson } from './http.js';
import { createMcpApp } from './mcp-app.js';

/** JSON-RPC error codes used by the SDK's transport for HTTP-level failures. */
const JSONRPC_SERVER_ERROR = -32000;
const JSONRPC_SESSION_NOT_FOUND = -32001;
const JSONRPC_PARSE_ERROR = -32700;

interface Session {
  transport: StreamableHTTPServerTransport;
  server: Server;
}

export interface McpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  sessionCount(): number;
  /** Close every session (their ids then get 404). */
  dropSessions(): Promise<void>;
}

export interface McpEndpointOptions {
  /** Host headers accepted (DNS rebinding protection); undefined: no check. */
  allowedHosts?: string[];
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string, id: unknown = null, headers: Record<string, string> = {}): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id }, headers);
}

function messagesOf(body: unknown): Record<string, unknown>[] {
  const list = Array.isArray(body) ? body : [body];
  return list.filter((m): m is Record<string, unknown> => !!m && typeof m === 'object');
}

/** Scopes the tool calls in a POST body need, per requiredScopeForTool. */
export function scopesNeeded(body: unknown, requiredScopeForTool: Record<string, string>): string[] {
  const needed = new Set<string>();
  for (const m of messagesOf(body)) {
    const params = m.params as Record<string, unknown> | undefined;
    const name = params?.name;
    if (m.method === 'tools/call' && typeof name === 'string' && Object.hasOwn(requiredScopeForTool, name)) {
      needed.add(requiredScopeForTool[name]!);
    }
  }
  return [...needed];
}

export function createMcpEndpoint(ctx: DemoContext, opts: McpEndpointOptions = {}): McpEndpoint {
  const sessions = new Map<string, Session>();

  /**
   * MCP 2025-11-25 "Protected Resource Metadata Discovery Requirements": 401 with the metadata
   * URL and the scope to ask for; RFC 6750 §3.1: error="invalid_token" only when a token was sent.
   */
  const unauthorized = (res: ServerResponse, reason: string | undefined): void => {
    ctx.counters.unauthorized401++;
    let challenge = `Bearer resource_metadata="${ctx.resourceMetadataUrl}", scope="${ctx.challengeScope}"`;
    if (reason) challenge += `, error="invalid_token", error_description="${reason}"`;
    ctx.log.info({ reason: reason ?? 'no token' }, 'demo MCP: 401');
    jsonRpcError(res, 401, JSONRPC_SERVER_ERROR, `Unauthorized: ${reason ?? 'bearer token required'}`, null, { 'WWW-Authenticate': challenge });
  };

  /** Validate the bearer token: known, unexpired, unrevoked, and issued for this MCP server. */
  const authenticate = (req: IncomingMessage, res: ServerResponse): AuthInfo | 'refused' => {
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      unauthorized(res, undefined);
      return 'refused';
    }
    const checked = ctx.grants.checkAccess(token);
    if (checked.kind === 'invalid') {
      unauthorized(res, checked.reason);
      return 'refused';
    }
    // MCP 2025-11-25 "Token Handling": servers MUST validate the token's audience (RFC 8707 §2).
    if (!sameResource(checked.token.resource, ctx.mcpUrl)) {
      unauthorized(res, 'access token was issued for another resource');
      return 'refused';
    }
    return {
      token,
      clientId: checked.token.clientId,
      scopes: [...checked.token.scope],
      expiresAt: Math.floor(checked.token.expiresAt / 1000),
      resource: new URL(ctx.mcpUrl),
    };
  };

  /** MCP 2025-11-25 "Runtime Insufficient Scope Errors": 403 naming existing plus needed scopes. */
  const insufficientScope = (res: ServerResponse, auth: AuthInfo, missing: string[], body: unknown): void => {
    ctx.counters.insufficientScope403++;
    const scope = [...new Set([...auth.scopes, ...missing])].join(' ');
    const description = `this call needs scope ${missing.join(' ')}`;
    const challenge = `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${ctx.resourceMetadataUrl}", error_description="${description}"`;
    const single = Array.isArray(body) ? undefined : messagesOf(body)[0];
    ctx.log.info({ client_id: auth.clientId, missing: missing.join(' ') }, 'demo MCP: 403 insufficient_scope');
    jsonRpcError(res, 403, JSONRPC_SERVER_ERROR, `Forbidden: ${description}`, single?.id ?? null, { 'WWW-Authenticate': challenge });
  };

  const newSession = async (): Promise<Session> => {
    const server = createMcpApp({ counters: ctx.counters, sessionCount: () => sessions.size });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
      ...(opts.allowedHosts ? { enableDnsRebindingProtection: true, allowedHosts: opts.allowedHosts } : {}),
    });
    await server.connect(transport);
    return { transport, server };
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    ctx.counters.mcpRequests++;
    let auth: AuthInfo | undefined;
    if (ctx.requireAuth) {
      const result = authenticate(req, res);
      if (result === 'refused') return;
      auth = result;
    }
    let body: unknown;
    if (req.method === 'POST') {
      try {
        body = JSON.parse((await readBody(req, MAX_BODY_BYTES)).toString('utf8')) as unknown;
      } catch (err) {
        if (err instanceof HttpError) return jsonRpcError(res, err.status, JSONRPC_SERVER_ERROR, err.description);
        return jsonRpcError(res, 400, JSONRPC_PARSE_ERROR, 'Parse error: Invalid JSON');
      }
      if (auth) {
        const missing = scopesNeeded(body, ctx.requiredScopeForTool).filter((s) => !auth.scopes.includes(s));
        if (missing.length) return insufficientScope(res, auth, missing, body);
      }
    }
    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = typeof sessionHeader === 'string' ? sessionHeader : undefined;
    let session = sessionId === undefined ? undefined : sessions.get(sessionId);
    if (sessionId !== undefined && !session) return jsonRpcError(res, 404, JSONRPC_SESSION_NOT_FOUND, 'Session not found');
    if (!session) {
      const initializing = req.method === 'POST' && messagesOf(body).some((m) => isInitializeRequest(m));
      if (!initializing) return jsonRpcError(res, 400, JSONRPC_SERVER_ERROR, 'Bad Request: No valid session ID provided');
      session = await newSession();
    }
    (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
    await session.transport.handleRequest(req, res, body);
  }

  async function dropSessions(): Promise<void> {
    const all = [...sessions.values()];
    sessions.clear();
    await Promise.allSettled(all.map((s) => s.server.close()));
  }

  return { handle, sessionCount: () => sessions.size, dropSessions };
}
