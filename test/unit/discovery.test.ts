import type { AuthorizationServerMetadata, OAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { describe, expect, it } from 'vitest';
import { assertSafeEndpoint, legacyDefaultMetadata, validateAuthorizationServerMetadata, validateResourceMetadata } from '../../src/auth/discovery.js';
import { RelayError, type RelayErrorCode } from '../../src/errors.js';

const ISSUER = 'https://as.example.com';

function metadata(overrides: Record<string, unknown> = {}): AuthorizationServerMetadata {
  return {
    issuer: ISSUER,
    authorization_endpoint: 'https://as.example.com/oauth2/authorize',
    token_endpoint: 'https://as.example.com/oauth2/token',
    registration_endpoint: 'https://as.example.com/oauth2/register',
    revocation_endpoint: 'https://as.example.com/oauth2/revoke',
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic'],
    ...overrides,
  } as AuthorizationServerMetadata;
}

function thrown(fn: () => unknown, code: RelayErrorCode): RelayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe(code);
    return err as RelayError;
  }
  throw new Error(`expected a RelayError ${code}, nothing was thrown`);
}

describe('validateAuthorizationServerMetadata', () => {
  it('passes well-formed metadata through unchanged', () => {
    const m = metadata();
    expect(validateAuthorizationServerMetadata(m, ISSUER, false)).toBe(m);
  });

  it('accepts loopback http endpoints (a local authorization server)', () => {
    const local = 'http://127.0.0.1:9000';
    const m = metadata({
      issuer: local,
      authorization_endpoint: `${local}/authorize`,
      token_endpoint: `${local}/token`,
      registration_endpoint: `${local}/register`,
      revocation_endpoint: undefined,
    });
    expect(validateAuthorizationServerMetadata(m, local, false)).toBe(m);
  });

  it('accepts an authorization_endpoint with a query string (RFC 8414 §2 allows one)', () => {
    const m = metadata({ authorization_endpoint: 'https://as.example.com/authorize?tenant=a&x=1' });
    expect(validateAuthorizationServerMetadata(m, ISSUER, false)).toBe(m);
  });

  it('refuses an issuer that differs from the one fetched, naming both (RFC 8414 §3.3)', () => {
    const err = thrown(() => validateAuthorizationServerMetadata(metadata({ issuer: 'https://evil.example' }), ISSUER, false), 'DISCOVERY_FAILED');
    expect(err.message).toContain('"issuer"');
    expect(err.message).toContain(ISSUER);
    expect(err.message).toContain('https://evil.example');
  });

  it.each([['https://as.example.com/tenant-b'], ['http://as.example.com'], ['https://as.example.com:8443'], ['not a url']])(
    'refuses issuer %s for https://as.example.com',
    (issuer) => {
      thrown(() => validateAuthorizationServerMetadata(metadata({ issuer }), ISSUER, true), 'DISCOVERY_FAILED');
    },
  );

  it('refuses metadata without code_challenge_methods_supported (MCP 2025-11-25: MUST refuse)', () => {
    const err = thrown(() => validateAuthorizationServerMetadata(metadata({ code_challenge_methods_supported: undefined }), ISSUER, false), 'DISCOVERY_FAILED');
    expect(err.message).toContain('code_challenge_methods_supported');
    expect(err.message).toContain('S256');
  });

  it.each([[[]], [['plain']], [['s256']]])('refuses code_challenge_methods_supported %j (no S256)', (methods) => {
    thrown(() => validateAuthorizationServerMetadata(metadata({ code_challenge_methods_supported: methods }), ISSUER, false), 'DISCOVERY_FAILED');
  });

  it('does not demand PKCE for the client credentials grant (no authorization request)', () => {
    const m = metadata({ code_challenge_methods_supported: undefined });
    expect(validateAuthorizationServerMetadata(m, ISSUER, false, false)).toBe(m);
  });

  it('accepts S256 among other methods', () => {
    expect(() => validateAuthorizationServerMetadata(metadata({ code_challenge_methods_supported: ['plain', 'S256'] }), ISSUER, false)).not.toThrow();
  });

  it.each([
    ['file:///etc/passwd'],
    ['javascript:alert(document.cookie)'],
    ['javascript://as.example.com/%0aalert(1)'],
    ['data:text/html,<script>alert(1)</script>'],
    ['vbscript:msgbox(1)'],
    ['http://as.example.com/authorize'],
    ['https://as.example.com/authorize?x=$(touch /tmp/pwned)'],
    ['https://as.example.com/authorize?x=`id`'],
    ['https://as.example.com/authorize;calc.exe'],
    ['https://as.example.com/authorize|whoami'],
    ['https://as.example.com/a&calc.exe'],
    ['https://as.example.com/authorize?x="y"'],
    ['https://as.example.com/authorize x'],
    ['https://user:pw@as.example.com/authorize'],
  ])('refuses authorization_endpoint %s with UNSAFE_URL', (endpoint) => {
    const err = thrown(() => validateAuthorizationServerMetadata(metadata({ authorization_endpoint: endpoint }), ISSUER, false), 'UNSAFE_URL');
    expect(err.message.length).toBeGreaterThan(0);
  });

  it('--allow-http lets an http authorization_endpoint through, but never file: or javascript:', () => {
    expect(() => validateAuthorizationServerMetadata(metadata({ authorization_endpoint: 'http://as.example.com/authorize' }), ISSUER, true)).not.toThrow();
    thrown(() => validateAuthorizationServerMetadata(metadata({ authorization_endpoint: 'file:///etc/passwd' }), ISSUER, true), 'UNSAFE_URL');
    thrown(() => validateAuthorizationServerMetadata(metadata({ authorization_endpoint: 'javascript:alert' }), ISSUER, true), 'UNSAFE_URL');
  });

  it.each([['http://as.example.com/token'], ['ftp://as.example.com/token'], ['file:///tmp/token'], ['https://u:p@as.example.com/token']])(
    'refuses token_endpoint %s with UNSAFE_URL naming the field',
    (endpoint) => {
      const err = thrown(() => validateAuthorizationServerMetadata(metadata({ token_endpoint: endpoint }), ISSUER, false), 'UNSAFE_URL');
      expect(err.message).toContain('token_endpoint');
    },
  );

  it('a missing token_endpoint is DISCOVERY_FAILED naming the field', () => {
    const err = thrown(() => validateAuthorizationServerMetadata(metadata({ token_endpoint: undefined }), ISSUER, false), 'DISCOVERY_FAILED');
    expect(err.message).toContain('token_endpoint');
  });

  it.each([['registration_endpoint'], ['revocation_endpoint'], ['device_authorization_endpoint']])('refuses a plain-http %s', (field) => {
    const err = thrown(() => validateAuthorizationServerMetadata(metadata({ [field]: 'http://as.example.com/x' }), ISSUER, false), 'UNSAFE_URL');
    expect(err.message).toContain(field);
  });

  it('optional endpoints may be absent', () => {
    expect(() =>
      validateAuthorizationServerMetadata(metadata({ registration_endpoint: undefined, revocation_endpoint: undefined }), ISSUER, false),
    ).not.toThrow();
  });
});

