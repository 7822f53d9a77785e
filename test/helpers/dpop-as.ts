/**
 * A real authorization server that binds tokens, for the DPoP tests: oidc-provider 9 with DPoP,
 * resource indicators and dynamic registration, issuing DPoP-bound JWT access tokens (cnf.jkt)
 * for one MCP resource, on 127.0.0.1, counting registrations, logins, grants and nonce errors.
 *
 * The fixture browser keeps no cookies, and oidc-provider's interactions need them: the AS front
 * keeps the one browser's cookies on the server side (a cookie jar in front of the provider), so
 * the login is still the provider's own code path. The login itself is approved at once (one
 * account, consent granted by loadExistingGrant).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';
import { listenLoopback, type LoopbackServer } from './loopback-server.js';

const ACCOUNT_ID = 'dpop-test-user';
/** The one scope of the MCP resource. */
export const SCOPE = 'mcp';

/** The parts of oidc-provider's context its callbacks here read (the package ships no types). */
interface OidcCtx {
  oidc: { params?: Record<string, unknown>; session?: { accountId?: string }; client?: { clientId: string }; provider: Provider };
}
interface OidcClient {
  grantTypeAllowed(type: string): boolean;
}

export interface AsCounters {
  registrations: number;
  /** Interactive logins (= browser tabs that reached the login step). */
  logins: number;
  /** Successful token requests by grant type. */
  grants: Record<string, number>;
  /** Token requests answered `use_dpop_nonce` (RFC 9449 §8). */
  nonceErrors: number;
  /** Other failed token requests, by error code. */
  grantErrors: string[];
}

export interface DpopAs {
  issuer: string;
  counters: AsCounters;
  /** The public keys of the AS (to verify its JWT access tokens). */
  jwks: jose.JSONWebKeySet;
  close(): Promise<void>;
}

/** oidc-provider on 127.0.0.1 for one resource, DPoP on; `requireNonce` makes every token request need an AS nonce (§8). */
export async function startDpopAs(opts: {
  resource: () => string;
  requireNonce?: boolean;
  /** A pre-registered client for the client credentials grant (client_secret_basic/post). */
  machineClient?: { id: string; secret: string };
}): Promise<DpopAs> {
  const { privateKey: rsa } = await jose.generateKeyPair('RS256', { extractable: true });
  const { privateKey: ec } = await jose.generateKeyPair('ES256', { extractable: true });
  const keys = [
    { ...(await jose.exportJWK(rsa)), kid: 'rs', alg: 'RS256', use: 'sig' },
    { ...(await jose.exportJWK(ec)), kid: 'es', alg: 'ES256', use: 'sig' },
  ];
  const counters: AsCounters = { registrations: 0, logins: 0, grants: {}, nonceErrors: 0, grantErrors: [] };
  let issuer = '';
  const jar = new Map<string, string>();
  let provider: Provider | undefined;
  const server: LoopbackServer = await listenLoopback((req, res) => {
    if (!provider) return void res.writeHead(503).end();
    const url = new URL(req.url ?? '/', issuer);
    const browser = url.pathname.startsWith('/auth') || url.pathname.startsWith('/interaction/');
    if (browser) keepCookies(req, res, jar);
    if (url.pathname.startsWith('/interaction/')) return void login(provider, req, res, counters).catch((err) => res.writeHead(500).end(String(err)));
    provider.callback()(req, res);
  });
  issuer = `http://127.0.0.1:${server.port}`;
  const machine = opts.machineClient;
  provider = new Provider(issuer, {
    jwks: { keys },
    clients: machine
      ? [{ client_id: machine.id, client_secret: machine.secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }]
      : [],
    scopes: ['openid', 'offline_access', SCOPE],
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: machine !== undefined },
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => opts.requireNonce === true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx: OidcCtx, _client: OidcClient, oneOf: string | undefined) => oneOf ?? opts.resource(),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: OidcCtx, indicator: string) => {
          if (indicator !== opts.resource()) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return { scope: SCOPE, audience: indicator, accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
    // Every client that may refresh gets a refresh token (no offline_access dance for a test).
    issueRefreshToken: async (_ctx: OidcCtx, client: OidcClient) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    interactions: { url: async (_ctx: OidcCtx, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    // Consent is given: a grant with what the client asked for (one account, one resource).
    loadExistingGrant: async (ctx: OidcCtx) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId || !oidc.client) return undefined;
      const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope(`openid offline_access ${SCOPE}`);
      grant.addResourceScope(opts.resource(), SCOPE);
      await grant.save();
      return grant;
    },
    findAccount: async (_ctx: OidcCtx, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    pkce: { required: () => true },
  });
  provider.on('registration_create.success', () => counters.registrations++);
  provider.on('grant.success', (ctx: OidcCtx) => {
    const type = String(ctx.oidc.params?.grant_type);
    counters.grants[type] = (counters.grants[type] ?? 0) + 1;
  });
  provider.on('grant.error', (_ctx: OidcCtx, err: { error?: string }) => {
    if (err.error === 'use_dpop_nonce') counters.nonceErrors++;
    else counters.grantErrors.push(String(err.error));
  });
  const jwks = { keys: await Promise.all([rsa, ec].map(async (k, i) => ({ ...(await jose.exportJWK(k)), kid: keys[i]!.kid }))) };
  for (const k of jwks.keys) for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi']) delete (k as Record<string, unknown>)[m];
  return { issuer, counters, jwks, close: () => server.close() };
}

/** The fixture browser's cookies, kept here: sent with its requests, updated from the provider's Set-Cookie. */
function keepCookies(req: IncomingMessage, res: ServerResponse, jar: Map<string, string>): void {
  if (jar.size > 0) req.headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name: string, value: number | string | readonly string[]) => {
    if (name.toLowerCase() === 'set-cookie') {
      for (const c of ([] as string[]).concat(value as string | string[])) {
        const [pair = '', ...attrs] = c.split(';');
        const eq = pair.indexOf('=');
        const key = pair.slice(0, eq).trim();
        const expired = attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) <= Date.now());
        if (expired || pair.slice(eq + 1) === '') jar.delete(key);
        else jar.set(key, pair.slice(eq + 1));
      }
    }
    return setHeader(name, value);
  };
}

/** The login step: the one account signs in at once. */
async function login(provider: Provider, req: IncomingMessage, res: ServerResponse, counters: AsCounters): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    counters.logins++;
    await provider.interactionFinished(req, res, { login: { accountId: ACCOUNT_ID } }, { mergeWithLastSubmission: false });
    return;
  }
  // Consent: loadExistingGrant normally answers it; grant what is missing if it ever asks.
  const grant = new provider.Grant({ clientId: String(details.params.client_id), accountId: ACCOUNT_ID });
  grant.addOIDCScope(['openid', 'offline_access', ...((details.prompt.details.missingOIDCScope ?? []) as string[])].join(' '));
  const missing = (details.prompt.details.missingResourceScopes ?? {}) as Record<string, string[]>;
  for (const [indicator, scopes] of Object.entries(missing)) grant.addResourceScope(indicator, scopes.join(' '));
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}
