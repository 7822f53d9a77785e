/**
 * The authorization endpoint (OAuth 2.1 §4.1.1) with its consent page: GET validates the
 * request and shows the page (or approves at once with autoApprove); POST carries the user's
 * decision back.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { redirectUriAllowed, type ClientRecord } from './clients.js';
import { parseScope, servedResource, type DemoContext } from './context.js';
import { HttpError, isLoopbackHttpUrl, paramsToMap, randomToken, readForm, redirect, sendHtml } from './http.js';
import { consentPage, messagePage } from './pages.js';

/** How long a consent page stays usable. */
const CONSENT_TTL_MS = 10 * 60_000;
/** RFC 7636 §4.2: an S256 challenge is 32 bytes base64url-encoded without padding. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
export const AUTHORIZE_PATH = '/authorize';

interface AuthorizationRequest {
  client: ClientRecord;
  redirectUri: string;
  redirectUriSent: boolean;
  state: string | undefined;
  codeChallenge: string;
  resource: string;
  scope: string[];
  expiresAt: number;
}

export interface AuthorizeHandlers {
  get(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  post(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function createAuthorizeHandlers(ctx: DemoContext): AuthorizeHandlers {
  const pending = new Map<string, AuthorizationRequest>();

  /** Errors that must not be redirected: the redirect URI is not (yet) trusted (OAuth 2.1 §4.1.2.1). */
  const errorPage = (res: ServerResponse, description: string): void => {
    ctx.log.info({ reason: description }, 'demo AS: authorization request refused');
    sendHtml(res, 400, messagePage('Authorization failed', description));
  };

  /** Answer on the client's redirect URI; RFC 9207: always with iss. */
  const answer = (res: ServerResponse, redirectUri: string, params: Record<string, string | undefined>): void => {
    const target = new URL(redirectUri);
    for (const [k, v] of Object.entries({ ...params, iss: ctx.issuer })) if (v !== undefined) target.searchParams.set(k, v);
    redirect(res, target.href);
  };

  const approve = (res: ServerResponse, request: AuthorizationRequest): void => {
    const code = ctx.grants.issueCode({
      clientId: request.client.client_id,
      redirectUri: request.redirectUri,
      redirectUriSent: request.redirectUriSent,
      codeChallenge: request.codeChallenge,
      resource: request.resource,
      scope: request.scope,
    });
    ctx.counters.codesIssued++;
    ctx.log.info({ client_id: request.client.client_id, scope: request.scope.join(' ') }, 'demo AS: authorization code issued');
    answer(res, request.redirectUri, { code, state: request.state });
  };

  async function get(_req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    ctx.counters.authorizeRequests++;
    let params: Map<string, string>;
    try {
      params = paramsToMap(url.searchParams);
    } catch (err) {
      return errorPage(res, err instanceof HttpError ? err.description : 'malformed request');
    }
    const clientId = params.get('client_id');
    if (!clientId) return errorPage(res, 'client_id is missing.');
    let client: ClientRecord | undefined;
    try {
      client = await ctx.clients.find(clientId);
    } catch (err) {
      return errorPage(res, err instanceof HttpError ? err.description : 'client lookup failed');
    }
    if (!client) return errorPage(res, `Unknown client_id ${clientId}.`);

    const sentRedirect = params.get('redirect_uri');
    let redirectUri: string;
    if (sentRedirect !== undefined) {
      if (!redirectUriAllowed(client, sentRedirect)) return errorPage(res, `redirect_uri ${sentRedirect} is not registered for this client.`);
      redirectUri = sentRedirect;
    } else if (client.redirect_uris?.length === 1) {
      // OAuth 2.1 §4.1.1: redirect_uri is optional when exactly one is registered.
      redirectUri = client.redirect_uris[0]!;
    } else {
      return errorPage(res, 'redirect_uri is required.');
    }

    const state = params.get('state');
    const fail = (error: string, description: string): void => {
      ctx.log.info({ client_id: clientId, error, reason: description }, 'demo AS: authorization request refused');
      answer(res, redirectUri, { error, error_description: description, state });
    };
    if (params.get('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be "code"');
    // OAuth 2.1 §4.1.1 / MCP 2025-11-25 "Authorization Code Protection": PKCE is required, and only S256.
    const challenge = params.get('code_challenge');
    if (!challenge) return fail('invalid_request', 'code_challenge is required (PKCE)');
    if (params.get('code_challenge_method') !== 'S256') {
      return fail('invalid_request', 'code_challenge_method must be S256 (plain is not supported)');
    }
    if (!S256_CHALLENGE.test(challenge)) return fail('invalid_request', 'code_challenge must be 43 base64url characters');
    // MCP 2025-11-25 "Resource Parameter Implementation": resource MUST be sent; RFC 8707 §2 invalid_target.
    const presented = params.get('resource');
    if (!presented) return fail('invalid_target', `resource is required and must be ${ctx.mcpUrl}`);
    const resource = servedResource(ctx, presented);
    if (!resource) return fail('invalid_target', `resource ${presented} is not served here (expected ${ctx.mcpUrl})`);
    const requested = parseScope(params.get('scope'));
    const unknown = requested.filter((s) => !ctx.grantableScopes.includes(s));
    if (unknown.length) return fail('invalid_scope', `unknown scope: ${unknown.join(' ')}`);

    const request: AuthorizationRequest = {
      client,
      redirectUri,
      redirectUriSent: sentRedirect !== undefined,
      state,
      codeChallenge: challenge,
      resource,
      scope: requested.length ? requested : [...ctx.scopesSupported],
      expiresAt: ctx.now() + CONSENT_TTL_MS,
    };
    if (ctx.autoApprove) return approve(res, request);
    const requestId = randomToken();
    pending.set(requestId, request);
    const target = new URL(redirectUri);
    sendHtml(
      res,
      200,
      consentPage({
        action: AUTHORIZE_PATH,
        requestId,
        clientId: client.client_id,
        clientName: client.client_name,
        redirectHost: target.host,
        loopbackRedirect: isLoopbackHttpUrl(target),
        resource: request.resource,
        scopes: request.scope,
      }),
    );
  }

  async function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let form: Map<string, string>;
    try {
      form = await readForm(req);
    } catch (err) {
      return errorPage(res, err instanceof HttpError ? err.description : 'malformed form');
    }
    const id = form.get('request_id') ?? '';
    const request = pending.get(id);
    // The request id is single-use and unguessable, which also makes the form unforgeable (CSRF).
    pending.delete(id);
    if (!request || request.expiresAt <= ctx.now()) {
      return errorPage(res, 'This authorization request is unknown, already answered or expired. Start the login again.');
    }
    if (form.get('decision') === 'approve') return approve(res, request);
    ctx.log.info({ client_id: request.client.client_id }, 'demo AS: user denied the authorization request');
    answer(res, request.redirectUri, { error: 'access_denied', error_description: 'the user denied the request', state: request.state });
  }

  return { get, post };
}
