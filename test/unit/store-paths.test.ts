import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRelayError } from '../../src/errors.js';
import { canonicalUrl, defaultStoreRoot, SERVER_KEY_PATTERN, serverKey } from '../../src/store/paths.js';

describe('defaultStoreRoot', () => {
  it('uses MCP_RELAY_HOME when set', () => {
    expect(defaultStoreRoot({ MCP_RELAY_HOME: '/tmp/relay-home' })).toBe('/tmp/relay-home');
  });

  it('falls back to the platform config dir named mcp-relay (no -nodejs suffix) when unset or empty', () => {
    expect(basename(defaultStoreRoot({}))).toBe('mcp-relay');
    expect(defaultStoreRoot({ MCP_RELAY_HOME: '' })).toBe(defaultStoreRoot({}));
  });
});

describe('canonicalUrl', () => {
  it('lower-cases scheme and host, drops default port and fragment, keeps path and query as given', () => {
    expect(canonicalUrl('HTTPS://MCP.Example.COM:443/Mcp/?a=B#frag')).toBe('https://mcp.example.com/Mcp/?a=B');
    expect(canonicalUrl('http://localhost:80/mcp')).toBe('http://localhost/mcp');
    expect(canonicalUrl('http://localhost:8080/mcp')).toBe('http://localhost:8080/mcp');
  });
});

describe('serverKey', () => {
  const base = 'https://mcp.example.com/mcp';

  it('is the documented hash, stable across versions (directory names on disk depend on it)', () => {
    expect(serverKey({ serverUrl: base })).toBe('6a4aa8d0ba1855e44cdd36ae30e111f8');
    const documented = JSON.stringify({ url: base, resource: 'https://mcp.example.com/', clientId: 'abc' });
    expect(serverKey({ serverUrl: base, resource: 'https://MCP.example.com', clientId: 'abc' })).toBe(
      createHash('sha256').update(documented).digest('hex').slice(0, 32),
    );
    expect(serverKey({ serverUrl: base })).toMatch(SERVER_KEY_PATTERN);
  });

  it('ignores case of scheme and host, the default port and the fragment', () => {
    const key = serverKey({ serverUrl: base });
    expect(serverKey({ serverUrl: 'HTTPS://MCP.EXAMPLE.com:443/mcp#section' })).toBe(key);
    expect(serverKey({ serverUrl: 'http://127.0.0.1:80/mcp' })).toBe(serverKey({ serverUrl: 'http://127.0.0.1/mcp' }));
  });

  it('tells apart what is a different server: path case, trailing slash, port, query, scheme', () => {
    const keys = [base, 'https://mcp.example.com/MCP', `${base}/`, 'https://mcp.example.com:8443/mcp', `${base}?tenant=a`, 'http://mcp.example.com/mcp'].map(
      (serverUrl) => serverKey({ serverUrl }),
    );
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('gives separate credentials for a different resource or static client id; empty means unset', () => {
    const plain = serverKey({ serverUrl: base });
    const withResource = serverKey({ serverUrl: base, resource: 'https://mcp.example.com/' });
    const withClient = serverKey({ serverUrl: base, clientId: 'static-client' });
    expect(new Set([plain, withResource, withClient]).size).toBe(3);
    expect(serverKey({ serverUrl: base, clientId: 'other-client' })).not.toBe(withClient);
    expect(serverKey({ serverUrl: base, resource: '', clientId: '' })).toBe(plain);
    expect(serverKey({ serverUrl: base, resource: 'HTTPS://mcp.example.com:443/' })).toBe(withResource);
  });

  it('refuses something that is not an absolute URL with BAD_CONFIG', () => {
    let err: unknown;
    try {
      serverKey({ serverUrl: 'mcp.example.com/mcp' });
    } catch (e) {
      err = e;
    }
    expect(isRelayError(err, 'BAD_CONFIG')).toBe(true);
  });
});
