/**
 * Token endpoint retries by allowlist (src/auth/retry.ts), through the auth coordinator and the
 * client credentials login, against a real token endpoint on 127.0.0.1 that answers from a
 * script and records every request. Waits go through an injected sleep that records what it was
 * asked for and moves a fake clock: the assertions are on request counts, order and the waits
 * asked for, never on elapsed time.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientCredentialsLogin } from '../../src/auth/client-credentials.js';
import { AuthCoordinator } from '../../src/auth/coordinator.js';
import { MAX_RETRY_AFTER_MS, TOKEN_RETRY_ATTEMPTS, withTokenRetry } from '../../src/auth/retry.js';
import { refreshTokens } from '../../src/auth/tokens.js';
import type { AuthOptions, Config } from '../../src/config/config.js';
import { isRelayError, type RelayError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { CredentialStore, type ServerStore, type StoredTokens } from '../../src/store/store.js';

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
  /** Fake milliseconds the server "takes" (added to the test clock when it answers). */
  takesMs?: number;
}

interface TokenServer {
  url: string;
  /** Every request, in order: its form body and Authorization header. */
  seen: Array<{ form: URLSearchParams; authorization: string | undefined }>;
  answers: Answer[];
  close(): Promise<void>;
}

/** The fake clock the relay code reads (its `now`), moved only by the sleep and the server. */
let clock = 0;
/** Waits the code asked for, in order. */
let waits: number[] = [];
const recordingSleep = async (ms: number): Promise<void> => {
  waits.push(ms);
  clock += ms;
};

async function startTokenServer(): Promise<TokenServer> {
  const seen: TokenServer['seen'] = [];
  const answers: Answer[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ form: new URLSearchParams(body), authorization: req.headers.authorization });
      const a = answers.shift() ?? { status: 500, body: { error: 'server_error', error_description: 'script ran out' } };
      clock += a.takesMs ?? 0;
      res.writeHead(a.status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...a.headers });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, answers, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const MCP_URL = 'http://127.0.0.1:9/mcp';
const KEY = '0123456789abcdef0123456789abcdef';
const OK = (access: string) => ({ status: 200, body: { access_token: access, token_type: 'Bearer', expires_in: 3600, refresh_token: `r-${access}` } });

let dir: string;
let as: TokenServer;
let store: ServerStore;

function metadata() {
  return {
    issuer: as.url,
    authorization_endpoint: `${as.url}/authorize`,
    token_endpoint: `${as.url}/token`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_post'],
  };
}

function authOptions(extra: Partial<AuthOptions> = {}): AuthOptions {
  return {
    clientId: 'client-1',
    clientSecret: 'secret-1',
    omitResource: false,
    callbackHost: '127.0.0.1',
    authTimeoutMs: 0,
    loginWaitMs: 10_000,
    noBrowser: true,
    ...extra,
  };
}

function coordinator(): AuthCoordinator {
  const config: Config = {
    serverUrl: new URL(MCP_URL),
    headers: {},
    transport: 'auto',
    allowHttp: false,
    auth: authOptions(),
    requestTimeoutMs: 60_000,
    logLevel: 'silent',
  };
  return new AuthCoordinator({
    config,
    store,
    fetch: (i, init) => fetch(i, init),
    log: silentLogger(),
    opener: async () => {},
    browser: { ok: false, reason: 'test' },
    notify: () => {},
    now: () => clock,
    sleep: recordingSleep,
  });
}

/** Stored tokens whose access token `at1` expired, with refresh token `rt1`, and the metadata cached. */
async function expiredLogin(): Promise<void> {
  await store.writeDiscovery({ authorization_server_url: as.url, authorization_server_metadata: metadata(), fetched_at: clock });
  const t: StoredTokens = {
    access_token: 'at1',
    token_type: 'Bearer',
    refresh_token: 'rt1',
    obtained_at: clock - 3_600_000,
    expires_at: clock - 1_000,
    issuer: as.url,
  };
  await store.writeTokens(t);
}

