/**
 * Regression tests for bugs the unit tests found in src/auth/* (each failed before its fix):
 * a missing authorization_endpoint misreported, registering with an auth method the relay cannot
 * perform, and a refresh response without scope dropping the granted scope.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateAuthorizationServerMetadata } from '../../src/auth/discovery.js';
import { chooseAuthMethod } from '../../src/auth/registration.js';
import { refreshTokens, type TokenCallBase } from '../../src/auth/tokens.js';
import { RelayError } from '../../src/errors.js';

describe('discovery: a missing authorization_endpoint', () => {
  // Fix: in validateAuthorizationServerMetadata, call
  // assertSafeEndpoint(metadata.authorization_endpoint, 'authorization_endpoint', allowHttp) before
  // the assertSafeBrowserUrl try-block, so absence is DISCOVERY_FAILED "... is missing".
  it('is DISCOVERY_FAILED saying the field is missing, not UNSAFE_URL "it is empty"', () => {
    const metadata = {
      issuer: 'https://as.example.com',
      token_endpoint: 'https://as.example.com/token',
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
    } as unknown as AuthorizationServerMetadata;
    let err: unknown;
    try {
      validateAuthorizationServerMetadata(metadata, 'https://as.example.com', false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('DISCOVERY_FAILED');
    expect((err as RelayError).message).toMatch(/"authorization_endpoint".*missing/);
  });
});

describe('registration: an authorization server offering only methods the relay cannot perform', () => {
  // The SDK authenticates to the token endpoint with client_secret_basic, client_secret_post or
  // none only. Registering as private_key_jwt / tls_client_auth succeeds, then every token request
  // fails with invalid_client. Fix: end chooseAuthMethod with `return 'none';` instead of
  // `return list[0] ?? 'none';`, so the server refuses the registration clearly (RFC 7591 §3.2.2
  // invalid_client_metadata) or accepts a public PKCE client.
  it.each([[['private_key_jwt']], [['tls_client_auth', 'private_key_jwt']]])('does not register as %j', (methods) => {
    expect(['none', 'client_secret_basic', 'client_secret_post']).toContain(chooseAuthMethod(methods));
  });
});

describe('tokens: a refresh response without scope', () => {
  // RFC 6749 §5.1 / §6: a token response omits scope when it is unchanged. toStored drops the
  // stored scope then, and the coordinator's step-up (union of previous.scope and the challenge's)
  // loses what was granted before. Fix: toStored's `extra` gains `previousScope`,
  // `const scope = t.scope ?? extra.previousScope; if (scope) out.scope = scope;`, and
  // refreshTokens passes `previousScope: current.scope` (exchangeCode could pass the requested scope).
  let server: Server;
  let url: string;
  beforeEach(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: 'at2', token_type: 'Bearer', expires_in: 600 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('keeps the scope that was granted before', async () => {
    const base: TokenCallBase = {
      discovered: {
        authorizationServerUrl: url,
        metadata: {
          issuer: url,
          authorization_endpoint: `${url}/authorize`,
          token_endpoint: `${url}/token`,
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
        } as AuthorizationServerMetadata,
      },
      client: { client_id: 'c', redirect_uris: ['http://127.0.0.1:1/cb'], kind: 'dynamic', registered_at: 0, token_endpoint_auth_method: 'none' },
      resource: 'https://mcp.example.com/mcp',
      fetch: (input, init) => fetch(input, init),
      now: () => 1_000,
    };
    const refreshed = await refreshTokens(base, {
      access_token: 'at1',
      token_type: 'Bearer',
      refresh_token: 'rt1',
      scope: 'files:read files:write',
      obtained_at: 0,
      expires_at: 1_000,
    });
    expect(refreshed.access_token).toBe('at2');
    expect(refreshed.scope).toBe('files:read files:write');
  });
});
