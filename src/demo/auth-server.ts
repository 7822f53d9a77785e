/**
 * The demo authorization server's routes: RFC 8414 / OpenID discovery, RFC 9728 protected
 * resource metadata, RFC 7591 registration, the authorization, token and RFC 7009 revocation
 * endpoints, and the RFC 8628 device endpoints.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AUTH_METHODS } from './clients.js';
import { MCP_PATH, type DemoContext } from './context.js';
import { AUTHORIZE_PATH, createAuthorizeHandlers } from './authorize.js';
import { DEVICE_GRANT_TYPE, DEVICE_PATH, DEVICE_VERIFY_PATH, handleDeviceAuthorization, handleDeviceVerifyPage, handleDeviceVerifySubmit } from './device.js';
import { HttpError, MAX_FORM_BYTES, readForm, readJson, sendJson, sendOAuthError } from './http.js';
import { handleToken } from './token.js';

export const TOKEN_PATH = '/token';
export const REGISTER_PATH = '/register';
export const REVOKE_PATH = '/revoke';
export const JWKS_PATH = '/jwks';

/** RFC 8414 §2 metadata (with OpenID Provider fields when served as openid-configuration); overrides last. */
export function authorizationServerMetadata(ctx: DemoContext, openid = false): Record<string, unknown> {
  const grantTypes = ['authorization_code', 'refresh_token', 'client_credentials', ...(ctx.deviceAuthorization ? [DEVICE_GRANT_TYPE] : [])];
  return {
    issuer: ctx.issuer,
    authorization_endpoint: `${ctx.issuer}${AUTHORIZE_PATH}`,
    token_endpoint: `${ctx.issuer}${TOKEN_PATH}`,
    ...(ctx.registrationEnabled ? { registration_endpoint: `${ctx.issuer}${REGISTER_PATH}` } : {}),
    revocation_endpoint: `${ctx.issuer}${REVOKE_PATH}`,
    ...(ctx.deviceAuthorization ? { device_authorization_endpoint: `${ctx.issuer}${DEVICE_PATH}` } : {}),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: grantTypes,
    // MCP 2025-11-25 "Authorization Code Protection": clients refuse to proceed without this field.
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
    scopes_supported: ctx.grantableScopes,
    // RFC 9207: authorization responses carry iss.
    authorization_response_iss_parameter_supported: true,
    ...(ctx.cimdEnabled ? { client_id_metadata_document_supported: true } : {}),
    // OpenID Discovery requires these; this server never issues ID tokens (the key set is empty).
    ...(openid ? { jwks_uri: `${ctx.issuer}${JWKS_PATH}`, subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] } : {}),
    ...ctx.metadataOverrides,
  };
}

/** RFC 9728 §2 metadata of the MCP endpoint; overrides last. */
export function protectedResourceMetadata(ctx: DemoContext): Record<string, unknown> {
  return {
    resource: ctx.mcpUrl,
    authorization_servers: [ctx.issuer],
    scopes_supported: ctx.scopesSupported,
    bearer_methods_supported: ['header'],
    resource_name: 'mcp-relay demo server',
    ...ctx.resourceMetadataOverrides,
  };
}

async function handleRegister(ctx: DemoContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const out = ctx.clients.register(await readJson(req, MAX_FORM_BYTES));
    ctx.counters.registrations++;
    sendJson(res, 201, out);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    // RFC 7591 §3.2.2: invalid_redirect_uri / invalid_client_metadata with 400.
    sendOAuthError(res, err.status, err.error === 'invalid_request' ? 'invalid_client_metadata' : err.error, err.description);
  }
}

/** RFC 7009 §2: 200 whether or not the token was known. */
async function handleRevoke(ctx: DemoContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const form = await readForm(req);
    const client = await ctx.clients.authenticate(req.headers.authorization, form);
    const token = form.get('token');
    if (!token) throw new HttpError(400, 'invalid_request', 'token is missing');
    const revoked = ctx.grants.revokeToken(token, client.client_id);
    ctx.counters.revocations++;
    ctx.log.info({ client_id: client.client_id, revoked }, 'demo AS: revocation request');
    res.writeHead(200, { 'Cache-Control': 'no-store', 'Content-Length': 0 });
    res.end();
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    sendOAuthError(res, err.status, err.error, err.description, err.headers);
  }
}

type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/**
 * The authorization server and metadata routes, keyed "METHOD path". The MCP endpoint itself
 * is routed by the caller.
 */
export function createAuthServerRoutes(ctx: DemoContext): Map<string, Route> {
  const authorize = createAuthorizeHandlers(ctx);
  const json =
    (body: () => unknown): Route =>
    (_req, res) =>
      sendJson(res, 200, body());
  const routes = new Map<string, Route>([
    // RFC 9728 §3.1: path-aware location first, root location for clients that only try that.
    [`GET /.well-known/oauth-protected-resource${MCP_PATH}`, json(() => protectedResourceMetadata(ctx))],
    ['GET /.well-known/oauth-protected-resource', json(() => protectedResourceMetadata(ctx))],
    ['GET /.well-known/oauth-authorization-server', json(() => authorizationServerMetadata(ctx))],
    ['GET /.well-known/openid-configuration', json(() => authorizationServerMetadata(ctx, true))],
    [`GET ${JWKS_PATH}`, json(() => ({ keys: [] }))],
    [`GET ${AUTHORIZE_PATH}`, (req, res, url) => authorize.get(req, res, url)],
    [`POST ${AUTHORIZE_PATH}`, (req, res) => authorize.post(req, res)],
    [`POST ${TOKEN_PATH}`, (req, res) => handleToken(ctx, req, res)],
    [`POST ${REVOKE_PATH}`, (req, res) => handleRevoke(ctx, req, res)],
  ]);
  if (ctx.registrationEnabled) routes.set(`POST ${REGISTER_PATH}`, (req, res) => handleRegister(ctx, req, res));
  if (ctx.deviceAuthorization) {
    routes.set(`POST ${DEVICE_PATH}`, (req, res) => handleDeviceAuthorization(ctx, req, res));
    routes.set(`GET ${DEVICE_VERIFY_PATH}`, (_req, res, url) => handleDeviceVerifyPage(ctx, res, url));
    routes.set(`POST ${DEVICE_VERIFY_PATH}`, (req, res) => handleDeviceVerifySubmit(ctx, req, res));
  }
  return routes;
}
