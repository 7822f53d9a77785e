/**
 * --client-key-file (private_key_jwt, RFC 7523 §2.2) where the registered MCP client
 * authenticates outside --client-credentials: workload identity with --client-id, and the second
 * leg of enterprise-managed authorization. The authorization server (test/helpers/plain-oauth.ts)
 * verifies the client assertion with the client's public key and refuses anything else
 * (invalid_client); assertions are on what it received.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { ID_JAG_TYP, IDP_CLIENT, IDP_SECRET, startEnterpriseIdp, type EnterpriseIdp } from '../helpers/enterprise-idp.js';
import { browserLaunches } from '../helpers/oauth.js';
import { startPlainOAuthServer, type PlainOAuthServer } from '../helpers/plain-oauth.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** RFC 7523 §2.2. */
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const COOKIE_BROWSER = join(import.meta.dirname, '../fixtures/cookie-browser.mjs');
const CLIENT = 'ci-client';
/** The platform (GitHub Actions, Kubernetes) that signs workload tokens. */
const platform = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  await killAll();
  for (const c of closers.splice(0)) await c();
});

/** Whether the token request authenticated as CLIENT with a private_key_jwt signed by `key` (RFC 7523 §3). */
async function clientAssertionValid(params: Record<string, string>, headers: { authorization?: string | undefined }, key: KeyObject, origin: string) {
  if (headers.authorization !== undefined || params.client_assertion_type !== CLIENT_ASSERTION_TYPE) return false;
  try {
    const { payload } = await jwtVerify(params.client_assertion ?? '', key, { issuer: CLIENT, subject: CLIENT, audience: [origin, `${origin}/token`] });
    return typeof payload.jti === 'string';
  } catch {
    return false;
  }
}

/** An authorization server that takes jwt-bearer grants from CLIENT authenticated by its key, checking the grant's own assertion with `grantOk`. */
async function server(clientKey: KeyObject, grantOk: (assertion: string, origin: string) => Promise<boolean>): Promise<PlainOAuthServer> {
  let origin = '';
  const s = await startPlainOAuthServer({
    resource: (o) => `${o}/mcp`,
    tokenAuthMethods: ['private_key_jwt'],
    jwtBearer: async (params, headers) => {
      if (!(await clientAssertionValid(params, headers, clientKey, origin))) return 'invalid_client';
      return (await grantOk(params.assertion ?? '', origin)) ? undefined : 'invalid_grant';
    },
  });
  origin = s.origin;
  closers.push(() => s.close());
  return s;
}

async function keyFile(home: string, privateKey: KeyObject): Promise<string> {
  const file = join(home, 'client-key.pem');
  await writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });
  return file;
}

const grants = (s: PlainOAuthServer) => s.records.filter((r) => r.endpoint === '/token' && r.params.grant_type === JWT_BEARER);

describe('--client-key-file beyond --client-credentials', () => {
  it('workload identity with --client-id authenticates with a private_key_jwt assertion', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const s = await server(key.publicKey, async (assertion, origin) => {
      return jwtVerify(assertion, platform.publicKey, { audience: origin }).then(
        () => true,
        () => false,
      );
    });
    const home = await tempHome();
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('https://token.actions.example')
      .setSubject('run-1')
      .setAudience(s.origin)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(platform.privateKey);
    await writeFile(join(home, 'workload.jwt'), token);
    const args = [s.url, '--workload-token', `@${join(home, 'workload.jwt')}`, '--client-id', CLIENT, '--client-key-file', await keyFile(home, key.privateKey)];
    const relay = await connectRelay(args, { home });
    await relay.client.listTools();
    expect(grants(s)).toHaveLength(1);
    expect(grants(s)[0]!.params).toMatchObject({ assertion: token, client_assertion_type: CLIENT_ASSERTION_TYPE });
    expect(s.records.filter((r) => r.endpoint !== '/token')).toEqual([]);
    expect(relay.stderr()).not.toContain(token);
  });

  it('enterprise-managed authorization: the jwt-bearer leg at the MCP authorization server authenticates with the key', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let s: PlainOAuthServer | undefined;
    const idp: EnterpriseIdp = await startEnterpriseIdp((audience) => (audience === s?.origin ? CLIENT : undefined));
    closers.push(() => idp.close());
    s = await server(key.publicKey, async (assertion, origin) => {
      const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
      const { payload } = await jwtVerify(assertion, jwks, { issuer: idp.issuer, audience: origin, typ: ID_JAG_TYP }).catch(() => ({
        payload: {} as Record<string, unknown>,
      }));
      return payload.client_id === CLIENT && payload.resource === `${origin}/mcp`;
    });
    const home = await tempHome();
    const args = [
      s.url,
      '--idp-issuer',
      idp.issuer,
      '--idp-client-id',
      IDP_CLIENT,
      '--idp-client-secret',
      'env:IDP_SECRET',
      '--client-id',
      CLIENT,
      '--client-key-file',
      await keyFile(home, key.privateKey),
    ];
    const env = { BROWSER: `${process.execPath} ${COOKIE_BROWSER}`, BROWSER_LOG: join(home, 'browser.log'), IDP_SECRET };
    const relay = await connectRelay(args, { home, env });
    await relay.client.listTools();
    expect(browserLaunches(home)).toHaveLength(1); // the IdP sign-in only
    expect(grants(s)).toHaveLength(1);
    expect(grants(s)[0]!.params.client_assertion_type).toBe(CLIENT_ASSERTION_TYPE);
    expect(relay.stderr()).not.toContain(IDP_SECRET);
  });
});
