/**
 * Client authentication (src/auth/client-auth.ts) against the real in-process demo authorization
 * server: an id and a secret holding ":", "+", "%", a space and non-ASCII arrive intact with
 * client_secret_basic (RFC 6749 §2.3.1: form-urlencoded, then base64) and client_secret_post,
 * at the token endpoint (client credentials grant) and at the revocation endpoint (RFC 7009).
 * The demo server decodes Basic credentials as the RFC says and counts what it accepted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClientSecretBasic, clientAuthentication, formUrlEncode, selectClientAuthMethod } from '../../src/auth/client-auth.js';
import { requestClientCredentialsToken } from '../../src/auth/client-credentials.js';
import { discover, type Discovered } from '../../src/auth/discovery.js';
import { revokeStoredTokens } from '../../src/auth/revocation.js';
import type { AuthOptions } from '../../src/config/config.js';
import { startDemoServer, type DemoServer } from '../../src/demo/server.js';
import { silentLogger } from '../../src/log.js';
import type { StoredClient } from '../../src/store/store.js';

/** Every character class that broke one of the old encodings. */
const ID = 'svc:tenant+a b%20/é✓';
const SECRET = 's3cr:et+with space%2B&=ü€😀';

const servers: DemoServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function demoFor(method: 'client_secret_basic' | 'client_secret_post'): Promise<{ server: DemoServer; discovered: Discovered }> {
  const server = await startDemoServer({ staticClients: [{ client_id: ID, client_secret: SECRET, token_endpoint_auth_method: method }] });
  servers.push(server);
  const discovered = await discover({ serverUrl: new URL(server.url), allowHttp: false, fetch: (i, init) => fetch(i, init), log: silentLogger() });
  return { server, discovered };
}

function auth(method: string): AuthOptions {
  return {
    omitResource: false,
    callbackHost: '127.0.0.1',
    authTimeoutMs: 300_000,
    loginWaitMs: 10_000,
    noBrowser: true,
    clientCredentials: true,
    clientInfo: { client_id: ID, client_secret: SECRET, token_endpoint_auth_method: method },
  };
}

describe('formUrlEncode and the Basic header (RFC 6749 §2.3.1, Appendix B)', () => {
  it('form-encodes each part before joining with ":" (space as "+", "+" and ":" escaped, UTF-8 percent-encoded)', async () => {
    expect(formUrlEncode('a b+c:d%e/é')).toBe('a+b%2Bc%3Ad%25e%2F%C3%A9');
    // Unreserved characters of common ids (UUIDs, base64url secrets) stay as they are.
    expect(formUrlEncode('client-1_a.b*')).toBe('client-1_a.b*');
    const headers = new Headers();
    await ClientSecretBasic(ID, SECRET)({ headers, body: new URLSearchParams(), audience: 'x' });
    const decoded = Buffer.from(headers.get('authorization')!.replace(/^Basic /, ''), 'base64').toString('utf8');
    expect(decoded.split(':')).toHaveLength(2); // the id's own ":" is escaped
    const [id, secret] = decoded.split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
    expect([id, secret]).toEqual([ID, SECRET]);
  });

  it('picks the method as the SDK did: registered if listed, else basic, post, none; private_key_jwt with a key', () => {
    expect(selectClientAuthMethod({ client_id: 'c', client_secret: 's' }, undefined)).toBe('client_secret_basic');
    expect(selectClientAuthMethod({ client_id: 'c' }, undefined)).toBe('none');
    expect(
      selectClientAuthMethod({ client_id: 'c', client_secret: 's', token_endpoint_auth_method: 'client_secret_post' }, [
        'client_secret_basic',
        'client_secret_post',
      ]),
    ).toBe('client_secret_post');
    expect(selectClientAuthMethod({ client_id: 'c', client_secret: 's', token_endpoint_auth_method: 'client_secret_post' }, ['client_secret_basic'])).toBe(
      'client_secret_basic',
    );
    expect(selectClientAuthMethod({ client_id: 'c', client_secret: 's' }, ['client_secret_post', 'none'])).toBe('client_secret_post');
    expect(selectClientAuthMethod({ client_id: 'c' }, ['client_secret_basic', 'none'])).toBe('none');
    expect(selectClientAuthMethod({ client_id: 'c', client_secret: 's' }, ['client_secret_basic'], true)).toBe('private_key_jwt');
  });

  it('a method that needs a secret without one is AUTH_FAILED naming the flag, before anything is sent', () => {
    expect(() => clientAuthentication({ client_id: 'c', token_endpoint_auth_method: 'client_secret_post' }, { supported: ['client_secret_post'] })).toThrow(
      /--client-secret/,
    );
  });
});

describe.each([['client_secret_basic' as const], ['client_secret_post' as const]])('%s with ":", "+", space and non-ASCII in id and secret', (method) => {
  it('the token endpoint decodes both and issues a token; the revocation endpoint accepts the same client', async () => {
    const { server, discovered } = await demoFor(method);
    const t = await requestClientCredentialsToken({
      auth: auth(method),
      discovered,
      scope: 'mcp:tools',
      resource: server.url,
      fetch: (i, init) => fetch(i, init),
      now: Date.now,
    });
    expect(t.access_token).toBeTruthy();
    // The demo server only issues after matching the decoded id and secret (and this method).
    expect(server.counters.tokenRequests.client_credentials).toBe(1);
    const client: StoredClient = {
      client_id: ID,
      client_secret: SECRET,
      token_endpoint_auth_method: method,
      redirect_uris: [],
      kind: 'static',
      registered_at: Date.now(),
    };
    const report = await revokeStoredTokens(
      { tokens: t, client, metadata: discovered.metadata as unknown as Record<string, unknown> },
      { fetch: (i, init) => fetch(i, init), allowHttp: false },
    );
    expect(report).toMatchObject({ outcome: 'revoked', failures: [] });
    expect(server.counters.revocations).toBe(1);
  });
});

it('control: the same credentials joined raw (as the SDK and the old revocation code did) are refused by that server', async () => {
  const { server } = await demoFor('client_secret_basic');
  const res = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${ID}:${SECRET}`, 'utf8').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  expect(res.status).toBe(401);
  expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
  expect(server.counters.tokenRequests.client_credentials).toBe(1);
});
