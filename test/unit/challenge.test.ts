import { describe, expect, it } from 'vitest';
import { bearerChallenge, parseChallenges } from '../../src/http/challenge.js';

function bearer(value: string) {
  return bearerChallenge(new Headers({ 'www-authenticate': value }));
}

describe('bearerChallenge', () => {
  it('reads resource_metadata and scope from an MCP server 401 (RFC 9728 §5.1)', () => {
    expect(bearer('Bearer resource_metadata="https://x/.well-known/oauth-protected-resource", scope="a b"')).toEqual({
      resourceMetadata: 'https://x/.well-known/oauth-protected-resource',
      scope: 'a b',
    });
  });

  it('finds the Bearer challenge after a Basic one (403 insufficient_scope step-up)', () => {
    expect(bearer('Basic realm="x", Bearer error="insufficient_scope", scope="files:read files:write"')).toEqual({
      error: 'insufficient_scope',
      scope: 'files:read files:write',
    });
  });

  it('finds the Bearer challenge before another one, without taking its parameters', () => {
    expect(bearer('Bearer scope="mcp", Basic realm="other", scope="wrong"')).toEqual({ scope: 'mcp' });
  });

  it('keeps commas and escaped quotes inside quoted strings (RFC 9110 §5.6.4)', () => {
    expect(bearer('Bearer realm="a, b", error="invalid_token", error_description="token \\"abc\\" expired, log in again", scope="x,y"')).toEqual({
      error: 'invalid_token',
      errorDescription: 'token "abc" expired, log in again',
      scope: 'x,y',
    });
  });

  it('an escaped backslash before the closing quote ends the string', () => {
    expect(bearer('Bearer error_description="ends with \\\\", scope="s"')).toEqual({ errorDescription: 'ends with \\', scope: 's' });
  });

  it('reads unquoted (token) values, including URLs with "=" in the query', () => {
    expect(bearer('Bearer error=invalid_token, resource_metadata=https://x.example/prm?a=b')).toEqual({
      error: 'invalid_token',
      resourceMetadata: 'https://x.example/prm?a=b',
    });
  });

  it('is case-insensitive for the scheme and parameter names', () => {
    expect(bearer('bearer Scope="s1", RESOURCE_METADATA="https://x/prm"')).toEqual({ scope: 's1', resourceMetadata: 'https://x/prm' });
    expect(bearer('BEARER error="invalid_token"')).toEqual({ error: 'invalid_token' });
  });

  it('allows whitespace around "=" (RFC 9110 BWS) and tabs between parameters', () => {
    expect(bearer('Bearer scope = "a b" ,\terror =invalid_token')).toEqual({ scope: 'a b', error: 'invalid_token' });
  });

  it('finds Bearer after a token68 challenge (Negotiate abc==)', () => {
    expect(bearer('Negotiate abc==, Bearer scope="s"')).toEqual({ scope: 's' });
    expect(bearer('Basic dXNlcjpwYXNz, Bearer resource_metadata="https://x/prm"')).toEqual({ resourceMetadata: 'https://x/prm' });
    expect(bearer('Negotiate a/b+c==, Bearer scope="s"')).toEqual({ scope: 's' });
  });

  it('two WWW-Authenticate headers are combined into one value', () => {
    const h = new Headers();
    h.append('www-authenticate', 'Basic realm="x"');
    h.append('www-authenticate', 'Bearer scope="s", resource_metadata="https://x/prm"');
    expect(bearerChallenge(h)).toEqual({ scope: 's', resourceMetadata: 'https://x/prm' });
  });

  it('a bare Bearer with no parameters gives no fields', () => {
    expect(bearer('Bearer')).toEqual({});
    expect(bearer('Bearer realm="example"')).toEqual({});
  });

  it('no header, no Bearer challenge, or garbage gives {} without throwing', () => {
    expect(bearerChallenge(new Headers())).toEqual({});
    const junk = [
      '',
      ' ',
      ',,,',
      'Basic realm="x"',
      '"',
      '=',
      '===',
      'Bearer "unterminated',
      'Bearer scope="unterminated',
      'Bearer scope=',
      'Bearer =x, ="y"',
      '\\\\\\',
      'Bearer , , scope',
      '()<>@,;:\\"/[]?={}',
      'Bearer\tscope="tab-separated"',
      'x'.repeat(10_000),
    ];
    for (const value of junk) {
      expect(() => bearer(value)).not.toThrow();
    }
    expect(bearer('Bearer "unterminated')).toEqual({});
    expect(bearer('Basic realm="x"')).toEqual({});
  });

  it("never throws or hangs on random headers built from the grammar's special characters", () => {
    const alphabet = ['Bearer', 'Basic', ' ', '\t', ',', '=', '"', '\\', 'scope', 'a', '/', '+', '==', 'resource_metadata'];
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let round = 0; round < 3000; round++) {
      let value = '';
      const parts = 1 + (next() % 20);
      for (let k = 0; k < parts; k++) value += alphabet[next() % alphabet.length];
      expect(() => parseChallenges(value)).not.toThrow();
    }
  });

  it('an unterminated quoted value is taken to the end of the header', () => {
    expect(bearer('Bearer scope="a b')).toEqual({ scope: 'a b' });
  });

  it('a scheme named in a quoted value is not a challenge', () => {
    expect(bearer('Basic realm="Bearer scope=evil"')).toEqual({});
  });

  it('a parameter named like an Object.prototype key does not leak into the result', () => {
    expect(bearer('Bearer __proto__="x", constructor="y", toString="z"')).toEqual({});
    const [c] = parseChallenges('Bearer __proto__="x"');
    expect(Object.getPrototypeOf(c!.params)).toBeNull();
  });
});

describe('parseChallenges', () => {
  it('returns every challenge with lower-cased scheme and parameter names', () => {
    expect(parseChallenges('Basic realm="x", Bearer error="insufficient_scope", Scope="files:read files:write"')).toEqual([
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { error: 'insufficient_scope', scope: 'files:read files:write' } },
    ]);
  });

  it('keeps a token68 as token68, not as a parameter or a separate challenge', () => {
    expect(parseChallenges('Negotiate abc==, Basic dXNlcjpwYXNz, Bearer scope="s"')).toEqual([
      { scheme: 'negotiate', params: {}, token68: 'abc==' },
      { scheme: 'basic', params: {}, token68: 'dXNlcjpwYXNz' },
      { scheme: 'bearer', params: { scope: 's' } },
    ]);
  });

  it('a token68 made of base64 characters stays whole', () => {
    expect(parseChallenges('Negotiate a/b+c.d~e_f-g==')).toEqual([{ scheme: 'negotiate', params: {}, token68: 'a/b+c.d~e_f-g==' }]);
  });

  it('empty list elements between challenges are skipped (RFC 9110 §5.6.1)', () => {
    expect(parseChallenges(', Basic realm="x" , , Bearer')).toEqual([
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: {} },
    ]);
  });
});
