import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  clientInformation,
  exchangeCode,
  expiresSoon,
  isDeadGrant,
  isExpired,
  REFRESH_MARGIN_MS,
  refreshTokens,
  toStored,
  type TokenCallBase,
} from '../../src/auth/tokens.js';
import { RelayError } from '../../src/errors.js';
import type { StoredClient, StoredTokens } from '../../src/store/store.js';

const NOW = 1_700_000_000_000;

describe('toStored', () => {
  it('turns relative expires_in into an absolute expires_at from the given now', () => {
    const s = toStored({ access_token: 'at', token_type: 'Bearer', expires_in: 3600 }, NOW, {});
    expect(s).toEqual({ access_token: 'at', token_type: 'Bearer', obtained_at: NOW, expires_at: NOW + 3_600_000 });
  });

  it('records no expiry when the response has none', () => {
    const s = toStored({ access_token: 'at', token_type: 'Bearer' }, NOW, {});
    expect(s.expires_at).toBeUndefined();
    expect(isExpired(s, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('expires_in 0 is expired at once', () => {
    const s = toStored({ access_token: 'at', token_type: 'Bearer', expires_in: 0 }, NOW, {});
    expect(s.expires_at).toBe(NOW);
    expect(isExpired(s, NOW)).toBe(true);
  });

  it('keeps the previous refresh token when the response has none (no rotation)', () => {
    const s = toStored({ access_token: 'at2', token_type: 'Bearer' }, NOW, { previousRefreshToken: 'rt1' });
    expect(s.refresh_token).toBe('rt1');
  });

  it('a rotated refresh token replaces the previous one', () => {
    const s = toStored({ access_token: 'at2', token_type: 'Bearer', refresh_token: 'rt2' }, NOW, { previousRefreshToken: 'rt1' });
    expect(s.refresh_token).toBe('rt2');
  });

  it('no refresh token at all leaves the field out', () => {
    expect('refresh_token' in toStored({ access_token: 'at', token_type: 'Bearer' }, NOW, {})).toBe(false);
  });

  it('records scope, issuer and resource', () => {
    const s = toStored({ access_token: 'at', token_type: 'Bearer', scope: 'files:read' }, NOW, {
      issuer: 'https://as.example.com',
      resource: 'https://mcp.example.com/mcp',
    });
    expect(s).toMatchObject({ scope: 'files:read', issuer: 'https://as.example.com', resource: 'https://mcp.example.com/mcp' });
  });
});

describe('expiresSoon and isExpired', () => {
  const hourToken: StoredTokens = { access_token: 'a', token_type: 'Bearer', obtained_at: NOW, expires_at: NOW + 3_600_000 };

  it('isExpired is true from expires_at on', () => {
    expect(isExpired(hourToken, hourToken.expires_at! - 1)).toBe(false);
    expect(isExpired(hourToken, hourToken.expires_at!)).toBe(true);
    expect(isExpired(hourToken, hourToken.expires_at! + 1)).toBe(true);
  });

  it('expiresSoon turns true REFRESH_MARGIN_MS before expiry for a long-lived token', () => {
    expect(expiresSoon(hourToken, NOW)).toBe(false);
    expect(expiresSoon(hourToken, hourToken.expires_at! - REFRESH_MARGIN_MS - 1)).toBe(false);
    expect(expiresSoon(hourToken, hourToken.expires_at! - REFRESH_MARGIN_MS)).toBe(true);
    expect(expiresSoon(hourToken, hourToken.expires_at! + 1)).toBe(true);
  });

  it('expiresSoon honours a custom margin', () => {
    expect(expiresSoon(hourToken, hourToken.expires_at! - 10_001, 10_000)).toBe(false);
    expect(expiresSoon(hourToken, hourToken.expires_at! - 10_000, 10_000)).toBe(true);
  });

  it('a token shorter-lived than the margin is not "expiring" from the moment it is issued', () => {
    const short: StoredTokens = { access_token: 'a', token_type: 'Bearer', obtained_at: NOW, expires_at: NOW + 30_000 };
    expect(expiresSoon(short, NOW)).toBe(false);
    expect(expiresSoon(short, short.expires_at!)).toBe(true);
  });

  it('a token without expires_at never expires and is never refreshed early', () => {
    const forever: StoredTokens = { access_token: 'a', token_type: 'Bearer', obtained_at: NOW };
    expect(expiresSoon(forever, Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(isExpired(forever, Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});

describe('clientInformation and isDeadGrant', () => {
  it('passes the secret and auth method only when present', () => {
    const pub: StoredClient = {
      client_id: 'c1',
      redirect_uris: ['http://127.0.0.1:1/cb'],
      kind: 'dynamic',
      registered_at: NOW,
      token_endpoint_auth_method: 'none',
    };
    expect(clientInformation(pub)).toEqual({ client_id: 'c1', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:1/cb'] });
    const conf: StoredClient = { client_id: 'c2', client_secret: 's', client_secret_expires_at: 0, redirect_uris: [], kind: 'static', registered_at: NOW };
    expect(clientInformation(conf)).toEqual({ client_id: 'c2', client_secret: 's', client_secret_expires_at: 0, redirect_uris: [] });
  });

  it('isDeadGrant is true only for AUTH_GRANT_DEAD', () => {
    expect(isDeadGrant(new RelayError('AUTH_GRANT_DEAD', 'x'))).toBe(true);
    expect(isDeadGrant(new RelayError('AUTH_REQUIRED', 'x'))).toBe(false);
    expect(isDeadGrant(new RelayError('AUTH_FAILED', 'x'))).toBe(false);
    expect(isDeadGrant(new Error('invalid_grant'))).toBe(false);
  });
});

/** A real token endpoint on 127.0.0.1 answering from a script and recording the form bodies it got. */
interface TokenServer {
  url: string;
  forms: URLSearchParams[];
  answers: { status: number; body: unknown }[];
  close(): Promise<void>;
}

async function startTokenServer(): Promise<TokenServer> {
  const forms: URLSearchParams[] = [];
  const answers: { status: number; body: unknown }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      forms.push(new URLSearchParams(body));
      const a = answers.shift() ?? { status: 500, body: { error: 'server_error' } };
      res.writeHead(a.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forms,
    answers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('refreshTokens and exchangeCode against a real token endpoint', () => {
  let as: TokenServer;
  let base: TokenCallBase;
  const current: StoredTokens = {
    access_token: 'at1',
    token_type: 'Bearer',
    refresh_token: 'rt1',
    scope: 'files:read',
    obtained_at: NOW - 3_600_000,
    expires_at: NOW,
  };

  beforeEach(async () => {
    as = await startTokenServer();
    const metadata = {
      issuer: as.url,
      authorization_endpoint: `${as.url}/authorize`,
      token_endpoint: `${as.url}/token`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
    } as AuthorizationServerMetadata;
    base = {
      discovered: { authorizationServerUrl: as.url, metadata },
      client: {
        client_id: 'client-1',
        redirect_uris: ['http://127.0.0.1:5555/callback'],
        kind: 'dynamic',
        registered_at: NOW,
        token_endpoint_auth_method: 'none',
      },
      resource: 'https://mcp.example.com/mcp',
      fetch: (input, init) => fetch(input, init),
      now: () => NOW,
    };
  });
  afterEach(async () => {
    await as.close();
  });

  it('refresh sends the refresh token and the resource, and keeps the old refresh token when none comes back', async () => {
    as.answers.push({ status: 200, body: { access_token: 'at2', token_type: 'Bearer', expires_in: 600 } });
    const s = await refreshTokens(base, current);
    expect(as.forms).toHaveLength(1);
    expect(as.forms[0]!.get('grant_type')).toBe('refresh_token');
    expect(as.forms[0]!.get('refresh_token')).toBe('rt1');
    expect(as.forms[0]!.get('resource')).toBe('https://mcp.example.com/mcp');
    expect(s).toMatchObject({
      access_token: 'at2',
      refresh_token: 'rt1',
      expires_at: NOW + 600_000,
      obtained_at: NOW,
      issuer: as.url,
      resource: 'https://mcp.example.com/mcp',
    });
  });

  it('refresh stores a rotated refresh token', async () => {
    as.answers.push({ status: 200, body: { access_token: 'at2', token_type: 'Bearer', refresh_token: 'rt2' } });
    expect((await refreshTokens(base, current)).refresh_token).toBe('rt2');
  });

  it.each([['invalid_grant'], ['invalid_client'], ['unauthorized_client']])('refresh answered %s is a dead grant (log in again)', async (error) => {
    as.answers.push({ status: 400, body: { error, error_description: 'refresh token revoked' } });
    const err = await refreshTokens(base, current).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('AUTH_GRANT_DEAD');
    expect(isDeadGrant(err)).toBe(true);
    expect((err as RelayError).message).not.toContain('rt1');
  });

  it('a server error on refresh is not a dead grant (keep the tokens, retry later)', async () => {
    as.answers.push({ status: 503, body: { error: 'temporarily_unavailable' } });
    const err = await refreshTokens(base, current).catch((e: unknown) => e);
    expect((err as RelayError).code).toBe('AUTH_FAILED');
    expect(isDeadGrant(err)).toBe(false);
  });

  it('an unreachable token endpoint is not a dead grant', async () => {
    await as.close();
    const err = await refreshTokens(base, current).catch((e: unknown) => e);
    expect((err as RelayError).code).toBe('AUTH_FAILED');
    expect(isDeadGrant(err)).toBe(false);
    as = await startTokenServer(); // afterEach closes it
  });

  it('code exchange sends code, verifier, redirect_uri and resource, and stores an absolute expiry', async () => {
    as.answers.push({ status: 200, body: { access_token: 'at', token_type: 'Bearer', refresh_token: 'rt', expires_in: 3600, scope: 'files:read' } });
    const s = await exchangeCode(base, 'the-code', 'the-verifier', 'http://127.0.0.1:5555/callback');
    const form = as.forms[0]!;
    expect(form.get('grant_type')).toBe('authorization_code');
    expect(form.get('code')).toBe('the-code');
    expect(form.get('code_verifier')).toBe('the-verifier');
    expect(form.get('redirect_uri')).toBe('http://127.0.0.1:5555/callback');
    expect(form.get('resource')).toBe('https://mcp.example.com/mcp');
    expect(s).toEqual({
      access_token: 'at',
      token_type: 'Bearer',
      refresh_token: 'rt',
      scope: 'files:read',
      expires_at: NOW + 3_600_000,
      obtained_at: NOW,
      issuer: as.url,
      resource: 'https://mcp.example.com/mcp',
      grant: 'authorization_code',
    });
  });

  it('a failed code exchange is AUTH_FAILED, even for invalid_grant (a code is single-use; the login failed)', async () => {
    as.answers.push({ status: 400, body: { error: 'invalid_grant' } });
    const err = await exchangeCode(base, 'the-code', 'v', 'http://127.0.0.1:5555/callback').catch((e: unknown) => e);
    expect((err as RelayError).code).toBe('AUTH_FAILED');
    expect((err as RelayError).message).not.toContain('the-code');
  });
});
