/**
 * Enterprise-managed authorization (--idp-*; ID-JAG) end to end through the built relay: a real
 * OpenID Connect IdP (oidc-provider, test/helpers/enterprise-idp.ts) and two MCP servers, each
 * with its own authorization server that accepts only jwt-bearer grants whose ID-JAG verifies
 * against the IdP's JWKS and names that server's client and resource. Assertions are on what the
 * IdP and the authorization servers counted.
 */
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { browserLaunches } from '../helpers/oauth.js';
import { ID_JAG_TYP, IDP_CLIENT, IDP_SECRET, startEnterpriseIdp, TOKEN_EXCHANGE, type EnterpriseIdp } from '../helpers/enterprise-idp.js';
import { startPlainOAuthServer, type PlainOAuthServer } from '../helpers/plain-oauth.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const COOKIE_BROWSER = join(import.meta.dirname, '../fixtures/cookie-browser.mjs');
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  await killAll();
  for (const c of closers.splice(0)) await c();
});

interface McpServer {
  s: PlainOAuthServer;
  clientId: string;
  secret: string;
}

/** An MCP server whose authorization server trusts ID-JAGs of `idp` for `clientId` (client_secret_basic). */
async function mcpServer(idp: () => EnterpriseIdp, clientId: string): Promise<McpServer> {
  const secret = `${clientId}-secret`;
  let origin = '';
  const s = await startPlainOAuthServer({
    resource: (o) => `${o}/mcp`,
    tokenAuthMethods: ['client_secret_basic'],
    jwtBearer: async (params, headers) => {
      const basic = Buffer.from(String(headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      if (basic !== `${clientId}:${secret}`) return 'invalid_client';
      try {
        const jwks = createRemoteJWKSet(new URL(idp().jwksUri));
        const { payload } = await jwtVerify(params.assertion ?? '', jwks, { issuer: idp().issuer, audience: origin, typ: ID_JAG_TYP });
        return payload.client_id === clientId && payload.resource === `${origin}/mcp` ? undefined : 'invalid_grant';
      } catch {
        return 'invalid_grant';
      }
    },
  });
  origin = s.origin;
  closers.push(() => s.close());
  return { s, clientId, secret };
}

async function setup(idTokenTtlS?: number): Promise<{ idp: EnterpriseIdp; a: McpServer; b: McpServer }> {
  const servers: McpServer[] = [];
  const idp = await startEnterpriseIdp((audience) => servers.find((m) => m.s.origin === audience)?.clientId, idTokenTtlS);
  closers.push(() => idp.close());
  servers.push(await mcpServer(() => idp, 'corp-a'), await mcpServer(() => idp, 'corp-b'));
  return { idp, a: servers[0]!, b: servers[1]! };
}

function args(idp: EnterpriseIdp, m: McpServer, extra: string[] = []): string[] {
  return [
    m.s.url,
    '--idp-issuer',
    idp.issuer,
    '--idp-client-id',
    IDP_CLIENT,
    '--idp-client-secret',
    'env:IDP_SECRET',
    '--client-id',
    m.clientId,
    '--client-secret',
    `env:SECRET_${m.clientId}`,
    ...extra,
  ];
}

function env(home: string, servers: McpServer[]): Record<string, string> {
  const secrets = Object.fromEntries(servers.map((m) => [`SECRET_${m.clientId}`, m.secret]));
  return { BROWSER: `${process.execPath} ${COOKIE_BROWSER}`, BROWSER_LOG: join(home, 'browser.log'), IDP_SECRET, ...secrets };
}

const jwtBearerGrants = (m: McpServer) => m.s.records.filter((r) => r.endpoint === '/token' && r.params.grant_type === JWT_BEARER);

describe('enterprise-managed authorization', () => {
  it('two MCP servers behind one IdP: one IdP login, then one token exchange and one jwt-bearer grant per server', async () => {
    const { idp, a, b } = await setup();
    const home = await tempHome();
    const first = await connectRelay(args(idp, a), { home, env: env(home, [a, b]) });
    await first.client.listTools();
    const second = await connectRelay(args(idp, b), { home, env: env(home, [a, b]) });
    await second.client.listTools();

    expect(browserLaunches(home)).toHaveLength(1);
    expect(idp.counters.authorizations).toBe(1);
    expect(idp.counters.tokenRequests).toEqual({ authorization_code: 1, [TOKEN_EXCHANGE]: 2 });
    // RFC 8693 leg: audience = each MCP authorization server's issuer, resource exactly as published.
    expect(idp.exchanges.map((e) => [e.audience, e.resource])).toEqual([
      [a.s.origin, a.s.url],
      [b.s.origin, b.s.url],
    ]);
    for (const m of [a, b]) {
      expect(jwtBearerGrants(m)).toHaveLength(1);
      expect(m.s.records.filter((r) => r.endpoint !== '/token')).toEqual([]);
    }
    const logs = first.stderr() + second.stderr();
    expect(logs).not.toContain(IDP_SECRET);
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
  });

  it('relays for both servers started at once: still one IdP login (one tab, one code exchange)', async () => {
    const { idp, a, b } = await setup();
    const home = await tempHome();
    const relays = await Promise.all([a, b].map((m) => connectRelay(args(idp, m), { home, env: env(home, [a, b]) })));
    await Promise.all(relays.map((r) => r.client.listTools()));
    expect(browserLaunches(home)).toHaveLength(1);
    expect(idp.counters.authorizations).toBe(1);
    expect(idp.counters.tokenRequests).toEqual({ authorization_code: 1, [TOKEN_EXCHANGE]: 2 });
    for (const m of [a, b]) expect(jwtBearerGrants(m)).toHaveLength(1);
  });

  it('a later relay process uses the stored IdP login: no browser, one more token exchange', async () => {
    const { idp, a } = await setup();
    const home = await tempHome();
    const first = await connectRelay(args(idp, a), { home, env: env(home, [a]) });
    await first.client.listTools();
    await first.transport.close();
    a.s.expireAll();
    const again = await connectRelay(args(idp, a), { home, env: env(home, [a]) });
    await again.client.listTools();
    expect(browserLaunches(home)).toHaveLength(1);
    expect(idp.counters.tokenRequests).toEqual({ authorization_code: 1, [TOKEN_EXCHANGE]: 2 });
    expect(jwtBearerGrants(a)).toHaveLength(2);
    // The IdP login has a store of its own, beside the MCP server's.
    expect(readdirSync(join(home, 'store', 'servers'))).toHaveLength(2);
  });

  it('an ID token about to expire is renewed silently with the IdP refresh token, not by a second login', async () => {
    // Shorter than the renewal margin: every stored ID token counts as about to expire.
    const { idp, a, b } = await setup(30);
    const home = await tempHome();
    const first = await connectRelay(args(idp, a), { home, env: env(home, [a, b]) });
    await first.client.listTools();
    const second = await connectRelay(args(idp, b), { home, env: env(home, [a, b]) });
    await second.client.listTools();
    expect(browserLaunches(home)).toHaveLength(1);
    expect(idp.counters.tokenRequests).toEqual({ authorization_code: 1, refresh_token: 1, [TOKEN_EXCHANGE]: 2 });
    expect(jwtBearerGrants(b)).toHaveLength(1);
  });

  it('an ID token the IdP refuses (revoked session) is dropped: the next relay renews it by refresh instead of presenting it again', async () => {
    const { idp, a } = await setup();
    const home = await tempHome();
    const first = await connectRelay(args(idp, a), { home, env: env(home, [a]) });
    await first.client.listTools();
    await first.transport.close();
    idp.refuseNextExchange();
    a.s.expireAll();
    const refused = spawnRelay(args(idp, a), { home, env: env(home, [a]) });
    refused.send(INIT(1));
    const answer = await refused.waitFor((m) => m.id === 1);
    expect(String((answer.error as { message?: string } | undefined)?.message)).toContain(
      `the token exchange at the IdP ${idp.issuer} answered "invalid_grant"`,
    );
    refused.child.kill();
    const next = await connectRelay(args(idp, a), { home, env: env(home, [a]) });
    await next.client.listTools();
    expect(browserLaunches(home)).toHaveLength(1);
    expect(idp.counters.tokenRequests).toEqual({ authorization_code: 1, refresh_token: 1, [TOKEN_EXCHANGE]: 2 });
    expect(jwtBearerGrants(a)).toHaveLength(2);
  });

  it('--idp-id-token: no IdP login; a refused ID token is reported as the IdP exchange failing, with what the IdP said', async () => {
    const { idp, a } = await setup();
    const home = await tempHome();
    const file = join(home, 'id-token.jwt');
    // Signed by a key the IdP does not have: the exchange must be refused.
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(idp.issuer)
      .setAudience(IDP_CLIENT)
      .setSubject('mallory')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('not-the-idp-key-not-the-idp-key!'));
    await writeFile(file, forged);
    const relay = spawnRelay(args(idp, a, ['--idp-id-token', `@${file}`]), { home, env: env(home, [a]) });
    relay.send(INIT(1));
    const answer = await relay.waitFor((m) => m.id === 1);
    const message = String((answer.error as { message?: string } | undefined)?.message);
    expect(message).toContain(`the token exchange at the IdP ${idp.issuer}`);
    expect(message).toContain('"invalid_grant"');
    expect(browserLaunches(home)).toEqual([]);
    expect(idp.counters.authorizations).toBe(0);
    expect(jwtBearerGrants(a)).toHaveLength(0);
    expect(relay.stderr()).not.toContain(forged);
  });
});
