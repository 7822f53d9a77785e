/**
 * DPoP end to end: a real authorization server (oidc-provider 9 with DPoP, resource indicators and
 * dynamic registration, issuing DPoP-bound JWT access tokens for one MCP resource) and a real MCP
 * server (the SDK's, via mcp-routes.ts) that accepts only DPoP-bound tokens and checks every proof
 * as RFC 9449 §4.3 and §7.1 say: signature, typ, htm/htu, iat, ath, jti never seen before, and the
 * proof key's thumbprint equal to the token's cnf.jkt. Both on 127.0.0.1, both counting.
 *
 * The fixture browser keeps no cookies, and oidc-provider's interactions need them: the AS front
 * keeps the one browser's cookies on the server side (a cookie jar in front of the provider), so
 * the login is still the provider's own code path. The login itself is approved at once (one
 * account, consent granted by loadExistingGrant).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';
import { listenLoopback, type LoopbackServer } from './loopback-server.js';
import { createCapabilityServer } from './mcp-capabilities.js';
import { createSseRouter, createStatefulRouter, MCP_PATH, type Router, SSE_PATH } from './mcp-routes.js';
import type { TestServerCounters } from './mcp-server-types.js';

/** RFC 9449 §11.1 / the MCP DPoP extension: proofs older or newer than this are refused. */
const PROOF_IAT_WINDOW_S = 300;
const ACCOUNT_ID = 'dpop-test-user';
const SCOPE = 'mcp';

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

export interface McpDpopCounters extends TestServerCounters {
  /** Proofs that passed every check, by HTTP method. */
  verified: Record<string, number>;
  /** Why proofs (or tokens) were refused; must stay empty in a good run. */
  failures: string[];
  /** Every jti seen, and how many came again. */
  jtis: Set<string>;
  repeatedJti: number;
  /** Requests without a DPoP token (the 401 that starts a login). */
  unauthenticated: number;
  /** 401 use_dpop_nonce answers sent (RFC 9449 §9), and proofs that then carried the nonce. */
  nonceChallenges: number;
  nonceHonored: number;
}

export interface DpopMcpServer {
  url: string;
  counters: McpDpopCounters;
  /** Hand out a new nonce from now on (the next proof without it is refused with use_dpop_nonce). */
  rotateNonce(): void;
  close(): Promise<void>;
}

/**
 * The SDK's MCP server behind a DPoP check. With `requireNonce`, a proof must carry the server's
 * current nonce (RFC 9449 §9), which every answer also announces in DPoP-Nonce.
 */