beforeEach(async () => {
  // Whole seconds, so an HTTP-date Retry-After is exact.
  clock = Math.floor(Date.now() / 1000) * 1000;
  waits = [];
  dir = await mkdtemp(join(tmpdir(), 'mcp-relay-retry-'));
  store = new CredentialStore(join(dir, 'store'), silentLogger()).server(KEY);
  as = await startTokenServer();
});

afterEach(async () => {
  await as.close();
  await rm(dir, { recursive: true, force: true });
});

describe('refresh through the coordinator', () => {
  it('503 + Retry-After: 2, then 200: two refresh requests, one wait of 2 s as the header said, tokens stored', async () => {
    await expiredLogin();
    as.answers.push({ status: 503, headers: { 'retry-after': '2' }, body: { error: 'temporarily_unavailable' } }, OK('at2'));
    await coordinator().unauthorized({ status: 401, challenge: {}, rejected: 'Bearer at1' });
    expect(as.seen.map((r) => [r.form.get('grant_type'), r.form.get('refresh_token')])).toEqual([
      ['refresh_token', 'rt1'],
      ['refresh_token', 'rt1'],
    ]);
    expect(waits).toEqual([2_000]);
    expect((await store.readTokens())?.access_token).toBe('at2');
  });

  it('Retry-After as an HTTP-date is honoured; one past the cap is shortened to MAX_RETRY_AFTER_MS', async () => {
    await expiredLogin();
    as.answers.push(
      { status: 503, headers: { 'retry-after': new Date(clock + 3_000).toUTCString() }, body: { error: 'temporarily_unavailable' } },
      { status: 502, headers: { 'retry-after': '3600' }, body: '<html>bad gateway</html>' },
      OK('at2'),
    );
    await coordinator().unauthorized({ status: 401, challenge: {}, rejected: 'Bearer at1' });
    expect(as.seen).toHaveLength(3);
    expect(waits).toEqual([3_000, MAX_RETRY_AFTER_MS]);
    expect((await store.readTokens())?.access_token).toBe('at2');
  });

  it('a server that stays down: TOKEN_RETRY_ATTEMPTS requests, then AUTH_SERVER_UNAVAILABLE, tokens kept', async () => {
    await expiredLogin();
    for (let i = 0; i < TOKEN_RETRY_ATTEMPTS; i++) as.answers.push({ status: 503, body: { error: 'temporarily_unavailable' } });
    const err = await coordinator()
      .unauthorized({ status: 401, challenge: {}, rejected: 'Bearer at1' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isRelayError(err, 'AUTH_SERVER_UNAVAILABLE')).toBe(true);
    expect(as.seen).toHaveLength(TOKEN_RETRY_ATTEMPTS);
    expect(waits).toEqual([1_000, 2_000]); // no Retry-After: linear backoff
    expect((await store.readTokens())?.refresh_token).toBe('rt1');
  });

  it("never retries past the lock's stale time: a slow server gets fewer attempts", async () => {
    await expiredLogin();
    // Each answer "takes" 3 s; with 4 s waits the second failure ends at 10 s, and one more wait
    // would pass the 10 s stale time of the store lock held meanwhile.
    for (let i = 0; i < TOKEN_RETRY_ATTEMPTS; i++)
      as.answers.push({ status: 503, headers: { 'retry-after': '4' }, body: { error: 'temporarily_unavailable' }, takesMs: 3_000 });
    const err = await coordinator()
      .unauthorized({ status: 401, challenge: {}, rejected: 'Bearer at1' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isRelayError(err, 'AUTH_SERVER_UNAVAILABLE')).toBe(true);
    expect(as.seen).toHaveLength(2);
    expect(waits).toEqual([4_000]);
  });

  it('invalid_grant: one request, no retry, the dead tokens are removed and a login is started', async () => {
    await expiredLogin();
    as.answers.push({ status: 400, body: { error: 'invalid_grant', error_description: 'refresh token revoked' } });
    const err = await coordinator()
      .unauthorized({ status: 401, challenge: {}, rejected: 'Bearer at1' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(as.seen).toHaveLength(1);
    expect(waits).toEqual([]);
    expect(await store.readTokens()).toBeUndefined();
    // The login that follows starts with a fresh discovery, which fails here (no MCP server at
    // MCP_URL): the refresh was not retried and the error is the login's, not the refresh's.
    expect(isRelayError(err, 'DISCOVERY_FAILED')).toBe(true);
  });
});

describe('codes that mean what they say', () => {
  it('a refresh answered invalid_grant is AUTH_GRANT_DEAD after exactly one request', async () => {
    as.answers.push({ status: 400, body: { error: 'invalid_grant' } });
    const client = { client_id: 'client-1', client_secret: 'secret-1', redirect_uris: [], kind: 'static' as const, registered_at: clock };
    const base = {
      discovered: { authorizationServerUrl: as.url, metadata: metadata() as never },
      client,
      resource: MCP_URL,
      fetch: (i: string | URL, init?: RequestInit) => fetch(i, init),
      now: () => clock,
    };
    const current: StoredTokens = { access_token: 'at1', token_type: 'Bearer', refresh_token: 'rt1', obtained_at: clock };
    const err = await withTokenRetry(() => refreshTokens(base, current), { now: () => clock, sleep: recordingSleep }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as RelayError).code).toBe('AUTH_GRANT_DEAD');
    expect(as.seen).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('an error_description that echoes the refresh token or client secret is quoted with them redacted', async () => {
    as.answers.push({ status: 400, body: { error: 'invalid_request', error_description: 'refresh_token rt-5ecret-77 with client secret-1 is odd' } });
    const client = { client_id: 'client-1', client_secret: 'secret-1', redirect_uris: [], kind: 'static' as const, registered_at: clock };
    const base = {
      discovered: { authorizationServerUrl: as.url, metadata: metadata() as never },
      client,
      resource: MCP_URL,
      fetch: (i: string | URL, init?: RequestInit) => fetch(i, init),
      now: () => clock,
    };
    const current: StoredTokens = { access_token: 'at1', token_type: 'Bearer', refresh_token: 'rt-5ecret-77', obtained_at: clock };
    const err = (await refreshTokens(base, current).then(
      () => undefined,
      (e: unknown) => e,
    )) as RelayError;
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toContain('"invalid_request"');
    expect(err.message).toContain('[redacted]');
    expect(err.message).not.toContain('rt-5ecret-77');
    expect(err.message).not.toContain('secret-1');
  });

  it('client credentials answered 400 invalid_client: one request, no retry, AUTH_FAILED naming the flags', async () => {
    as.answers.push({ status: 400, body: { error: 'invalid_client' } });
    const err = await clientCredentialsLogin({
      store,
      log: silentLogger(),
      auth: authOptions({ clientCredentials: true }),
      discovered: { authorizationServerUrl: as.url, metadata: metadata() as never },
      scope: 'mcp:tools',
      resource: MCP_URL,
      fetch: (i, init) => fetch(i, init),
      now: () => clock,
      staleAccessToken: undefined,
      retry: { now: () => clock, sleep: recordingSleep },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as RelayError).code).toBe('AUTH_FAILED');
    expect((err as RelayError).message).toMatch(/"invalid_client".*--client-id/);
    expect(as.seen).toHaveLength(1);
    expect(as.seen[0]!.form.get('client_secret')).toBe('secret-1');
    expect(waits).toEqual([]);
  });

  it('client credentials through a blip (500 then 200): retried once, one token stored', async () => {
    as.answers.push({ status: 500, body: { error: 'server_error' } }, OK('cc1'));
    const t = await clientCredentialsLogin({
      store,
      log: silentLogger(),
      auth: authOptions({ clientCredentials: true }),
      discovered: { authorizationServerUrl: as.url, metadata: metadata() as never },
      scope: 'mcp:tools',
      resource: MCP_URL,
      fetch: (i, init) => fetch(i, init),
      now: () => clock,
      staleAccessToken: undefined,
      retry: { now: () => clock, sleep: recordingSleep },
    });
    expect(t.access_token).toBe('cc1');
    expect(t.refresh_token).toBeUndefined();
    expect(as.seen.map((r) => r.form.get('grant_type'))).toEqual(['client_credentials', 'client_credentials']);
    expect(waits).toEqual([1_000]);
  });
});
