/**
 * Machine-to-machine login: the OAuth client credentials grant (RFC 6749 §4.4, OAuth 2.1 §4.2)
 * as the MCP extension io.modelcontextprotocol/oauth-client-credentials profiles it, for relays
 * with no person behind them (CI jobs, scheduled agents, headless servers). A pre-registered
 * client authenticates with its secret (client_secret_basic / client_secret_post) or with a
 * signed JWT assertion (RFC 7523 private_key_jwt); there is no browser, no redirect, no
 * pending.json and no refresh token: a new access token is simply requested again.
 *
 * The token request goes through the SDK's `fetchToken` (same request building, error parsing
 * and origin-bound fetch as the other grants); the assertion is signed with `jose`.
 */
import { randomUUID } from 'node:crypto';
import { fetchToken, type AddClientAuthentication, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthClientInformationMixed } from '@modelcontextprotocol/sdk/shared/auth.js';
import { SignJWT } from 'jose';
import type { AuthOptions, ClientKey } from '../config/config.js';
import { describeError, RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FetchFn } from '../http/fetch.js';
import type { ServerStore, StoredTokens } from '../store/store.js';
import type { Discovered } from './discovery.js';
import { staticClient } from './registration.js';
export { CLIENT_KEY_ALGS, parseClientKey } from './client-key.js';
import { expiresSoon, toStored } from './tokens.js';

/** RFC 7523 §2.2: the client_assertion_type of a JWT client assertion. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/**
 * Lifetime of one client assertion. It is used at once; the margin absorbs clock skew between
 * this machine and the authorization server, and the unique `jti` stops a replay meanwhile.
 */
const ASSERTION_LIFETIME_S = 300;
/**
 * `private_key_jwt` client authentication (RFC 7523 §2.2) for the SDK's token requests. We sign
 * ourselves rather than use the SDK's createPrivateKeyJwtAuth because that sets no `kid` header,
 * reads PKCS#8 only and makes its `jti` from Math.random.
 */
export function privateKeyJwtAuth(clientId: string, key: ClientKey, now: () => number = Date.now): AddClientAuthentication {
  return async (_headers, params, tokenUrl, metadata) => {
    const iat = Math.floor(now() / 1000);
    // RFC 7523 §3: iss and sub are the client_id; aud identifies the authorization server, here
    // by its issuer identifier (one value, as draft-ietf-oauth-rfc7523bis requires and the SDK
    // does), else the token endpoint URL, which §3 also allows; exp bounds the assertion; jti
    // makes it single-use.
    const audience = metadata?.issuer ?? String(tokenUrl);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(key.keyId !== undefined ? { kid: key.keyId } : {}) })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_LIFETIME_S)
      .setJti(randomUUID())
      .sign(key.key);
    params.set('client_id', clientId);
    params.set('client_assertion_type', JWT_BEARER_ASSERTION_TYPE);
    params.set('client_assertion', assertion);
  };
}

export interface ClientCredentialsRequest {
  auth: AuthOptions;
  discovered: Discovered;
  scope: string | undefined;
  resource: string | undefined;
  fetch: FetchFn;
  now: () => number;
}

/** How the client authenticates, for messages. */
function credentialFlags(auth: AuthOptions): string {
  return auth.clientKey ? `--client-key-file (and that its public key${auth.clientKey.keyId ? ` with kid ${auth.clientKey.keyId}` : ''} is registered for the client)` : '--client-secret (or client_secret in --client-info)';
}

/** Refuse before sending anything when the metadata says the server cannot take this client. */
function checkServerSupport(r: ClientCredentialsRequest, clientId: string): void {
  const meta = r.discovered.metadata;
  const issuer = meta.issuer;
  if (meta.grant_types_supported && !meta.grant_types_supported.includes('client_credentials')) {
    throw new RelayError('AUTH_FAILED', `the authorization server ${issuer} does not offer the client credentials grant ("grant_types_supported" lacks client_credentials); drop --client-credentials to log in interactively`);
  }
  const methods = meta.token_endpoint_auth_methods_supported;
  if (r.auth.clientKey) {
    if (methods && !methods.includes('private_key_jwt')) {
      throw new RelayError('AUTH_FAILED', `the authorization server ${issuer} does not accept private_key_jwt client authentication ("token_endpoint_auth_methods_supported": ${methods.join(', ')}); use --client-secret instead of --client-key-file`);
    }
    const algs = meta.token_endpoint_auth_signing_alg_values_supported;
    if (algs && !algs.includes(r.auth.clientKey.alg)) {
      throw new RelayError('AUTH_FAILED', `the authorization server ${issuer} does not accept ${r.auth.clientKey.alg} client assertions ("token_endpoint_auth_signing_alg_values_supported": ${algs.join(', ')}); pass --client-key-alg with one of them and a matching key`);
    }
  } else if (methods && !methods.includes('client_secret_basic') && !methods.includes('client_secret_post')) {
    throw new RelayError('AUTH_FAILED', `the authorization server ${issuer} accepts no client secret for client ${clientId} ("token_endpoint_auth_methods_supported": ${methods.join(', ')})${methods.includes('private_key_jwt') ? '; use --client-key-file' : ''}`);
  }
}

