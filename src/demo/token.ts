/**
 * The token endpoint (OAuth 2.1 §3.2): authorization_code with PKCE, refresh_token with
 * rotation and replay detection, client_credentials, and the RFC 8628 device_code grant.
 * Answers per RFC 6749 §5.1 / §5.2 with Cache-Control: no-store.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientRecord } from './clients.js';
import { parseScope, servedResource, type DemoContext } from './context.js';
import { deviceCodeGrant, DEVICE_GRANT_TYPE } from './device.js';
import type { TokenResponse } from './grants.js';
import { HttpError, readForm, s256, safeEqual, sameResource, sendJson, sendOAuthError } from './http.js';
import type { DemoCounters } from './types.js';

/** RFC 7636 §4.1: code_verifier = 43*128unreserved. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** Tells clients when to retry while setDown(true). */
const RETRY_AFTER_SEC = 1;

const GRANT_COUNTER: Record<string, keyof DemoCounters['tokenRequests']> = {
  authorization_code: 'authorization_code',
  refresh_token: 'refresh_token',
  client_credentials: 'client_credentials',
  [DEVICE_GRANT_TYPE]: 'device_code',
};

/**
 * MCP 2025-11-25 "Resource Parameter Implementation" + RFC 8707 §2: a sent resource must be one
 * served here and, when the grant is already bound to one, that one.
 */
function checkResource(ctx: DemoContext, presented: string | undefined, opts: { required: boolean; boundTo?: string }): void {
  if (presented === undefined) {
    if (opts.required) throw new HttpError(400, 'invalid_target', `resource is required and must be ${opts.boundTo ?? ctx.mcpUrl}`);
    return;
  }
  const resource = servedResource(ctx, presented);
  if (!resource) throw new HttpError(400, 'invalid_target', `resource ${presented} is not served here (expected ${ctx.mcpUrl})`);
  if (opts.boundTo !== undefined && !sameResource(resource, opts.boundTo)) {
    throw new HttpError(400, 'invalid_target', `resource ${presented} differs from the one this grant is for (${opts.boundTo})`);
  }
}

function codeGrant(ctx: DemoContext, client: ClientRecord, form: Map<string, string>): TokenResponse {
  const code = form.get('code');
  const verifier = form.get('code_verifier');
  if (!code) throw new HttpError(400, 'invalid_request', 'code is missing');
  if (!verifier) throw new HttpError(400, 'invalid_request', 'code_verifier is missing (PKCE is required)');
  checkResource(ctx, form.get('resource'), { required: true });
  // Taking the code burns it, so a wrong verifier cannot be retried against the same code.
  const taken = ctx.grants.takeCode(code, client.client_id);
  if (taken.kind === 'invalid') throw new HttpError(400, 'invalid_grant', taken.reason);
  const rec = taken.code;
  checkResource(ctx, form.get('resource'), { required: true, boundTo: rec.resource });
  // RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) must equal the code_challenge.
  if (!CODE_VERIFIER.test(verifier) || !safeEqual(s256(verifier), rec.codeChallenge)) {
    throw new HttpError(400, 'invalid_grant', 'code_verifier does not match the code_challenge');
  }
  // OAuth 2.1 §4.1.3: redirect_uri must be identical to the one in the authorization request.
  const sent = form.get('redirect_uri');
  if ((rec.redirectUriSent && sent === undefined) || (sent !== undefined && sent !== rec.redirectUri)) {
    throw new HttpError(400, 'invalid_grant', 'redirect_uri does not match the authorization request');
  }
  return ctx.grants.issue({ familyId: rec.familyId, clientId: client.client_id, resource: rec.resource, scope: rec.scope }, true);
}

function refreshGrant(ctx: DemoContext, client: ClientRecord, form: Map<string, string>): TokenResponse {
  const token = form.get('refresh_token');
  if (!token) throw new HttpError(400, 'invalid_request', 'refresh_token is missing');
  checkResource(ctx, form.get('resource'), { required: false });
  const checked = ctx.grants.checkRefresh(token, client.client_id);
  if (checked.kind === 'invalid') throw new HttpError(400, 'invalid_grant', checked.reason);
  checkResource(ctx, form.get('resource'), { required: false, boundTo: checked.token.resource });
  // RFC 6749 §6: a refresh may narrow the scope, never widen it.
  const requested = parseScope(form.get('scope'));
  const extra = requested.filter((s) => !checked.token.scope.includes(s));
  if (extra.length) throw new HttpError(400, 'invalid_scope', `scope not granted originally: ${extra.join(' ')}`);
  return ctx.grants.redeemRefresh(token, checked.token, requested.length ? requested : checked.token.scope);
}

function clientCredentialsGrant(ctx: DemoContext, client: ClientRecord, form: Map<string, string>): TokenResponse {
  if (client.authMethods.includes('none')) {
    throw new HttpError(400, 'unauthorized_client', 'client_credentials needs a confidential client (one with a secret or registered keys)');
  }
  const presented = form.get('resource');
  checkResource(ctx, presented, { required: false });
  const resource = presented === undefined ? ctx.mcpUrl : servedResource(ctx, presented)!;
  const requested = parseScope(form.get('scope'));
  const unknown = requested.filter((s) => !ctx.grantableScopes.includes(s));
  if (unknown.length) throw new HttpError(400, 'invalid_scope', `unknown scope: ${unknown.join(' ')}`);
  const scope = requested.length ? requested : [...ctx.scopesSupported];
  return ctx.grants.issue({ familyId: ctx.grants.newFamilyId(), clientId: client.client_id, resource, scope }, false);
}

export async function handleToken(ctx: DemoContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (ctx.down) {
    sendOAuthError(res, 503, 'temporarily_unavailable', 'the authorization server is down (demo setDown)', { 'Retry-After': String(RETRY_AFTER_SEC) });
    return;
  }
  let clientId: string | undefined;
  let grantType: string | undefined;
  try {
    const form = await readForm(req);
    grantType = form.get('grant_type');
    const counter = grantType === undefined ? undefined : GRANT_COUNTER[grantType];
    if (counter) ctx.counters.tokenRequests[counter]++;
    // RFC 7523 §3: an assertion's aud names this server: its issuer, or this endpoint's URL.
    const audiences = [ctx.issuer, `${ctx.issuer}${new URL(req.url ?? '/', ctx.issuer).pathname}`];
    const client = await ctx.clients.authenticate(req.headers.authorization, form, { audiences });
    clientId = client.client_id;
    let out: TokenResponse;
    if (grantType === 'authorization_code') out = codeGrant(ctx, client, form);
    else if (grantType === 'refresh_token') out = refreshGrant(ctx, client, form);
    else if (grantType === 'client_credentials') out = clientCredentialsGrant(ctx, client, form);
    else if (grantType === DEVICE_GRANT_TYPE && ctx.deviceAuthorization) out = deviceCodeGrant(ctx, client, form);
    else throw new HttpError(400, 'unsupported_grant_type', `grant_type ${JSON.stringify(grantType ?? null)} is not supported`);
    ctx.log.info({ client_id: clientId, grant_type: grantType, scope: out.scope }, 'demo AS: tokens issued');
    sendJson(res, 200, out);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    if (err.error === 'invalid_grant') ctx.counters.invalidGrant++;
    const level = err.error === 'authorization_pending' ? 'debug' : 'info';
    ctx.log[level]({ client_id: clientId, grant_type: grantType, error: err.error, reason: err.description }, 'demo AS: token request refused');
    sendOAuthError(res, err.status, err.error, err.description, err.headers);
  }
}
