/**
 * A bare OAuth-protected MCP server on one loopback port, written out by hand so a test controls
 * exactly what metadata exists and sees every OAuth request as it arrived:
 * - `resource`: the RFC 9728 document's `resource`, published verbatim at
 *   /.well-known/oauth-protected-resource (null: no protected resource metadata at all);
 * - `asMetadata`: false serves no RFC 8414 / OpenID document either (a 2025-03-26 server that
 *   relies on the default /authorize, /token, /register endpoints);
 * - /mcp is a real SDK MCP server (stateless), behind a bearer check.
 * Every /register, /authorize and /token request is recorded with its raw parameters.
 * With `jwtBearer`, the token endpoint also takes RFC 7523 jwt-bearer grants (workload identity,
 * enterprise-managed authorization) and the metadata says so.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { listenLoopback } from './loopback-server.js';
import { createCapabilityServer } from './mcp-capabilities.js';
import { createStatelessRouter, MCP_PATH } from './mcp-routes.js';

/** RFC 7523 §2.1. */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Lifetime of issued access tokens (long: tests expire them explicitly with `expireAll`). */
const ACCESS_TOKEN_TTL_SEC = 3600;

/** One OAuth request as the server received it. */
export interface OAuthRecord {
  endpoint: '/register' | '/authorize' | '/token';
  /** Query (GET /authorize) or form (POST /token) parameters, decoded but otherwise untouched. */
  params: Record<string, string>;
  /** The Authorization header of a /token request (client authentication), if any. */
  authorization?: string | undefined;
}

/** The RFC 6749 §5.2 error to answer a jwt-bearer grant with, or undefined to issue tokens. */
export type JwtBearerCheck = (params: Record<string, string>, headers: IncomingHttpHeaders) => Promise<string | undefined>;

export interface PlainOAuthOptions {
  /** The `resource` of the protected resource metadata, exactly as published; a function gets the origin. null: no PRM. */
  resource: ((origin: string) => string) | null;
  /** Serve /.well-known/oauth-authorization-server (default true). */
  asMetadata?: boolean;
  /** Accept RFC 7523 jwt-bearer grants, each checked by this function. */
  jwtBearer?: JwtBearerCheck;
  /** token_endpoint_auth_methods_supported (default ['none']). */
  tokenAuthMethods?: string[];
  /**
   * More MCP endpoints behind the same authorization server (e.g. ['/mcp2']), each its own
   * resource `<origin><path>` with its metadata at `/.well-known/oauth-protected-resource<path>`.
   */
  extraMcpPaths?: string[];
  /** Answer a code exchange with 401 invalid_client when this returns true (an AS that binds clients to resources). */
  refuseClient?: (clientId: string, params: Record<string, string>) => boolean;
}

