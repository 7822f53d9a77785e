import { describe, expect, it } from 'vitest';
import { loginCommand, startedThroughNpx } from '../../src/config/launch.js';
import { checkPasted, parsePasted } from '../../src/auth/paste.js';
import type { PendingLogin } from '../../src/store/store.js';

const plain = { argv: ['/usr/bin/node', '/usr/local/lib/node_modules/mcp-relay/bin/mcp-relay.js'], env: {} };

describe('loginCommand', () => {
  it('names mcp-relay, or npx -y mcp-relay when started through npx', () => {
    expect(loginCommand('https://example.com/mcp', {}, plain)).toBe('mcp-relay login https://example.com/mcp');
    expect(startedThroughNpx({ argv: ['node', '/home/u/.npm/_npx/5a1b/node_modules/.bin/mcp-relay'], env: {} })).toBe(true);
    expect(startedThroughNpx({ argv: plain.argv, env: { npm_command: 'exec' } })).toBe(true);
    expect(startedThroughNpx({ argv: plain.argv, env: { npm_lifecycle_event: 'npx' } })).toBe(true);
    expect(startedThroughNpx({ argv: plain.argv, env: { npm_command: 'run-script' } })).toBe(false);
  });

  it('quotes a URL the shell would split, and keeps the options that are part of the store key', () => {
    expect(loginCommand("https://example.com/mcp?a=1&b=it's", { resource: 'https://example.com/', clientId: 'abc' }, plain)).toBe(
      "mcp-relay login 'https://example.com/mcp?a=1&b=it'\\''s' --resource https://example.com/ --client-id abc",
    );
  });
});

describe('paste', () => {
  const pending = { state: 'S', redirect_uri: 'http://127.0.0.1:5000/callback' } as PendingLogin;
  it('a bare code only where no iss is expected', () => {
    const code = parsePasted('abcdefgh12345');
    expect(() => checkPasted(code, pending, false)).not.toThrow();
    expect(() => checkPasted(code, pending, true)).toThrow(/a code on its own cannot be checked/);
  });
  it.each(['hello', 'two words here', '???', 'code'])('%j is not the redirected address', (junk) => {
    expect(() => parsePasted(junk)).toThrow(/that is not the redirected address/);
  });
  it('an address elsewhere (the login URL itself) is not the redirected address; the right one passes', () => {
    expect(() => checkPasted(parsePasted('https://as.example/authorize?client_id=x&state=S'), pending, true)).toThrow(/not the redirected address/);
    expect(() => checkPasted(parsePasted('http://127.0.0.1:5000/callback?code=c&state=S&iss=https://as'), pending, true)).not.toThrow();
    expect(() => checkPasted(parsePasted('http://127.0.0.1:5000/callback?code=c&state=old'), pending, true)).toThrow(/older\) login attempt/);
  });
});
