/**
 * NO_PROXY as curl reads it (hosts and subdomains, leading dot or `*.`, ports, IP literals, CIDR
 * blocks, `*`), the table from curl's documentation of CURLOPT_NOPROXY and --noproxy.
 */
import { describe, expect, it } from 'vitest';
import { noProxyMatcher } from '../../src/http/no-proxy.js';

const cases: Array<[string, string, boolean]> = [
  ['example.com', 'https://example.com/mcp', true],
  ['example.com', 'https://api.example.com/mcp', true],
  ['example.com', 'https://notexample.com/mcp', false],
  ['.example.com', 'https://api.example.com/mcp', true],
  ['.example.com', 'https://example.com/mcp', true],
  ['*.example.com', 'https://deep.api.example.com/mcp', true],
  ['example.com:8443', 'https://example.com:8443/mcp', true],
  ['example.com:8443', 'https://example.com/mcp', false],
  ['example.com:443', 'https://example.com/mcp', true],
  ['10.0.0.0/8', 'http://10.20.30.40:8080/mcp', true],
  ['10.0.0.0/8', 'http://11.0.0.1/mcp', false],
  ['10.0.0.0/8', 'http://ten.example/mcp', false],
  ['192.168.1.5', 'http://192.168.1.5/mcp', true],
  ['fd00::/8', 'http://[fd12::1]:3000/mcp', true],
  ['::1', 'http://[::1]:3000/mcp', true],
  ['[::1]:3000', 'http://[::1]:3000/mcp', true],
  ['[::1]:3000', 'http://[::1]:3001/mcp', false],
  ['*', 'https://anything.example/mcp', true],
  ['localhost, 127.0.0.1  internal.corp', 'https://svc.internal.corp/mcp', true],
  ['EXAMPLE.com', 'https://Example.COM/mcp', true],
  ['', 'https://example.com/mcp', false],
];

describe('noProxyMatcher', () => {
  it.each(cases)('NO_PROXY=%j, %s → bypass %s', (value, url, bypass) => {
    expect(noProxyMatcher(value)(new URL(url))).toBe(bypass);
  });
});
