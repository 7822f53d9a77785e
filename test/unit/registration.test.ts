import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseAuthMethod, CLIENT_NAME, obtainClient, staticClient, type ObtainClientOptions } from '../../src/auth/registration.js';
import type { AuthOptions } from '../../src/config/config.js';
import { RelayError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { serverKey } from '../../src/store/paths.js';
import { CredentialStore, type ServerStore } from '../../src/store/store.js';

const NOW = 1_700_000_000_000;
const REDIRECT = 'http://127.0.0.1:33418/callback';

function authOptions(overrides: Partial<AuthOptions> = {}): AuthOptions {
  return {
    omitResource: false,
    callbackHost: '127.0.0.1',
    authTimeoutMs: 300_000,
    loginWaitMs: 10_000,
    noBrowser: false,
    ...overrides,
  } as AuthOptions;
}

describe('chooseAuthMethod', () => {
  it('prefers none (a public client with PKCE has no secret to leak)', () => {
    expect(chooseAuthMethod(['client_secret_basic', 'client_secret_post', 'none'])).toBe('none');
  });

  it('an absent list means client_secret_basic (RFC 8414 §2 default)', () => {
    expect(chooseAuthMethod(undefined)).toBe('client_secret_basic');
  });

  it('prefers basic over post', () => {
    expect(chooseAuthMethod(['client_secret_post', 'client_secret_basic'])).toBe('client_secret_basic');
  });

  it('post when it is the only one offered', () => {
    expect(chooseAuthMethod(['client_secret_post'])).toBe('client_secret_post');
    expect(chooseAuthMethod(['private_key_jwt', 'client_secret_post'])).toBe('client_secret_post');
  });

  it('an empty list falls back to none', () => {
    expect(chooseAuthMethod([])).toBe('none');
  });
});

describe('staticClient', () => {
  it('is undefined when no static client was given', () => {
    expect(staticClient(authOptions(), REDIRECT, NOW)).toBeUndefined();
  });

  it('--client-id alone: a public static client with our redirect URI', () => {
    expect(staticClient(authOptions({ clientId: 'cid' }), REDIRECT, NOW)).toEqual({
      client_id: 'cid',
      redirect_uris: [REDIRECT],
      kind: 'static',
      registered_at: NOW,
    });
  });

  it('--client-id with --client-secret', () => {
    expect(staticClient(authOptions({ clientId: 'cid', clientSecret: 'shh' }), REDIRECT, NOW)).toEqual({
      client_id: 'cid',
      client_secret: 'shh',
      redirect_uris: [REDIRECT],
      kind: 'static',
      registered_at: NOW,
    });
  });

  it('--client-info keeps every field, fills redirect_uris, and is always kind static', () => {
    const info = { client_id: 'cid', client_secret: 'shh', token_endpoint_auth_method: 'client_secret_post', kind: 'dynamic', extra: 1 };
    expect(staticClient(authOptions({ clientInfo: info }), REDIRECT, NOW)).toEqual({
      client_id: 'cid',
      client_secret: 'shh',
      token_endpoint_auth_method: 'client_secret_post',
      extra: 1,
      redirect_uris: [REDIRECT],
      kind: 'static',
      registered_at: NOW,
    });
  });

  it('--client-info with its own redirect_uris keeps them', () => {
    const c = staticClient(authOptions({ clientInfo: { client_id: 'cid', redirect_uris: ['http://127.0.0.1:9999/cb'] } }), REDIRECT, NOW);
    expect(c?.redirect_uris).toEqual(['http://127.0.0.1:9999/cb']);
  });

  it('--client-info wins over --client-id', () => {
    expect(staticClient(authOptions({ clientInfo: { client_id: 'from-info' }, clientId: 'from-flag' }), REDIRECT, NOW)?.client_id).toBe('from-info');
  });
});

/** A real RFC 7591 registration endpoint on 127.0.0.1 that records what it was sent. */
interface RegistrationServer {
  url: string;
  requests: Record<string, unknown>[];
  close(): Promise<void>;
}

async function startRegistrationServer(): Promise<RegistrationServer> {
  const requests: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const meta = JSON.parse(body) as Record<string, unknown>;
      requests.push(meta);
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...meta, client_id: `client-${requests.length}`, client_id_issued_at: 1 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('obtainClient', () => {
  let dir: string;
  let as: RegistrationServer;
  let store: ServerStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-relay-registration-'));
    as = await startRegistrationServer();
    store = new CredentialStore(dir, silentLogger()).server(serverKey({ serverUrl: 'https://mcp.example.com/mcp' }));
  });
  afterEach(async () => {
    await as.close();
    await rm(dir, { recursive: true, force: true });
  });

  function options(overrides: Partial<ObtainClientOptions> = {}, meta: Record<string, unknown> = {}): ObtainClientOptions {
    const metadata = {
      issuer: as.url,
      authorization_endpoint: `${as.url}/authorize`,
      token_endpoint: `${as.url}/token`,
      registration_endpoint: `${as.url}/register`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic'],
      ...meta,
    } as AuthorizationServerMetadata;
    return {
      store,
      auth: authOptions(),
      discovered: { authorizationServerUrl: as.url, metadata },
      redirectUri: REDIRECT,
      scope: 'files:read',
      fetch: (input, init) => fetch(input, init),
      log: silentLogger(),
      now: () => NOW,
      ...overrides,
    };
  }

  it('registers once with the chosen auth method and scope, stores the client, and reuses it', async () => {
    const first = await obtainClient(options());
    expect(as.requests).toHaveLength(1);
    expect(as.requests[0]).toMatchObject({
      client_name: CLIENT_NAME,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'files:read',
      application_type: 'native', // MCP 2026-07-28: a CLI with a loopback redirect registers as native
    });
    expect(first).toMatchObject({ client_id: 'client-1', kind: 'dynamic', issuer: as.url, registered_at: NOW });
    expect(await store.readClient()).toMatchObject({ client_id: 'client-1' });

    const again = await obtainClient(options());
    expect(again.client_id).toBe('client-1');
    expect(as.requests).toHaveLength(1);
  });

  it("registers again when the redirect URI is not among the stored registration's", async () => {
    await obtainClient(options());
    const other = await obtainClient(options({ redirectUri: 'http://127.0.0.1:40000/callback' }));
    expect(other.client_id).toBe('client-2');
    expect(as.requests).toHaveLength(2);
  });

  it('a static client is used as is: no registration, nothing stored', async () => {
    const c = await obtainClient(options({ auth: authOptions({ clientId: 'static-id' }) }));
    expect(c).toMatchObject({ client_id: 'static-id', kind: 'static' });
    expect(as.requests).toHaveLength(0);
    expect(await store.readClient()).toBeUndefined();
  });

  it('a client ID metadata document URL is the client when the server supports it', async () => {
    const url = 'https://app.example.com/oauth/client.json';
    const c = await obtainClient(options({ auth: authOptions({ clientMetadataUrl: url }) }, { client_id_metadata_document_supported: true }));
    expect(c).toMatchObject({ client_id: url, kind: 'metadata-document', token_endpoint_auth_method: 'none' });
    expect(as.requests).toHaveLength(0);
  });

  it('falls back to registration when the server does not support metadata documents', async () => {
    const c = await obtainClient(options({ auth: authOptions({ clientMetadataUrl: 'https://app.example.com/oauth/client.json' }) }));
    expect(c.kind).toBe('dynamic');
    expect(as.requests).toHaveLength(1);
  });

  it('a second server of the same issuer reuses the registration (marked reused); one with a wider scope or another redirect URI registers anew', async () => {
    const root = new CredentialStore(dir, silentLogger());
    const other = (url: string) => root.server(serverKey({ serverUrl: url }));
    await obtainClient(options());
    const b = other('https://mcp.example.com/b');
    expect(await obtainClient(options({ store: b }))).toMatchObject({ client_id: 'client-1', reused: true });
    expect(as.requests).toHaveLength(1);
    // RFC 7591 §2: the registration may limit the client to its scope; another server's wider
    // scope does not ride on it.
    expect(await obtainClient(options({ store: other('https://mcp.example.com/c'), scope: 'files:read files:write' }))).toMatchObject({
      client_id: 'client-2',
    });
    // Exact redirect URI match: another callback port is another registration.
    expect(await obtainClient(options({ store: other('https://mcp.example.com/d'), redirectUri: 'http://127.0.0.1:40000/callback' }))).toMatchObject({
      client_id: 'client-3',
    });
    expect(as.requests).toHaveLength(3);
    // A server's own registration serves its own step-up (a wider scope) without registering again.
    expect(await obtainClient(options({ scope: 'files:read files:write' }))).toMatchObject({ client_id: 'client-1' });
    expect(as.requests).toHaveLength(3);
  });

  it('a registration without refresh_token among its granted grant types still serves a code login', async () => {
    await store.writeClient({
      client_id: 'granted',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      kind: 'dynamic',
      issuer: as.url,
      registered_at: NOW,
    });
    expect(await obtainClient(options())).toMatchObject({ client_id: 'granted' });
    expect(as.requests).toHaveLength(0);
  });

  it('without a registration endpoint, says how to pass a client', async () => {
    const err = await obtainClient(options({}, { registration_endpoint: undefined })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('AUTH_FAILED');
    expect((err as RelayError).message).toContain('--client-id');
  });
});
