/**
 * The grants the relay runs at the token endpoint for a person's login: the authorization code
 * exchange (RFC 6749 §4.1.3 with PKCE, RFC 7636 §4.5) and the refresh (RFC 6749 §6), each one
 * tokenRequest + processTokenResponse (token-endpoint.ts) with the client authenticated by
 * client-auth.ts; plus what storage needs: an absolute expiry, and a classification of failures
 * by OAuth error code so a dead refresh token (AUTH_GRANT_DEAD: log in again) is never confused
 * with an authorization server that is merely down (keep the tokens, retry later).
 */
import type { OAuthClientInformationMixed } from '@modelcontextprotocol/sdk/shared/auth.js';
import { RelayError } from '../errors.js';
import type { FetchFn } from '../http/fetch.js';
import type { StoredClient, StoredTokens } from '../store/store.js';
import { clientAuthentication } from './client-auth.js';
import type { Discovered } from './discovery.js';
import type { TokenDpop } from './dpop.js';
import { processTokenResponse, redact, tokenProblem, tokenRequest, type TokenEndpointResponse } from './token-endpoint.js';

export { expiresSoon, isExpired, REFRESH_MARGIN_MS } from './expiry.js';

/**
 * OAuth error codes (RFC 6749 §5.2) that mean the refresh cannot succeed with what is stored:
 * the refresh token is invalid, expired or revoked (invalid_grant), or the client is no longer
 * accepted for it (invalid_client, unauthorized_client). Log in again.
 */
const DEAD_GRANT_CODES = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client']);

/** Token response (relative `expires_in`) → stored tokens (absolute `expires_at`). */
export function toStored(
  t: Pick<TokenEndpointResponse, 'access_token' | 'expires_in' | 'refresh_token' | 'scope' | 'id_token'> & { token_type?: string | undefined },
  now: number,
  extra: {
    issuer?: string | undefined;
    resource?: string | undefined;
    previousRefreshToken?: string;
    previousScope?: string;
    grant?: StoredTokens['grant'];
    /** The DPoP key the request proved possession of (RFC 9449 §5): stored with the tokens it binds. */
    dpop?: TokenDpop | undefined;
  },
): StoredTokens {
  const out: StoredTokens = { access_token: t.access_token, token_type: t.token_type ?? 'Bearer', obtained_at: now };
  if (extra.grant) out.grant = extra.grant;
  if (extra.dpop) out.dpop_key = extra.dpop.key;
  const refresh = t.refresh_token ?? extra.previousRefreshToken;
  if (refresh) out.refresh_token = refresh;
  // RFC 6749 §5.1: a response omits scope when it is unchanged.
  const scope = t.scope ?? extra.previousScope;
  if (scope) out.scope = scope;
  if (typeof t.expires_in === 'number' && Number.isFinite(t.expires_in)) out.expires_at = now + t.expires_in * 1000;
  if (extra.issuer) out.issuer = extra.issuer;
  if (t.id_token) out.id_token = t.id_token;
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
  return err instanceof RelayError && err.code === 'AUTH_GRANT_DEAD';
}

/**
 * A token endpoint failure → a RelayError for `what`, keeping `status` and `cause` (the
 * TokenEndpointProblem, or the network error) so retries decide on them. The server's words are
 * quoted without the request's own `secrets` (a server may echo them in error_description).
 */
function classify(err: unknown, what: string, secrets: ReadonlyArray<string | undefined>): RelayError {
  const problem = tokenProblem(err);
  const status = err instanceof RelayError ? err.status : undefined;
  const cause = err instanceof RelayError ? err.cause : err;
  const opts = { cause, ...(status !== undefined ? { status } : {}) };
  if (problem?.error !== undefined && DEAD_GRANT_CODES.has(problem.error)) {
    return new RelayError('AUTH_GRANT_DEAD', `${what}: the authorization server answered "${problem.error}"; a new login is needed`, opts);
  }
  const code = problem?.error !== undefined ? ` ("${problem.error}")` : '';
  const detail = redact(err instanceof Error ? err.message : String(err), secrets);
  return new RelayError('AUTH_FAILED', `${what} failed${code}: ${detail}. The stored login is kept; the relay retries on the next request`, opts);
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
  signal?: AbortSignal | undefined;
  /** RFC 9449: prove possession of this key (a new one at a login, the stored one at a refresh). */
  dpop?: TokenDpop | undefined;
}

/** The token endpoint URL: from the metadata, else `/token` at the authorization server (as the SDK does). */
export function tokenEndpoint(d: Discovered): string {
  return d.metadata.token_endpoint ?? new URL('/token', d.authorizationServerUrl).href;
}

/** One token request for `params` as this client, validated. */
async function grant(base: TokenCallBase, params: URLSearchParams): Promise<TokenEndpointResponse> {
  const meta = base.discovered.metadata;
  const { apply } = clientAuthentication(base.client, { supported: meta.token_endpoint_auth_methods_supported, now: base.now });
  // RFC 8707 §2 and MCP 2025-11-25 authorization: resource MUST be sent on token requests.
  const res = await tokenRequest({
    endpoint: tokenEndpoint(base.discovered),
    params,
    resource: base.resource,
    auth: apply,
    issuer: meta.issuer,
    fetch: base.fetch,
    signal: base.signal,
    dpop: base.dpop,
  });
  return processTokenResponse(res, { dpop: base.dpop !== undefined });
}

/**
 * RFC 6749 §6 refresh. A response without refresh_token keeps the old one, without scope keeps
 * the old scope (§5.1: omitted when unchanged).
 *
 * @throws RelayError `AUTH_GRANT_DEAD` (log in again) or `AUTH_FAILED` with the problem as cause.
 */
export async function refreshTokens(base: TokenCallBase, current: StoredTokens): Promise<StoredTokens> {
  try {
    const t = await grant(base, new URLSearchParams({ grant_type: 'refresh_token', refresh_token: current.refresh_token! }));
    return toStored(t, base.now(), {
      issuer: base.discovered.metadata.issuer,
      resource: base.resource,
      previousRefreshToken: current.refresh_token,
      previousScope: current.scope,
      grant: current.grant,
      dpop: base.dpop,
    });
  } catch (err) {
    throw classify(err, 'refreshing the access token', [current.refresh_token, current.access_token, base.client.client_secret]);
  }
}

/**
 * RFC 6749 §4.1.3 code exchange with the PKCE verifier (RFC 7636 §4.5). Any failure is
 * AUTH_FAILED, invalid_grant included: a code is single-use, so the login itself failed. Not
 * retried for the same reason (RFC 6749 §4.1.2: a code used twice MUST be refused).
 */
export async function exchangeCode(base: TokenCallBase, code: string, codeVerifier: string, redirectUri: string): Promise<StoredTokens> {
  try {
    const t = await grant(base, new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: codeVerifier, redirect_uri: redirectUri }));
    return toStored(t, base.now(), { issuer: base.discovered.metadata.issuer, resource: base.resource, grant: 'authorization_code', dpop: base.dpop });
  } catch (err) {
    const problem = tokenProblem(err);
    const said = problem?.error !== undefined ? ` ("${problem.error}")` : '';
    const detail = redact(err instanceof Error ? err.message : String(err), [code, codeVerifier, base.client.client_secret]);
    throw new RelayError('AUTH_FAILED', `exchanging the authorization code failed${said}: ${detail}`, { cause: err });
  }
}