describe('validateResourceMetadata', () => {
  const server = new URL('https://mcp.example.com/mcp');
  const prm = (resource: string): OAuthProtectedResourceMetadata => ({ resource, authorization_servers: [ISSUER] });

  it.each([
    ['https://mcp.example.com/mcp'],
    ['https://mcp.example.com/mcp/'],
    ['https://mcp.example.com'],
    ['https://mcp.example.com/'],
    ['https://MCP.example.com:443/mcp'],
  ])('accepts %s for https://mcp.example.com/mcp (same origin, path prefix)', (resource) => {
    const m = prm(resource);
    expect(validateResourceMetadata(m, server)).toBe(m);
  });

  it('accepts a parent path for a deeper server path', () => {
    expect(() => validateResourceMetadata(prm('https://mcp.example.com/tenant'), new URL('https://mcp.example.com/tenant/mcp'))).not.toThrow();
  });

  it.each([
    ['https://evil.example/mcp'],
    ['https://mcp.example.com.evil.example/mcp'],
    ['http://mcp.example.com/mcp'],
    ['https://mcp.example.com:8443/mcp'],
    ['https://api.mcp.example.com/mcp'],
    ['https://mcp.example.com/mcp/v2'],
    ['https://mcp.example.com/other'],
    ['https://mcp.example.com/mc'],
  ])('refuses %s for https://mcp.example.com/mcp, naming both', (resource) => {
    const err = thrown(() => validateResourceMetadata(prm(resource), server), 'DISCOVERY_FAILED');
    expect(err.message).toContain(resource);
    expect(err.message).toContain(server.href);
  });

  it('refuses a resource that is not a URL', () => {
    thrown(() => validateResourceMetadata(prm('mcp'), server), 'DISCOVERY_FAILED');
    thrown(() => validateResourceMetadata({ authorization_servers: [ISSUER] } as unknown as OAuthProtectedResourceMetadata, server), 'DISCOVERY_FAILED');
  });
});

