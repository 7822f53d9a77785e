/**
 * The client credentials grant (src/auth/client-credentials.ts) against the real in-process demo
 * authorization server: client_secret_basic / _post, private_key_jwt (RFC 7523) accepted and a
 * forged or replayed assertion refused, the shared-store single flight; plus key parsing and
 * the --client-credentials options. Assertions are on what the authorization server counted.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import yargs from 'yargs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  clientCredentialsLogin,
  JWT_BEARER_ASSERTION_TYPE,
  parseClientKey,
  privateKeyJwtAuth,
  requestClientCredentialsToken,
  type ClientCredentialsRequest,
} from '../../src/auth/client-credentials.js';
import { discover, type Discovered } from '../../src/auth/discovery.js';
import { connectionOptions, type ConnectionArgs } from '../../src/cli/options.js';
import { toConfig } from '../../src/cli/to-config.js';
import type { AuthOptions, ClientKey } from '../../src/config/config.js';
import { RelayError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { startDemoServer, type DemoServer, type DemoServerOptions } from '../../src/demo/server.js';
import { CredentialStore } from '../../src/store/store.js';

const SECRET = 'cc-secret-value-7f3a9b';
const ALL_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

const servers: DemoServer[] = [];
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-relay-cc-'));
});

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

async function demo(opts: DemoServerOptions): Promise<{ server: DemoServer; discovered: Discovered }> {
  const server = await startDemoServer(opts);
  servers.push(server);
  const discovered = await discover({ serverUrl: new URL(server.url), allowHttp: false, fetch: (i, init) => fetch(i, init), log: silentLogger() });
  return { server, discovered };
}

function rsa(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

function pem(k: KeyObject, type: 'pkcs8' | 'pkcs1' | 'sec1' = 'pkcs8'): string {
  return k.export({ format: 'pem', type } as never) as string;
}

function jwk(k: KeyObject, kid: string): Record<string, unknown> {
  return { ...(k.export({ format: 'jwk' }) as Record<string, unknown>), kid, use: 'sig' };
}

function auth(overrides: Partial<AuthOptions>): AuthOptions {
  return {
    omitResource: false,
    callbackHost: '127.0.0.1',
    authTimeoutMs: 300_000,
    loginWaitMs: 10_000,
    noBrowser: false,
    clientCredentials: true,
    ...overrides,
  };
}

function request(discovered: Discovered, server: DemoServer, a: AuthOptions): ClientCredentialsRequest {
  return { auth: a, discovered, scope: 'mcp:tools', resource: server.url, fetch: (i, init) => fetch(i, init), now: Date.now };
}

async function refusal(p: Promise<unknown>): Promise<RelayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RelayError);
  return err as RelayError;
}

describe('parseClientKey', () => {
  it('takes the algorithm from the key when none is given (RSA → RS256, EC by curve, Ed25519 → EdDSA)', () => {
    expect(parseClientKey(pem(rsa().privateKey), { source: 'k.pem' }).alg).toBe('RS256');
    expect(parseClientKey(pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), { source: 'k.pem' }).alg).toBe('ES256');
    expect(parseClientKey(pem(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey), { source: 'k.pem' }).alg).toBe('ES384');
    expect(parseClientKey(pem(generateKeyPairSync('ed25519').privateKey), { source: 'k.pem' }).alg).toBe('EdDSA');
  });

  it('reads PKCS#1 RSA and SEC1 EC PEMs as well as PKCS#8', () => {
    expect(parseClientKey(pem(rsa().privateKey, 'pkcs1'), { source: 'k.pem' }).key.asymmetricKeyType).toBe('rsa');
    expect(parseClientKey(pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'sec1'), { source: 'k.pem' }).alg).toBe('ES256');
  });

  it('refuses a key that does not fit the algorithm, a public key, an encrypted key and a short RSA key', () => {
    const ec = pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    expect(() => parseClientKey(ec, { alg: 'RS256', source: 'k.pem' })).toThrow(/RS256 needs an RSA key/);
    expect(() => parseClientKey(ec, { alg: 'ES384', source: 'k.pem' })).toThrow(/P-384/);
    expect(() => parseClientKey(rsa().publicKey.export({ format: 'pem', type: 'spki' }) as string, { source: 'pub.pem' })).toThrow(
      /does not hold a PEM private key/,
    );
    const encrypted = rsa().privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    expect(() => parseClientKey(encrypted, { source: 'enc.pem' })).toThrow(/encrypted/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(() => parseClientKey(pem(small), { source: 'small.pem' })).toThrow(/2048 bits/);
  });

  it('never puts the key material into a serialized Config', () => {
    const k = parseClientKey(pem(rsa().privateKey), { source: 'k.pem', keyId: 'kid-1' });
    expect(JSON.stringify(k)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(k)).not.toMatch(/"d":/);
  });
});

describe('privateKeyJwtAuth', () => {
  it('signs an RFC 7523 assertion: iss = sub = client_id, aud = the issuer, exp, unique jti, kid header', async () => {
    const { privateKey, publicKey } = rsa();
    const key: ClientKey = parseClientKey(pem(privateKey), { source: 'k.pem', keyId: 'key-7' });
    const now = 1_800_000_000_000;
    const sign = privateKeyJwtAuth('svc-1', key, () => now);
    const assertions: string[] = [];
    for (let i = 0; i < 2; i++) {
      const params = new URLSearchParams({ grant_type: 'client_credentials' });
      await sign(new Headers(), params, 'https://as.example.com/oauth/token', { issuer: 'https://as.example.com' } as never);
      expect(params.get('client_assertion_type')).toBe(JWT_BEARER_ASSERTION_TYPE);
      expect(params.get('client_id')).toBe('svc-1');
      assertions.push(params.get('client_assertion')!);
    }
    const header = decodeProtectedHeader(assertions[0]!);
    expect(header).toMatchObject({ alg: 'RS256', kid: 'key-7', typ: 'JWT' });
    const { payload } = await jwtVerify(assertions[0]!, createLocalJWKSet({ keys: [jwk(publicKey, 'key-7') as never] }), {
      issuer: 'svc-1',
      subject: 'svc-1',
      audience: 'https://as.example.com',
      currentDate: new Date(now),
    });
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
    expect(payload.iat).toBe(now / 1000);
    expect(decodeJwt(assertions[1]!).jti).not.toBe(payload.jti);
  });

  it('uses the token endpoint URL as aud when no issuer is known', async () => {
    const sign = privateKeyJwtAuth('svc-1', parseClientKey(pem(rsa().privateKey), { source: 'k.pem' }));
    const params = new URLSearchParams();
    await sign(new Headers(), params, 'https://as.example.com/token', undefined);
    expect(decodeJwt(params.get('client_assertion')!).aud).toBe('https://as.example.com/token');
    expect(decodeProtectedHeader(params.get('client_assertion')!).kid).toBeUndefined();
  });
});

describe('client credentials against the demo authorization server', () => {
  it('client_secret_basic: the server demands Basic for this client, one token request, no refresh token', async () => {
    const { server, discovered } = await demo({
      staticClients: [{ client_id: 'svc', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic' }],
    });
    const t = await requestClientCredentialsToken(request(discovered, server, auth({ clientId: 'svc', clientSecret: SECRET })));
    expect(t.grant).toBe('client_credentials');
    expect(t.refresh_token).toBeUndefined();
    expect(t.scope).toBe('mcp:tools');
    expect(t.resource).toBe(server.url);
    expect(t.expires_at).toBeGreaterThan(Date.now());
    expect(server.counters.tokenRequests.client_credentials).toBe(1);
    // The token works at the MCP endpoint (the server issued it for this resource).
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });

  it('client_secret_post when the server advertises only that (a Basic request would be refused by this client)', async () => {
    const { server, discovered } = await demo({
      metadataOverrides: { token_endpoint_auth_methods_supported: ['client_secret_post'] },
      staticClients: [{ client_id: 'svc', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_post' }],
    });
    const t = await requestClientCredentialsToken(request(discovered, server, auth({ clientId: 'svc', clientSecret: SECRET })));
    expect(t.access_token).toBeTruthy();
    expect(server.counters.tokenRequests.client_credentials).toBe(1);
  });

  it('a wrong secret is AUTH_FAILED naming invalid_client and the flags to check, without the secret', async () => {
    const { server, discovered } = await demo({ staticClients: [{ client_id: 'svc', client_secret: SECRET }] });
    const wrong = 'wrong-secret-value-123';
    const err = await refusal(requestClientCredentialsToken(request(discovered, server, auth({ clientId: 'svc', clientSecret: wrong }))));
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toMatch(/"invalid_client".*--client-id and --client-secret/);
    expect(err.message).not.toContain(wrong);
  });

  it('private_key_jwt: an assertion signed with the registered key (picked by kid) is accepted', async () => {
    const other = rsa();
    const mine = rsa();
    const { server, discovered } = await demo({
      metadataOverrides: { token_endpoint_auth_methods_supported: ALL_METHODS },
      staticClients: [{ client_id: 'svc', jwks: { keys: [jwk(other.publicKey, 'k1'), jwk(mine.publicKey, 'k2')] } }],
    });
    const clientKey = parseClientKey(pem(mine.privateKey), { source: 'k.pem', keyId: 'k2' });
    const t = await requestClientCredentialsToken(request(discovered, server, auth({ clientId: 'svc', clientKey })));
    expect(t.grant).toBe('client_credentials');
    expect(server.counters.tokenRequests.client_credentials).toBe(1);
  });

  it('private_key_jwt: an assertion signed with another key is refused with invalid_client (AUTH_FAILED)', async () => {
    const registered = rsa();
    const { server, discovered } = await demo({
      metadataOverrides: { token_endpoint_auth_methods_supported: ALL_METHODS },
      staticClients: [{ client_id: 'svc', jwks: { keys: [jwk(registered.publicKey, 'k1')] } }],
    });
    const forged = parseClientKey(pem(rsa().privateKey), { source: 'forged.pem', keyId: 'k1' });
    const err = await refusal(requestClientCredentialsToken(request(discovered, server, auth({ clientId: 'svc', clientKey: forged }))));
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toMatch(/"invalid_client".*--client-key-file.*kid k1/);
    expect(server.counters.tokenRequests.client_credentials).toBe(1);
  });

  it('the demo server refuses a replayed assertion (same jti) and one for another audience', async () => {
    const { privateKey, publicKey } = rsa();
    const { server } = await demo({ staticClients: [{ client_id: 'svc', jwks: { keys: [jwk(publicKey, 'k1')] } }] });
    const key = parseClientKey(pem(privateKey), { source: 'k.pem', keyId: 'k1' });
    const post = (params: URLSearchParams) =>
      fetch(`${server.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: params });
    const params = new URLSearchParams({ grant_type: 'client_credentials' });
    await privateKeyJwtAuth('svc', key)(new Headers(), params, `${server.issuer}/token`, { issuer: server.issuer } as never);
    expect((await post(params)).status).toBe(200);
    const replay = await post(params);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_client');
    const elsewhere = new URLSearchParams({ grant_type: 'client_credentials' });
    await privateKeyJwtAuth('svc', key)(new Headers(), elsewhere, 'https://other.example/token', { issuer: 'https://other.example' } as never);
    const wrongAud = await post(elsewhere);
    expect(wrongAud.status).toBe(401);
    expect(((await wrongAud.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('refuses before sending anything when the server does not advertise private_key_jwt or the algorithm', async () => {
    const { privateKey, publicKey } = rsa();
    const { server, discovered } = await demo({ staticClients: [{ client_id: 'svc', jwks: { keys: [jwk(publicKey, 'k1')] } }] });
    const clientKey = parseClientKey(pem(privateKey), { source: 'k.pem' });
    const err = await refusal(requestClientCredentialsToken(request(discovered, server, auth({ clientId: 'svc', clientKey }))));
    expect(err.message).toMatch(/does not accept private_key_jwt/);
    const withAlgs = {
      ...discovered,
      metadata: { ...discovered.metadata, token_endpoint_auth_methods_supported: ALL_METHODS, token_endpoint_auth_signing_alg_values_supported: ['ES256'] },
    };
    expect((await refusal(requestClientCredentialsToken(request(withAlgs, server, auth({ clientId: 'svc', clientKey }))))).message).toMatch(
      /does not accept RS256/,
    );
    expect(server.counters.tokenRequests.client_credentials).toBe(0);
  });

  it('under the store lock: concurrent logins make one token request; a rejected token is replaced', async () => {
    const { server, discovered } = await demo({ staticClients: [{ client_id: 'svc', client_secret: SECRET }] });
    const store = new CredentialStore(join(dir, 'store'), silentLogger()).server('0123456789abcdef0123456789abcdef');
    const ctx = { ...request(discovered, server, auth({ clientId: 'svc', clientSecret: SECRET })), store, log: silentLogger(), staleAccessToken: undefined };
    const got = await Promise.all([clientCredentialsLogin(ctx), clientCredentialsLogin(ctx), clientCredentialsLogin(ctx)]);
    expect(new Set(got.map((t) => t.access_token)).size).toBe(1);
    expect(server.counters.tokenRequests.client_credentials).toBe(1);
    expect((await store.readTokens())?.grant).toBe('client_credentials');
    const renewed = await clientCredentialsLogin({ ...ctx, staleAccessToken: got[0]!.access_token });
    expect(renewed.access_token).not.toBe(got[0]!.access_token);
    expect(server.counters.tokenRequests.client_credentials).toBe(2);
  });
});

describe('--client-credentials options', () => {
  function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
    let parsed: unknown;
    yargs(argv)
      .command(
        '$0 <server-url>',
        'relay',
        (y) => connectionOptions(y),
        (a) => void (parsed = a),
      )
      .strictOptions()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      })
      .parseSync();
    return toConfig(parsed as ConnectionArgs, env);
  }
  const URL_ = 'https://mcp.example.com/mcp';

  it('takes the secret from env:NAME and the key from a file or env:NAME', async () => {
    const c = parse([URL_, '--client-credentials', '--client-id', 'svc', '--client-secret', 'env:SVC_SECRET'], { SVC_SECRET: SECRET });
    expect(c.auth).toMatchObject({ clientCredentials: true, clientId: 'svc', clientSecret: SECRET });
    const keyPem = pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const file = join(dir, 'key.pem');
    await writeFile(file, keyPem, { mode: 0o600 });
    const k = parse([URL_, '--client-credentials', '--client-id', 'svc', '--client-key-file', file, '--client-key-id', 'k9']);
    expect(k.auth.clientKey).toMatchObject({ alg: 'ES256', keyId: 'k9', source: file });
    expect(parse([URL_, '--client-credentials', '--client-id', 'svc', '--client-key-file', 'env:SVC_KEY'], { SVC_KEY: keyPem }).auth.clientKey?.alg).toBe(
      'ES256',
    );
    expect(parse([URL_]).auth.clientCredentials).toBe(false);
  });

  it.each([
    [['--client-credentials'], /needs the pre-registered client/],
    [['--client-credentials', '--client-id', 'svc'], /needs a credential: --client-secret/],
    [['--client-credentials', '--client-id', 'svc', '--client-secret', 's', '--client-key-file', '/nonexistent.pem'], /not both/],
    [['--client-id', 'svc', '--client-key-file', '/k.pem'], /use it with --client-credentials, --workload-token or --idp-issuer/],
    [['--workload-token', 'env:WT', '--client-key-file', '/k.pem'], /needs the pre-registered client it authenticates/],
    [['--workload-token', 'env:WT', '--client-id', 'svc', '--client-secret', 's', '--client-key-file', '/k.pem'], /not both/],
    [['--workload-token', 'env:WT', '--client-id', 'svc', '--client-key-file', '/nonexistent.pem'], /--client-key-file: cannot read file/],
    [['--client-credentials', '--client-id', 'svc', '--client-key-file', '/nonexistent.pem'], /--client-key-file: cannot read file/],
    [['--client-credentials', '--client-id', 'svc', '--client-secret', 's', '--device-code'], /two different logins/],
    [['--client-credentials', '--client-id', 'svc', '--client-secret', 's', '--client-key-id', 'k'], /need --client-key-file/],
  ])('refuses %j', (argv, message) => {
    let err: unknown;
    try {
      parse([URL_, ...argv]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('BAD_CONFIG');
    expect((err as RelayError).message).toMatch(message);
  });
});
