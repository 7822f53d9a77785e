/**
 * Machine-to-machine login: the OAuth client credentials grant (RFC 6749 §4.4, OAuth 2.1 §4.2)
 * as the MCP extension io.modelcontextprotocol/oauth-client-credentials profiles it, for relays
 * with no person behind them (CI jobs, scheduled agents, headless servers). A pre-registered
 * client authenticates with its secret (client_secret_basic / client_secret_post) or with a
 * signed JWT assertion (RFC 7523 private_key_jwt); there is no browser, no redirect, no
 * pending.json and no refresh token: a new access token is simply requested again.
 *
 * The token request is tokenRequest + processTokenResponse (token-endpoint.ts), the client
 * authenticated by client-auth.ts; transient failures are retried by retry.ts under the lock.
 */
import type { AuthOptions, ClientKey } from '../config/config.js';
import { RelayError } from '../errors.js';
import type { StoredTokens } from '../store/store.js';
import { clientAuthentication, PrivateKeyJwt } from './client-auth.js';
import { staticClient } from './registration.js';
import { machineGrantLogin, type MachineGrant, type MachineGrantLogin, type MachineGrantRequest } from './machine-grant.js';
import { processTokenResponse, redact, tokenProblem, tokenRequest } from './token-endpoint.js';
export { CLIENT_KEY_ALGS, parseClientKey } from './client-key.js';
export { JWT_BEARER_ASSERTION_TYPE } from './client-auth.js';
import { toStored, tokenEndpoint } from './tokens.js';

/**
 * `private_key_jwt` (RFC 7523 §2.2) in the SDK's AddClientAuthentication shape `(headers,
 * params, tokenUrl, metadata)`: client-auth.ts's PrivateKeyJwt with aud = the issuer when the
 * metadata names one, else the token endpoint URL (RFC 7523 §3 allows both).
 */
export function privateKeyJwtAuth(clientId: string, key: ClientKey, now: () => number = Date.now) {
  const sign = PrivateKeyJwt(clientId, key, now);
  return (headers: Headers, body: URLSearchParams, tokenUrl: string | URL, metadata?: { issuer?: string } | undefined): Promise<void> =>
    sign({ headers, body, audience: metadata?.issuer ?? String(tokenUrl) });
}

/** One client credentials request needs what every machine grant gets (machine-grant.ts). */
export type ClientCredentialsRequest = Pick<MachineGrantRequest, 'auth' | 'discovered' | 'scope' | 'resource' | 'fetch' | 'now' | 'dpop'>;

/** How the client authenticates, for messages. */
function credentialFlags(auth: AuthOptions): string {
  return auth.clientKey
    ? `--client-key-file (and that its public key${auth.clientKey.keyId ? ` with kid ${auth.clientKey.keyId}` : ''} is registered for the client)`
    : '--client-secret (or client_secret in --client-info)';
}

/** Refuse before sending anything when the metadata says the server cannot take this client. */
function checkServerSupport(r: ClientCredentialsRequest, clientId: string): void {
  const meta = r.discovered.metadata;
  const issuer = meta.issuer;
  if (meta.grant_types_supported && !meta.grant_types_supported.includes('client_credentials')) {
    throw new RelayError(
      'AUTH_FAILED',
      `the authorization server ${issuer} does not offer the client credentials grant ("grant_types_supported" lacks client_credentials); drop --client-credentials to log in interactively`,
    );
  }
  const methods = meta.token_endpoint_auth_methods_supported;
  if (r.auth.clientKey) {
    if (methods && !methods.includes('private_key_jwt')) {
      throw new RelayError(
        'AUTH_FAILED',
        `the authorization server ${issuer} does not accept private_key_jwt client authentication ("token_endpoint_auth_methods_supported": ${methods.join(', ')}); use --client-secret instead of --client-key-file`,
      );
    }
    const algs = meta.token_endpoint_auth_signing_alg_values_supported;
    if (algs && !algs.includes(r.auth.clientKey.alg)) {
      throw new RelayError(
        'AUTH_FAILED',
        `the authorization server ${issuer} does not accept ${r.auth.clientKey.alg} client assertions ("token_endpoint_auth_signing_alg_values_supported": ${algs.join(', ')}); pass --client-key-alg with one of them and a matching key`,
      );
    }
  } else if (methods && !methods.includes('client_secret_basic') && !methods.includes('client_secret_post')) {
    throw new RelayError(
      'AUTH_FAILED',
      `the authorization server ${issuer} accepts no client secret for client ${clientId} ("token_endpoint_auth_methods_supported": ${methods.join(', ')})${methods.includes('private_key_jwt') ? '; use --client-key-file' : ''}`,
    );
  }
}