describe('assertSafeEndpoint', () => {
  it('returns the normalised href of an https URL', () => {
    expect(assertSafeEndpoint('https://AS.example.com:443/token', 'token_endpoint', false)).toBe('https://as.example.com/token');
  });

  it.each([['http://127.0.0.1:9000/token'], ['http://localhost:9000/token'], ['http://[::1]:9000/token']])('accepts loopback http %s', (raw) => {
    expect(assertSafeEndpoint(raw, 'token_endpoint', false)).toBe(raw);
  });

  it('accepts http anywhere with allowHttp', () => {
    expect(assertSafeEndpoint('http://as.example.com/token', 'token_endpoint', true)).toBe('http://as.example.com/token');
  });

  it.each([
    ['http://as.example.com/token', false],
    ['ftp://as.example.com/token', true],
    ['file:///etc/passwd', true],
    ['javascript:alert(1)', true],
    ['data:,x', true],
    ['https://user:pw@as.example.com/token', false],
  ] as const)('refuses %s (allowHttp %s) with UNSAFE_URL naming the field', (raw, allowHttp) => {
    const err = thrown(() => assertSafeEndpoint(raw, 'token_endpoint', allowHttp), 'UNSAFE_URL');
    expect(err.message).toContain('"token_endpoint"');
    expect(err.message).not.toContain('pw@');
  });

  it('an unparsable URL is UNSAFE_URL, a missing one DISCOVERY_FAILED', () => {
    thrown(() => assertSafeEndpoint('::not a url::', 'token_endpoint', false), 'UNSAFE_URL');
    thrown(() => assertSafeEndpoint(undefined, 'token_endpoint', false), 'DISCOVERY_FAILED');
    thrown(() => assertSafeEndpoint(42, 'token_endpoint', false), 'DISCOVERY_FAILED');
  });
});

describe('legacyDefaultMetadata (MCP 2025-03-26 §2.3.3 fallback)', () => {
  it('puts /authorize, /token and /register at the origin, keeps PKCE S256, promises no iss, and passes validation', () => {
    const m = legacyDefaultMetadata('http://127.0.0.1:9000/some/path');
    expect(m).toMatchObject({
      issuer: 'http://127.0.0.1:9000',
      authorization_endpoint: 'http://127.0.0.1:9000/authorize',
      token_endpoint: 'http://127.0.0.1:9000/token',
      registration_endpoint: 'http://127.0.0.1:9000/register',
    });
    expect(m.code_challenge_methods_supported).toEqual(['S256']);
    expect('authorization_response_iss_parameter_supported' in m).toBe(false);
    expect(validateAuthorizationServerMetadata(m, 'http://127.0.0.1:9000', false)).toBe(m);
  });
});
