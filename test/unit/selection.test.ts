import { describe, expect, it } from 'vitest';
import { selectResource, selectScope } from '../../src/auth/selection.js';
import type { Config } from '../../src/config/config.js';
import type { Discovered } from '../../src/auth/discovery.js';

const d = (resource?: string, scopes?: string[]) =>
  ({
    authorizationServerUrl: 'https://as',
    metadata: {},
    resourceMetadata: resource ? { resource, scopes_supported: scopes } : undefined,
  }) as unknown as Discovered;
const config = (auth: Partial<Config['auth']> = {}) =>
  ({ serverUrl: new URL('https://mcp.example.com/mcp'), auth: { omitResource: false, ...auth } }) as unknown as Config;

describe('selectScope (MCP 2025-11-25 scope selection)', () => {
  it('challenge scope, else scopes_supported, else none; never invented', () => {
    expect(selectScope({ challenge: 'a b', supported: ['x'] })).toBe('a b');
    expect(selectScope({ supported: ['x', 'y'] })).toBe('x y');
    expect(selectScope({})).toBeUndefined();
  });
  it('--scope wins', () => {
    expect(selectScope({ configured: 'mine', challenge: 'a' })).toBe('mine');
  });
  it('step-up asks for the union of the previous and the challenged scopes', () => {
    expect(selectScope({ previous: 'a b', challenge: 'b c' })!.split(' ').sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('selectResource (RFC 8707)', () => {
  it('--resource, else the metadata resource, else the server URL; omitted on request', () => {
    expect(selectResource(config({ resource: 'https://r' }), d('https://mcp.example.com/'))).toBe('https://r');
    expect(selectResource(config(), d('https://mcp.example.com/'))).toBe('https://mcp.example.com/');
    expect(selectResource(config(), d())).toBe('https://mcp.example.com/mcp');
    expect(selectResource(config({ omitResource: true }), d())).toBeUndefined();
  });
});