/** An error from the token endpoint → what to check, by OAuth error code (RFC 6749 §5.2). */
function explain(err: unknown, r: ClientCredentialsRequest, clientId: string, secret: string | undefined): RelayError {
  const at = `the token endpoint of ${r.discovered.metadata.issuer}`;
  const problem = tokenProblem(err);
  const status = err instanceof RelayError ? err.status : undefined;
  // Keep status and cause (the problem or the network error): retry.ts decides on them.
  const opts = { cause: err instanceof RelayError ? err.cause : err, ...(status !== undefined ? { status } : {}) };
  // An authorization server's free text is quoted, but never with our own secret in it.
  const hide = (text: string) => redact(text, [secret]);
  if (problem?.error !== undefined) {
    const hint: Record<string, string> = {
      invalid_client: `it does not accept client ${clientId} with these credentials: check --client-id and ${credentialFlags(r.auth)}`,
      unauthorized_client: `client ${clientId} may not use the client credentials grant there: allow it for the client at the authorization server`,
      invalid_scope: `it refused the scope ${JSON.stringify(r.scope ?? '')}: check --scope`,
      invalid_target: `it refused the resource ${r.resource ?? '(none)'}: check --resource (or --omit-resource)`,
      unsupported_grant_type: 'it does not support the client credentials grant: drop --client-credentials to log in interactively',
    };
    const next = hint[problem.error] ?? 'the relay asks again on the next request';
    const said = hide(problem.error_description ?? '') || 'no description';
    return new RelayError('AUTH_FAILED', `client credentials login failed: ${at} answered "${problem.error}" (${said}); ${next}`, opts);
  }
  const said = hide(err instanceof Error ? err.message : String(err)) || 'no description';
  return new RelayError('AUTH_FAILED', `client credentials login failed: ${at} could not be used (${said}); the relay asks again on the next request`, opts);
}

/**
 * One client credentials token request (no store, no lock, no retry). The client authenticates
 * per the server's token_endpoint_auth_methods_supported (client_secret_basic or _post, as the
 * SDK would pick) or with a private_key_jwt assertion. Throws AUTH_FAILED saying what to check.
 */
export async function requestClientCredentialsToken(r: ClientCredentialsRequest): Promise<StoredTokens> {
  const client = staticClient(r.auth, '', r.now());
  if (!client) throw new RelayError('BAD_CONFIG', '--client-credentials needs a pre-registered client: --client-id or --client-info');
  checkServerSupport(r, client.client_id);
  const meta = r.discovered.metadata;
  const identity = r.auth.clientKey ? { client_id: client.client_id } : client;
  const { apply } = clientAuthentication(identity, { supported: meta.token_endpoint_auth_methods_supported, key: r.auth.clientKey, now: r.now });
  const scope = r.scope;
  const params = new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
  try {
    // RFC 8707 §2 and MCP 2025-11-25 authorization: resource MUST be sent on token requests.
    const res = await tokenRequest({
      endpoint: tokenEndpoint(r.discovered),
      params,
      resource: r.resource,
      auth: apply,
      issuer: meta.issuer,
      fetch: r.fetch,
      dpop: r.dpop,
    });
    const t = await processTokenResponse(res, { dpop: r.dpop !== undefined });
    // RFC 6749 §4.4.3: no refresh token is expected; one sent anyway is not kept (we ask again).
    // RFC 6749 §5.1: a response without scope granted the scope requested; it is recorded so
    // that a renewal asks for the same.
    const { refresh_token: _unused, ...access } = t;
    const granted = { ...access, scope: t.scope ?? scope };
    return { ...toStored(granted, r.now(), { issuer: meta.issuer, resource: r.resource, dpop: r.dpop }), grant: 'client_credentials' };
  } catch (err) {
    throw explain(err, r, client.client_id, client.client_secret);
  }
}

/** Tokens this relay may use in client credentials mode: its own grant, never a person's login. */
export function isClientCredentialsTokens(t: StoredTokens | undefined): t is StoredTokens {
  return t?.grant === 'client_credentials';
}

/** What a shared client credentials login needs: what every machine grant login needs. */
export type ClientCredentialsLogin = MachineGrantLogin;

/** The client credentials grant as one of the machine grants (machine-grant.ts). */
export const clientCredentialsGrant: MachineGrant = {
  kind: 'client_credentials',
  label: 'client credentials grant',
  request: (r) => requestClientCredentialsToken(r),
};

/**
 * Get a client credentials token under the store lock, shared by every relay of this server
 * (machine-grant.ts {@link machineGrantLogin}): N relays started at once make one token request.
 */
export async function clientCredentialsLogin(c: ClientCredentialsLogin): Promise<StoredTokens> {
  return machineGrantLogin(clientCredentialsGrant, c);
}
