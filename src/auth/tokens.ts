/**
 * Token endpoint calls through the SDK (exchangeAuthorization / refreshAuthorization), with the
 * two things the SDK leaves to us: an absolute expiry for storage, and a classification of
 * failures by error code so a dead refresh token (log in again) is never confused with an
 * authorization server that is merely down (keep the tokens, retry later).
 */
import { exchangeAuthorization, refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { describeError, RelayError } from '../errors.js';
import type { FetchFn } from '../http/fetch.js';
import type { StoredClient, StoredTokens } from '../store/store.js';
import type { Discovered } from './discovery.js';

export { expiresSoon, isExpired, REFRESH_MARGIN_MS } from './expiry.js';

/** OAuth error codes meaning the grant itself is dead: log in again (RFC 6749 §5.2). */
const DEAD_GRANT_CODES = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client']);

/** Token response (relative `expires_in`) → stored tokens (absolute `expires_at`). */
export function toStored(
  t: OAuthTokens,
  now: number,
  extra: { issuer?: string; resource?: string; previousRefreshToken?: string; previousScope?: string; grant?: StoredTokens['grant'] },
): StoredTokens {
  const out: StoredTokens = { access_token: t.access_token, token_type: t.token_type ?? 'Bearer', obtained_at: now };
  if (extra.grant) out.grant = extra.grant;
  const refresh = t.refresh_token ?? extra.previousRefreshToken;
  if (refresh) out.refresh_token = refresh;
  // RFC 6749 §5.1: a response omits scope when it is unchanged.
  const scope = t.scope ?? extra.previousScope;
  if (scope) out.scope = scope;
  if (typeof t.expires_in === 'number' && Number.isFinite(t.expires_in)) out.expires_at = now + t.expires_in * 1000;
  if (extra.issuer) out.issuer = extra.issuer;
  if (extra.resource) out.resource = extra.resource;
  return out;
}

export function clientInformation(c: StoredClient): OAuthClientInformationMixed {
  const info: Record<string, unknown> = { client_id: c.client_id };
  if (c.client_secret) info.client_secret = c.client_secret;
  if (c.client_secret_expires_at !== undefined) info.client_secret_expires_at = c.client_secret_expires_at;
  if (c.token_endpoint_auth_method) info.token_endpoint_auth_method = c.token_endpoint_auth_method;
  info.redirect_uris = c.redirect_uris;
  return info as OAuthClientInformationMixed;
}

/** The grant is dead (invalid_grant & co): drop the tokens and log in again. */
export function isDeadGrant(err: unknown): boolean {
  return isRelayError(err) && err.code === 'AUTH_REQUIRED';
}

function isRelayError(err: unknown): err is RelayError {
  return err instanceof RelayError;
}

/** The SDK appends the token endpoint's raw body to some errors; it can echo our request (secrets). */
function withoutRawBody(text: string): string {
  const i = text.indexOf('Raw body:');
  return (i >= 0 ? text.slice(0, i) : text).trim().replace(/[.\s]+$/, '');
}

function classify(err: unknown, what: string): RelayError {
  if (err instanceof OAuthError && DEAD_GRANT_CODES.has(err.errorCode)) {
    return new RelayError('AUTH_REQUIRED', `${what}: the authorization server answered "${err.errorCode}"; a new login is needed`, { cause: err });
  }
  const code = err instanceof OAuthError ? ` ("${err.errorCode}")` : '';
  return new RelayError('AUTH_FAILED', `${what} failed${code}: ${withoutRawBody(describeError(err))}. The stored login is kept; the relay retries on the next request`, { cause: err });
}

export interface TokenCallBase {
  discovered: Discovered;
  client: StoredClient;
  /**
   * The RFC 8707 resource exactly as selected (RFC 9728 §3.3: as published). Passed to the SDK as
   * a string, which it copies verbatim; a URL object would be re-serialised ("http://h:1" → "http://h:1/").
   */
  resource: string | undefined;
  fetch: FetchFn;
  now: () => number;
}

export async function refreshTokens(base: TokenCallBase, current: StoredTokens): Promise<StoredTokens> {
  try {
    const t = await refreshAuthorization(base.discovered.authorizationServerUrl, {
      metadata: base.discovered.metadata,
      clientInformation: clientInformation(base.client),
      refreshToken: current.refresh_token!,
      // RFC 8707 §2 and MCP 2025-11-25 authorization: resource MUST be sent on token requests.
      resource: base.resource,
      fetchFn: base.fetch,
    });
    return toStored(t, base.now(), { issuer: base.discovered.metadata.issuer, resource: base.resource, previousRefreshToken: current.refresh_token, previousScope: current.scope, grant: current.grant });
  } catch (err) {
    throw classify(err, 'refreshing the access token');
  }
}

export async function exchangeCode(base: TokenCallBase, code: string, codeVerifier: string, redirectUri: string): Promise<StoredTokens> {
  try {
    const t = await exchangeAuthorization(base.discovered.authorizationServerUrl, {
      metadata: base.discovered.metadata,
      clientInformation: clientInformation(base.client),
      authorizationCode: code,
      codeVerifier,
      redirectUri,
      resource: base.resource,
      fetchFn: base.fetch,
    });
    return toStored(t, base.now(), { issuer: base.discovered.metadata.issuer, resource: base.resource, grant: 'authorization_code' });
  } catch (err) {
    const e = classify(err, 'exchanging the authorization code');
    throw new RelayError('AUTH_FAILED', e.message, { cause: err });
  }
}