/** An error from the token endpoint → what to check, by OAuth error code (RFC 6749 §5.2). */
function explain(err: unknown, r: ClientCredentialsRequest, clientId: string, secret: string | undefined): RelayError {
  const at = `the token endpoint of ${r.discovered.metadata.issuer}`;
  // An authorization server's free text is quoted, but never with our own secret in it.
  const said = (secret ? describeError(err).split(secret).join('[redacted]') : describeError(err)) || 'no description';
  if (err instanceof OAuthError) {
    const hint: Record<string, string> = {
      invalid_client: `it does not accept client ${clientId} with these credentials: check --client-id and ${credentialFlags(r.auth)}`,
      unauthorized_client: `client ${clientId} may not use the client credentials grant there: allow it for the client at the authorization server`,
      invalid_scope: `it refused the scope ${JSON.stringify(r.scope ?? '')}: check --scope`,
      invalid_target: `it refused the resource ${r.resource ?? '(none)'}: check --resource (or --omit-resource)`,
      unsupported_grant_type: 'it does not support the client credentials grant: drop --client-credentials to log in interactively',
    };
    const next = hint[err.errorCode] ?? 'the relay asks again on the next request';
    return new RelayError('AUTH_FAILED', `client credentials login failed: ${at} answered "${err.errorCode}" (${said}); ${next}`, { cause: err });
  }
  return new RelayError('AUTH_FAILED', `client credentials login failed: ${at} could not be used (${said}); the relay asks again on the next request`, { cause: err });
}

/**
 * One client credentials token request (no store, no lock). The client authenticates per the
 * server's token_endpoint_auth_methods_supported (the SDK picks client_secret_basic or _post)
 * or with a private_key_jwt assertion. Throws AUTH_FAILED saying what to check.
 */
export async function requestClientCredentialsToken(r: ClientCredentialsRequest): Promise<StoredTokens> {
  const client = staticClient(r.auth, '', r.now());
  if (!client) throw new RelayError('BAD_CONFIG', '--client-credentials needs a pre-registered client: --client-id or --client-info');
  checkServerSupport(r, client.client_id);
  const info: Record<string, unknown> = { client_id: client.client_id };
  if (!r.auth.clientKey) {
    if (client.client_secret) info.client_secret = client.client_secret;
    if (client.token_endpoint_auth_method) info.token_endpoint_auth_method = client.token_endpoint_auth_method;
  }
  const scope = r.scope;
  const provider: OAuthClientProvider = {
    redirectUrl: undefined,
    clientMetadata: { redirect_uris: [], grant_types: ['client_credentials'], ...(scope ? { scope } : {}) },
    clientInformation: () => info as OAuthClientInformationMixed,
    tokens: () => undefined,
    saveTokens: () => {},
    redirectToAuthorization: () => {
      throw new RelayError('AUTH_FAILED', 'the client credentials grant never opens a browser');
    },
    saveCodeVerifier: () => {},
    codeVerifier: () => {
      throw new RelayError('AUTH_FAILED', 'the client credentials grant uses no PKCE verifier');
    },
    prepareTokenRequest: () => new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }),
    ...(r.auth.clientKey ? { addClientAuthentication: privateKeyJwtAuth(client.client_id, r.auth.clientKey, r.now) } : {}),
  };
  try {
    // RFC 8707 §2 and MCP 2025-11-25 authorization: resource MUST be sent on token requests.
    const t = await fetchToken(provider, r.discovered.authorizationServerUrl, { metadata: r.discovered.metadata, resource: r.resource, fetchFn: r.fetch });
    // RFC 6749 §4.4.3: no refresh token is expected; one sent anyway is not kept (we ask again).
    // RFC 6749 §5.1: a response without scope granted the scope requested; it is recorded so
    // that a renewal asks for the same.
    const { refresh_token: _unused, ...access } = t;
    const granted = { ...access, scope: t.scope ?? scope };
    return { ...toStored(granted, r.now(), { issuer: r.discovered.metadata.issuer, resource: r.resource }), grant: 'client_credentials' };
  } catch (err) {
    throw explain(err, r, client.client_id, client.client_secret);
  }
}

/** Tokens this relay may use in client credentials mode: its own grant, never a person's login. */
export function isClientCredentialsTokens(t: StoredTokens | undefined): t is StoredTokens {
  return t?.grant === 'client_credentials';
}

export interface ClientCredentialsLogin extends ClientCredentialsRequest {
  store: ServerStore;
  log: Logger;
  /** The access token that was rejected or is expiring, so a replacement from another relay is recognised. */
  staleAccessToken: string | undefined;
}

/**
 * Get a client credentials token under the store lock, shared by every relay of this server:
 * after taking the lock the store is read again, and a token another relay fetched meanwhile is
 * used instead of asking for one more (so N relays started at once make one token request).
 */
export async function clientCredentialsLogin(c: ClientCredentialsLogin): Promise<StoredTokens> {
  return c.store.withLock(async () => {
    const cur = await c.store.readTokens();
    if (isClientCredentialsTokens(cur) && cur.access_token !== c.staleAccessToken && !expiresSoon(cur, c.now())) {
      c.log.debug('another relay already fetched a client credentials token; using it');
      return cur;
    }
    const fresh = await requestClientCredentialsToken(c);
    await c.store.writeTokens(fresh);
    c.log.info(`access token obtained with the client credentials grant${c.auth.clientKey ? ' (private_key_jwt)' : ''}`);
    return fresh;
  });
}