export interface PlainOAuthServer {
  origin: string;
  /** The MCP endpoint, `<origin>/mcp`. */
  url: string;
  records: OAuthRecord[];
  /** The `resource` parameter of every request that carried one, in arrival order, with its endpoint and grant. */
  resources(): Array<{ at: string; resource: string | undefined }>;
  /** Every well-known path that was asked for, with the status it got. */
  wellKnown: Array<{ path: string; status: number }>;
  /** Make every access token issued so far invalid (the next MCP request gets 401 → refresh). */
  expireAll(): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startPlainOAuthServer(opts: PlainOAuthOptions): Promise<PlainOAuthServer> {
  const records: OAuthRecord[] = [];
  const wellKnown: Array<{ path: string; status: number }> = [];
  const codes = new Map<string, { challenge: string }>();
  const live = new Set<string>();
  const refreshTokens = new Set<string>();
  const router = createStatelessRouter(() => createCapabilityServer({ initialize: 0, deleteSession: 0, cancelled: 0, get: 0 }));
  let origin = '';
  const prmUrl = () => `${origin}/.well-known/oauth-protected-resource`;

  const issue = (res: ServerResponse) => {
    const access = randomBytes(16).toString('hex');
    const refresh = randomBytes(16).toString('hex');
    live.add(access);
    refreshTokens.add(refresh);
    send(res, 200, { access_token: access, token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_SEC, refresh_token: refresh });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    if (path.startsWith('/.well-known/')) {
      let body: unknown;
      if (path === '/.well-known/oauth-protected-resource' && opts.resource) body = { resource: opts.resource(origin), authorization_servers: [origin] };
      const extra = opts.extraMcpPaths?.find((p) => path === `/.well-known/oauth-protected-resource${p}`);
      if (extra) body = { resource: `${origin}${extra}`, authorization_servers: [origin] };
      if (path === '/.well-known/oauth-authorization-server' && opts.asMetadata !== false) {
        body = {
          issuer: origin,
          authorization_endpoint: `${origin}/authorize`,
          token_endpoint: `${origin}/token`,
          registration_endpoint: `${origin}/register`,
          response_types_supported: ['code'],
          grant_types_supported: ['authorization_code', 'refresh_token', ...(opts.jwtBearer ? [JWT_BEARER] : [])],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: opts.tokenAuthMethods ?? ['none'],
        };
      }
      wellKnown.push({ path, status: body ? 200 : 404 });
      return body ? send(res, 200, body) : send(res, 404, { error: 'not_found' });
    }
    if (path === '/register' && req.method === 'POST') {
      const meta = JSON.parse(await readText(req)) as Record<string, unknown>;
      const clientId = `client-${randomBytes(4).toString('hex')}`;
      records.push({ endpoint: '/register', params: { client_id: clientId } });
      return send(res, 201, { ...meta, client_id: clientId, token_endpoint_auth_method: 'none' });
    }
    if (path === '/authorize' && req.method === 'GET') {
      const params = Object.fromEntries(url.searchParams);
      records.push({ endpoint: '/authorize', params });
      if (params.code_challenge_method !== 'S256' || !params.code_challenge || !params.redirect_uri) return send(res, 400, { error: 'invalid_request' });
      const code = randomBytes(16).toString('hex');
      codes.set(code, { challenge: params.code_challenge });
      const back = new URL(params.redirect_uri);
      back.searchParams.set('code', code);
      if (params.state) back.searchParams.set('state', params.state);
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (path === '/token' && req.method === 'POST') {
      const params = Object.fromEntries(new URLSearchParams(await readText(req)));
      records.push({ endpoint: '/token', params, authorization: req.headers.authorization });
      if (params.grant_type === 'authorization_code') {
        if (opts.refuseClient?.(params.client_id ?? '', params))
          return send(res, 401, { error: 'invalid_client', error_description: 'client not valid for this resource' });
        const c = codes.get(params.code ?? '');
        codes.delete(params.code ?? '');
        const verified =
          c &&
          createHash('sha256')
            .update(params.code_verifier ?? '')
            .digest('base64url') === c.challenge;
        return verified ? issue(res) : send(res, 400, { error: 'invalid_grant' });
      }
      if (params.grant_type === 'refresh_token' && refreshTokens.delete(params.refresh_token ?? '')) return issue(res);
      if (params.grant_type === JWT_BEARER && opts.jwtBearer) {
        const error = await opts.jwtBearer(params, req.headers);
        return error ? send(res, error === 'invalid_client' ? 401 : 400, { error, error_description: `refused by the test server (${error})` }) : issue(res);
      }
      return send(res, 400, { error: 'invalid_grant' });
    }
    if (path === MCP_PATH || opts.extraMcpPaths?.includes(path)) {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !live.has(token)) {
        const prm = path === MCP_PATH ? prmUrl() : `${origin}/.well-known/oauth-protected-resource${path}`;
        const rm = opts.resource ? `, resource_metadata="${prm}"` : '';
        res.writeHead(401, { 'www-authenticate': `Bearer error="invalid_token"${rm}`, 'content-type': 'text/plain' }).end('Unauthorized');
        return;
      }
      const text = req.method === 'POST' ? await readText(req) : '';
      // Every endpoint is the same MCP server; the router serves MCP_PATH only.
      const routed = path === MCP_PATH ? url : new URL(`${MCP_PATH}${url.search}`, origin);
      return router.handle(req, res, routed, text ? (JSON.parse(text) as unknown) : undefined);
    }
    send(res, 404, { error: 'not_found' });
  }

  const host = await listenLoopback((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: String(err) });
      else res.destroy();
    });
  });
  origin = `http://127.0.0.1:${host.port}`;
  return {
    origin,
    url: `${origin}${MCP_PATH}`,
    records,
    wellKnown,
    resources: () =>
      records
        .filter((r) => r.endpoint !== '/register')
        .map((r) => ({ at: r.endpoint === '/token' ? `/token ${r.params.grant_type}` : r.endpoint, resource: r.params.resource })),
    expireAll: () => live.clear(),
    close: async () => {
      await router.closeAll();
      await host.close();
    },
  };
}