export async function startDpopMcpServer(opts: { as: () => DpopAs; requireNonce?: boolean; kind?: 'stateful' | 'sse' }): Promise<DpopMcpServer> {
  const counters: McpDpopCounters = {
    initialize: 0,
    deleteSession: 0,
    cancelled: 0,
    get: 0,
    verified: {},
    failures: [],
    jtis: new Set(),
    repeatedJti: 0,
    unauthenticated: 0,
    nonceChallenges: 0,
    nonceHonored: 0,
  };
  const newServer = () => createCapabilityServer(counters);
  const router: Router = opts.kind === 'sse' ? createSseRouter(newServer) : createStatefulRouter(newServer, { jsonResponse: false, eventStore: false });
  const path = opts.kind === 'sse' ? SSE_PATH : MCP_PATH;
  let nonce = randomBytes(12).toString('base64url');
  let origin = '';
  const prm = () => `${origin}/.well-known/oauth-protected-resource${path}`;
  const host = await listenLoopback((req, res) => {
    handle(req, res).catch((err: unknown) => {
      counters.failures.push(`server error: ${String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  origin = `http://127.0.0.1:${host.port}`;
  const resource = `${origin}${path}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname.startsWith('/.well-known/oauth-protected-resource')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ resource, authorization_servers: [opts.as().issuer], scopes_supported: [SCOPE], dpop_bound_access_tokens_required: true }));
      return;
    }
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization ?? '';
    const proof = req.headers.dpop;
    if (!/^DPoP /.test(auth)) {
      counters.unauthenticated++;
      return challenge(res, 'DPoP algs="ES256"');
    }
    const problem = await check(method, url, auth.slice(5), proof);
    if (problem === 'nonce') {
      counters.nonceChallenges++;
      return challenge(res, 'DPoP error="use_dpop_nonce", error_description="send the nonce"');
    }
    if (problem) {
      counters.failures.push(`${method}: ${problem}`);
      return challenge(res, `DPoP error="invalid_dpop_proof", error_description="${problem}"`);
    }
    counters.verified[method] = (counters.verified[method] ?? 0) + 1;
    if (opts.requireNonce) res.setHeader('dpop-nonce', nonce);
    if (method === 'GET') counters.get++;
    if (method === 'DELETE') counters.deleteSession++;
    let body: unknown;
    if (method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if ((body as { method?: string }).method === 'initialize') counters.initialize++;
    }
    await router.handle(req, res, url, body);
  }

  function challenge(res: ServerResponse, value: string): void {
    res.writeHead(401, {
      'www-authenticate': `${value}, resource_metadata="${prm()}"`,
      'content-type': 'application/json',
      ...(opts.requireNonce ? { 'dpop-nonce': nonce } : {}),
    });
    res.end(JSON.stringify({ error: 'unauthorized' }));
  }

  /** RFC 9449 §4.3 and §7.1; returns what is wrong, 'nonce' when only the nonce is, undefined when all is well. */
  async function check(method: string, url: URL, token: string, proof: string | string[] | undefined): Promise<string | undefined> {
    if (typeof proof !== 'string' || proof.includes(',')) return 'not exactly one DPoP header';
    let header: jose.ProtectedHeaderParameters;
    let claims: jose.JWTPayload;
    try {
      header = jose.decodeProtectedHeader(proof);
      if (header.typ !== 'dpop+jwt') return `typ is ${header.typ}`;
      if (!header.jwk || 'd' in header.jwk) return 'no public jwk header';
      claims = (await jose.jwtVerify(proof, await jose.importJWK(header.jwk, header.alg), { typ: 'dpop+jwt' })).payload;
    } catch (err) {
      return `proof does not verify: ${String(err)}`;
    }
    if (claims.htm !== method) return `htm ${String(claims.htm)} for ${method}`;
    if (claims.htu !== `${origin}${url.pathname}`) return `htu ${String(claims.htu)} for ${origin}${url.pathname}`;
    if (typeof claims.iat !== 'number' || Math.abs(claims.iat - Date.now() / 1000) > PROOF_IAT_WINDOW_S) return 'iat out of window';
    if (claims.ath !== createHash('sha256').update(token).digest('base64url')) return 'ath does not match the token';
    if (typeof claims.jti !== 'string') return 'no jti';
    if (counters.jtis.has(claims.jti)) counters.repeatedJti++;
    counters.jtis.add(claims.jti);
    let at: jose.JWTPayload;
    try {
      at = (await jose.jwtVerify(token, jose.createLocalJWKSet(opts.as().jwks), { issuer: opts.as().issuer, audience: resource })).payload;
    } catch (err) {
      return `access token refused: ${String(err)}`;
    }
    const jkt = await jose.calculateJwkThumbprint(header.jwk);
    if ((at.cnf as { jkt?: string } | undefined)?.jkt !== jkt) return 'proof key is not the key the token is bound to (cnf.jkt)';
    if (opts.requireNonce) {
      if (claims.nonce !== nonce) return 'nonce';
      counters.nonceHonored++;
    }
    return undefined;
  }

  return {
    url: resource,
    counters,
    rotateNonce: () => {
      nonce = randomBytes(12).toString('base64url');
    },
    close: async () => {
      await router.closeAll();
      await host.close();
    },
  };
}
