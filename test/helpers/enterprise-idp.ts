/**
 * A real OpenID Connect identity provider on 127.0.0.1 (oidc-provider 9) for enterprise-managed
 * authorization tests:
 * - one confidential native client for the relay (loopback redirect on any port, PKCE), code and
 *   refresh grants; login and consent complete by themselves for one user (no HTML to drive);
 * - RFC 8693 token exchange that issues ID-JAGs, registered with `registerGrantType` (oidc-provider
 *   does not issue them out of the box): the subject token must be an ID token this IdP issued
 *   for the relay's client; the ID-JAG is signed with the IdP's key (so an MCP authorization
 *   server verifies it against the IdP's JWKS) and names the MCP client the IdP maps the
 *   audience to.
 * Counters are what the IdP saw: authorization requests (= logins) and token requests by grant.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import Provider, { errors } from 'oidc-provider';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
/** The ID-JAG's JWT type (identity assertion authorization grant draft). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';
export const IDP_CLIENT = 'relay-at-idp';
export const IDP_SECRET = 'idp-secret-9f2a4c71';
export const USER = 'alice@corp.example';
/** Lifetime of an ID-JAG: used at once. */
const ID_JAG_TTL_S = 300;

export interface Exchange {
  audience: string;
  resource: string | undefined;
  scope: string | undefined;
}

export interface EnterpriseIdp {
  issuer: string;
  jwksUri: string;
  counters: { authorizations: number; tokenRequests: Record<string, number> };
  exchanges: Exchange[];
  /** The next token exchange is refused with invalid_grant, as after a revoked session. */
  refuseNextExchange(): void;
  close(): Promise<void>;
}

/** Lifetimes of what the IdP issues, seconds (oidc-provider asks that they be set). */
const TTL_S = { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 3600, RefreshToken: 86_400 };

/**
 * `mcpClients`: MCP authorization server issuer → the client id the ID-JAG names there.
 * `idTokenTtlS`: lifetime of ID tokens (default an hour).
 */
export async function startEnterpriseIdp(mcpClients: (audience: string) => string | undefined, idTokenTtlS = 3600): Promise<EnterpriseIdp> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingJwk: JWK = { ...(await exportJWK(privateKey)), kid: 'idp-key-1', alg: 'ES256', use: 'sig' };
  const { d: _private, ...publicJwk } = signingJwk;
  const jwks = createLocalJWKSet({ keys: [publicJwk] });
  const signingKey = await importJWK(signingJwk, 'ES256');
  const counters = { authorizations: 0, tokenRequests: {} as Record<string, number> };
  const exchanges: Exchange[] = [];
  let refuseNext = false;

  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: IDP_CLIENT,
        client_secret: IDP_SECRET,
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingJwk] },
    cookies: { keys: ['enterprise-idp-test-cookie-key'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub, email: sub }) }),
    issueRefreshToken: () => true,
    pkce: { required: () => true },
    ttl: { ...TTL_S, IdToken: idTokenTtlS },
  });

  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx: { oidc: { params: Record<string, string | undefined>; client: { clientId: string } }; body: unknown }) => {
      const p = ctx.oidc.params;
      if (p.subject_token_type !== ID_TOKEN_TYPE) throw new errors.InvalidRequest('subject_token_type must be id_token');
      if (p.requested_token_type !== ID_JAG_TYPE) throw new errors.InvalidRequest('requested_token_type must be id-jag');
      if (refuseNext) {
        refuseNext = false;
        throw new errors.InvalidGrant('the session behind this ID token was revoked');
      }
      let sub: string;
      try {
        const { payload } = await jwtVerify(p.subject_token ?? '', jwks, { issuer, audience: ctx.oidc.client.clientId });
        sub = String(payload.sub);
      } catch {
        throw new errors.InvalidGrant('the subject token is not a current ID token of this IdP for this client');
      }
      const clientId = mcpClients(p.audience ?? '');
      if (!clientId) throw new errors.InvalidTarget('no MCP client is known for that audience');
      exchanges.push({ audience: p.audience!, resource: p.resource, scope: p.scope });
      const now = Math.floor(Date.now() / 1000);
      const jag = await new SignJWT({ client_id: clientId, ...(p.resource ? { resource: p.resource } : {}), ...(p.scope ? { scope: p.scope } : {}) })
        .setProtectedHeader({ alg: 'ES256', kid: signingJwk.kid!, typ: ID_JAG_TYP })
        .setIssuer(issuer)
        .setSubject(sub)
        .setAudience(p.audience!)
        .setIssuedAt(now)
        .setExpirationTime(now + ID_JAG_TTL_S)
        .setJti(randomUUID())
        .sign(signingKey);
      ctx.body = { access_token: jag, issued_token_type: ID_JAG_TYPE, token_type: 'N_A', expires_in: ID_JAG_TTL_S };
    },
    ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope'],
  );
  provider.on('authorization.accepted', () => counters.authorizations++);
  provider.on('grant.success', (ctx: { oidc: { params: { grant_type: string } } }) => {
    const g = ctx.oidc.params.grant_type;
    counters.tokenRequests[g] = (counters.tokenRequests[g] ?? 0) + 1;
  });

  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return callback(req, res);
    // The user signs in and consents at once: the test is about what the relay does around it.
    (async () => {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        return provider.interactionFinished(req, res, { login: { accountId: USER } }, { mergeWithLastSubmission: false });
      }
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addOIDCScope(String(details.params.scope));
      return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    })().catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    counters,
    exchanges,
    refuseNextExchange: () => {
      refuseNext = true;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
