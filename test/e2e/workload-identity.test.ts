/**
 * Workload identity (--workload-token, the MCP WIF extension; RFC 7523 jwt-bearer) through the
 * built relay: a real authorization server + protected MCP server on 127.0.0.1 that verifies each
 * assertion against the "platform" key, and records every token request. Assertions are on what
 * that server received.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jwtVerify, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { isRelayError } from '../../src/errors.js';
import { discover } from '../../src/auth/discovery.js';
import { workloadIdentityGrant } from '../../src/auth/jwt-bearer.js';
import { silentLogger } from '../../src/log.js';
import { browserEnv, browserLaunches } from '../helpers/oauth.js';
import { startPlainOAuthServer, type PlainOAuthServer } from '../helpers/plain-oauth.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The platform (GitHub Actions, Kubernetes) that signs workload tokens. */
const platform = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const servers: PlainOAuthServer[] = [];

afterEach(async () => {
  await killAll();
  for (const s of servers.splice(0)) await s.close();
});

/** A workload token as the platform issues it: for `audience`, with a distinct subject. */
function workloadToken(audience: string, subject: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer('https://token.actions.example')
    .setSubject(subject)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(platform.privateKey);
}

/** An authorization server that trusts the platform for assertions addressed to itself. */
async function server(): Promise<PlainOAuthServer> {
  let origin = '';
  const s = await startPlainOAuthServer({
    resource: (o) => `${o}/mcp`,
    jwtBearer: async (params) => {
      try {
        await jwtVerify(params.assertion ?? '', platform.publicKey, { audience: origin });
        return undefined;
      } catch {
        return 'invalid_grant';
      }
    },
  });
  origin = s.origin;
  servers.push(s);
  return s;
}

const grants = (s: PlainOAuthServer) => s.records.filter((r) => r.endpoint === '/token');

describe('--workload-token', () => {
  it('rotating token file: each grant presents what the file holds then, with no registration and no browser', async () => {
    const s = await server();
    const home = await tempHome();
    const file = join(home, 'workload.jwt');
    const first = await workloadToken(s.origin, 'run-1');
    await writeFile(file, `${first}\n`);
    const relay = await connectRelay([s.url, '--workload-token', `@${file}`], { home, env: browserEnv(home, 'record-only') });
    await relay.client.listTools();
    // The platform rotates the file; the server then rejects the old access token.
    const second = await workloadToken(s.origin, 'run-2');
    await writeFile(file, second);
    s.expireAll();
    await relay.client.listTools();
    expect(grants(s).map((r) => r.params.assertion)).toEqual([first, second]);
    expect(grants(s).every((r) => r.params.grant_type === JWT_BEARER && r.params.resource === s.url)).toBe(true);
    expect(s.records.filter((r) => r.endpoint !== '/token')).toEqual([]);
    expect(browserLaunches(home)).toEqual([]);
    expect(relay.stderr()).not.toContain(first);
    expect(relay.stderr()).not.toContain(second);
  });

  it('a rejected assertion: one token request however many host requests, the server error in the answer, no other grant type', async () => {
    const s = await server();
    const home = await tempHome();
    const file = join(home, 'workload.jwt');
    const wrongAudience = await workloadToken('https://other.example', 'run-1');
    await writeFile(file, wrongAudience);
    const relay = spawnRelay([s.url, '--workload-token', `@${file}`], { home, env: browserEnv(home, 'record-only') });
    relay.send(INIT(1));
    const answer = await relay.waitFor((m) => m.id === 1);
    for (const id of [2, 3, 4]) relay.send({ jsonrpc: '2.0', id, method: 'tools/list' });
    const later = await Promise.all([2, 3, 4].map((id) => relay.waitFor((m) => m.id === id)));
    const message = (m: Record<string, unknown>) => String((m.error as { message?: string } | undefined)?.message);
    expect(message(answer)).toContain('"invalid_grant"');
    expect(message(answer)).toContain('workload identity grant failed');
    for (const m of later) expect(m.error).toBeDefined();
    expect(grants(s)).toHaveLength(1);
    expect(grants(s)[0]!.params.grant_type).toBe(JWT_BEARER);
    expect(relay.stderr()).not.toContain(wrongAudience);
    expect(browserLaunches(home)).toEqual([]);
  });

  it('the grant never sends a refused token again, and sends the next one the file holds', async () => {
    const s = await server();
    const home = await tempHome();
    const file = join(home, 'workload.jwt');
    await writeFile(file, await workloadToken('https://other.example', 'run-1'));
    const log = silentLogger();
    const discovered = await discover({ serverUrl: new URL(s.url), allowHttp: false, fetch: (i, init) => fetch(i, init), log, requirePkce: false });
    const grant = workloadIdentityGrant({ file, flag: '--workload-token' });
    const request = {
      auth: { omitResource: false, callbackHost: '127.0.0.1', authTimeoutMs: 1, loginWaitMs: 1, noBrowser: true },
      discovered,
      scope: undefined,
      resource: s.url,
      fetch: (i: string | URL, init?: RequestInit) => fetch(i, init),
      now: Date.now,
      log,
    };
    const refused = await grant.request(request).catch((e: unknown) => e);
    expect(isRelayError(refused, 'AUTH_FAILED')).toBe(true);
    expect(String((refused as Error).message)).toContain('"invalid_grant"');
    const again = await grant.request(request).catch((e: unknown) => e);
    expect(isRelayError(again, 'AUTH_FAILED')).toBe(true);
    expect(String((again as Error).message)).toContain('not sent again');
    expect(grants(s)).toHaveLength(1);
    const fresh = await workloadToken(s.origin, 'run-2');
    await writeFile(file, fresh);
    const tokens = await grant.request(request);
    expect(tokens.grant).toBe('workload_identity');
    expect(grants(s)).toHaveLength(2);
    expect(grants(s).at(-1)!.params.assertion).toBe(fresh);
  });
});
