/**
 * Enterprise-managed authorization (the MCP extension io.modelcontextprotocol/enterprise-managed-
 * authorization; "cross-app access", ID-JAG). The user's sign-in at the company identity provider
 * buys each MCP server's token without a consent screen, in two legs:
 * 1. RFC 8693 token exchange at the IdP: subject_token = the ID token (subject_token_type
 *    id_token), requested_token_type = ID-JAG, audience = the MCP authorization server's issuer,
 *    resource = the MCP resource exactly as published (RFC 9728 §3.3). The answer's
 *    `access_token` is the ID-JAG (RFC 8693 §2.2.1, issued_token_type id-jag, token_type N_A).
 * 2. RFC 7523 jwt-bearer grant at the MCP authorization server with the ID-JAG as assertion,
 *    authenticated as the registered client (--client-id / --client-secret, client-auth.ts).
 * Failures name the leg (the IdP exchange or the MCP grant) and quote what the server answered.
 * Both legs go through tokenRequest (token-endpoint.ts).
 */
import { discoverAuthorizationServerMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { type EnterpriseOptions, readSecretSource } from '../config/config.js';
import { describeError, RelayError } from '../errors.js';
import { clientAuthentication, type ClientAuth } from './client-auth.js';
import { assertSafeEndpoint, validateAuthorizationServerMetadata } from './discovery.js';
import { checkJwtBearerSupport, requestJwtBearerToken, staticClientAuth } from './jwt-bearer.js';
import { grantFailure, type MachineGrant, type MachineGrantRequest } from './machine-grant.js';
import { oauthErrorCode, processTokenResponse, tokenProblem, tokenRequest } from './token-endpoint.js';

/** RFC 8693 §2.1: the token exchange grant type. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 §3: an OpenID Connect ID token as the subject token. */
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
/** The ID-JAG token type of the identity assertion authorization grant draft. */
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';

/** Signs in at the IdP (idp-login.ts) and yields a current ID token. */
export interface IdTokenLogin {
  (metadata: AuthorizationServerMetadata, r: Pick<MachineGrantRequest, 'onWaiting' | 'signal'>): Promise<string>;
  /** The IdP refused this ID token (invalid_grant): it is not offered again; a refresh or a new login replaces it. */
  forget(idToken: string): Promise<void>;
}

/** The IdP's token endpoint, how the relay's client authenticates there, and its metadata when read. */
interface IdpEndpoint {
  endpoint: string;
  methods: readonly string[] | undefined;
  metadata?: AuthorizationServerMetadata | undefined;
}

/**
 * The IdP's token endpoint: --idp-token-endpoint, else its RFC 8414 / OpenID Connect metadata.
 * A login at the IdP (`needLogin`) always reads the metadata (it needs the authorization endpoint
 * and PKCE S256, as any login).
 */
async function idpTokenEndpoint(o: EnterpriseOptions, r: MachineGrantRequest, needLogin: boolean): Promise<IdpEndpoint> {
  const allowHttp = r.allowHttp ?? false;
  if (o.idpTokenEndpoint && !needLogin) return { endpoint: assertSafeEndpoint(o.idpTokenEndpoint, '--idp-token-endpoint', allowHttp), methods: undefined };
  let meta: Awaited<ReturnType<typeof discoverAuthorizationServerMetadata>>;
  try {
    meta = await discoverAuthorizationServerMetadata(o.idpIssuer, { fetchFn: r.fetch });
  } catch (err) {
    throw new RelayError('DISCOVERY_FAILED', `cannot load the metadata of the IdP ${o.idpIssuer}: ${describeError(err)}; pass --idp-token-endpoint`, {
      cause: err,
    });
  }
  if (!meta) throw new RelayError('DISCOVERY_FAILED', `the IdP ${o.idpIssuer} publishes no OAuth or OpenID Connect metadata; pass --idp-token-endpoint`);
  const checked = validateAuthorizationServerMetadata(meta, o.idpIssuer, allowHttp, needLogin);
  const endpoint = o.idpTokenEndpoint ?? checked.token_endpoint;
  return { endpoint: assertSafeEndpoint(endpoint, 'token_endpoint', allowHttp), methods: checked.token_endpoint_auth_methods_supported, metadata: checked };
}

/**
 * A token exchange answer (RFC 8693 §2.2.1) → the ID-JAG. Pure: reads only `res`. Errors (§2.2.2,
 * RFC 6749 §5.2) are thrown by processTokenResponse, with the same problem shape as every token
 * request.
 */
export async function processIdJagResponse(res: Response): Promise<string> {
  if (res.status !== 200) {
    await processTokenResponse(res);
    throw new RelayError('AUTH_FAILED', `the token endpoint answered HTTP ${res.status}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await res.text());
  } catch {
    json = undefined;
  }
  const t = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const problem = (field: string, expected: string) =>
    new RelayError('AUTH_FAILED', `"${field}" in the token exchange response must be ${expected}`, { status: 200, cause: { status: 200, field, expected } });
  if (oauthErrorCode(json) !== undefined || typeof t.access_token !== 'string' || t.access_token === '')
    throw problem('access_token', 'a non-empty string (the ID-JAG)');
  if (t.issued_token_type !== ID_JAG_TYPE) throw problem('issued_token_type', ID_JAG_TYPE);
  return t.access_token;
}

/** The relay's client at the IdP (--idp-client-id / --idp-client-secret), or none. */
function idpClientAuth(o: EnterpriseOptions, methods: readonly string[] | undefined): ClientAuth {
  if (!o.idpClientId) return async () => {};
  return clientAuthentication({ client_id: o.idpClientId, client_secret: o.idpClientSecret }, { supported: methods }).apply;
}

/** The ID token: --idp-id-token as it reads now, else from the IdP login (idp-login.ts). */
async function idToken(o: EnterpriseOptions, idp: IdpEndpoint, login: IdTokenLogin | undefined, r: MachineGrantRequest): Promise<string> {
  if (o.idpIdToken) return readSecretSource(o.idpIdToken);
  if (!login || !idp.metadata) throw new RelayError('BAD_CONFIG', '--idp-issuer needs --idp-id-token here (no IdP login is possible in this command)');
  return login(idp.metadata, r);
}

/**
 * Enterprise-managed authorization as a machine grant (the legs are in the module header). With
 * `login`, the ID token comes from the relay's own IdP login when --idp-id-token is not given.
 */
export function enterpriseGrant(o: EnterpriseOptions, login?: IdTokenLogin): MachineGrant {
  const label = 'enterprise sign-in';
  let idp: IdpEndpoint | undefined;
  let signedIn: string | undefined;
  return {
    kind: 'enterprise_managed',
    label,
    // An IdP login may wait minutes for the user: done before this server's lock is taken, so the
    // relays of this server wait on the IdP login (its own store and lock), not on this lock.
    async beforeLock(r) {
      if (o.idpIdToken || !login) return;
      idp ??= await idpTokenEndpoint(o, r, true);
      signedIn = await idToken(o, idp, login, r);
    },
    async request(r) {
      checkJwtBearerSupport(r, label);
      const audience = r.discovered.metadata.issuer;
      idp ??= await idpTokenEndpoint(o, r, !o.idpIdToken);
      // The ID token beforeLock just obtained is used once, as is (not checked again for the
      // renewal margin, which a short-lived ID token never passes).
      const subject = signedIn ?? (await idToken(o, idp, login, r));
      signedIn = undefined;
      // Leg 1: ID token → ID-JAG at the IdP.
      let jag: string;
      try {
        const params = new URLSearchParams({
          grant_type: TOKEN_EXCHANGE_GRANT,
          requested_token_type: ID_JAG_TYPE,
          audience,
          subject_token: subject,
          subject_token_type: ID_TOKEN_TYPE,
          ...(r.scope ? { scope: r.scope } : {}),
        });
        const res = await tokenRequest({
          endpoint: idp.endpoint,
          params,
          resource: r.resource,
          auth: idpClientAuth(o, idp.methods),
          issuer: o.idpIssuer,
          fetch: r.fetch,
        });
        jag = await processIdJagResponse(res);
      } catch (err) {
        // A stored ID token the IdP refuses (a revoked session) must not be offered until it expires.
        if (login && !o.idpIdToken && tokenProblem(err)?.error === 'invalid_grant') await login.forget(subject);
        const hints: Record<string, string> = {
          invalid_grant: `it refused the ID token from ${o.idpIdToken?.flag ?? 'the IdP login'} (expired, or issued for another client): sign in at the IdP again`,
          invalid_client: `it does not accept the IdP client ${o.idpClientId ?? '(none)'}: check --idp-client-id / --idp-client-secret`,
          unauthorized_client: `the IdP client ${o.idpClientId ?? '(none)'} may not request ID-JAGs: allow token exchange for it at the IdP`,
          invalid_target: `it refused the audience ${audience} or the resource ${r.resource ?? '(none)'}: the IdP must know this MCP server`,
          access_denied: `the IdP's policy does not let this user reach ${r.resource ?? audience}`,
        };
        throw grantFailure(label, `the token exchange at the IdP ${o.idpIssuer}`, err, hints, [subject, o.idpClientSecret]);
      }
      // Leg 2: ID-JAG → access token at the MCP authorization server.
      const client = staticClientAuth(r);
      try {
        return await requestJwtBearerToken({ ...r, assertion: jag, auth: client.auth, kind: 'enterprise_managed' });
      } catch (err) {
        const hints: Record<string, string> = {
          invalid_grant: 'it refused the ID-JAG the IdP issued (audience, resource or client_id in it do not match, or it trusts no such IdP)',
          invalid_client: `it does not accept client ${client.clientId ?? '(none)'}: check ${client.flags}`,
          unauthorized_client: `client ${client.clientId ?? '(none)'} may not use the jwt-bearer grant there`,
          invalid_scope: `it refused the scope ${JSON.stringify(r.scope ?? '')}: check --scope`,
        };
        throw grantFailure(label, `the jwt-bearer grant at the MCP authorization server ${audience}`, err, hints, [jag, subject, client.secret]);
      }
    },
  };
}
