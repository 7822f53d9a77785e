/**
 * OAuth against servers that publish their metadata in the less common shapes the conformance
 * suite checks (auth/metadata-var2, auth/2025-03-26-oauth-endpoint-fallback), through the built
 * relay, asserting on the raw parameters the authorization server received.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { browserEnv, browserLaunches } from '../helpers/oauth.js';
import { startPlainOAuthServer, type PlainOAuthServer } from '../helpers/plain-oauth.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';

const servers: PlainOAuthServer[] = [];
afterEach(async () => {
  await killAll();
  for (const s of servers.splice(0)) await s.close();
});

async function server(opts: Parameters<typeof startPlainOAuthServer>[0]): Promise<PlainOAuthServer> {
  const s = await startPlainOAuthServer(opts);
  servers.push(s);
  return s;
}

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

describe('RFC 8707 resource, byte for byte', () => {
  it('a resource published without a path ("http://host:port") is sent exactly so in the authorization, code and refresh requests', async () => {
    const s = await server({ resource: (origin) => origin });
    const home = await tempHome();
    const { client } = await connectRelay([s.url], { home, env: browserEnv(home) });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'one' } }))).toBe('one');
    s.expireAll();
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'two' } }))).toBe('two');
    // RFC 9728 §3.3 / RFC 8707 §2: the identifier as published, never re-serialised with a "/".
    expect(s.resources()).toEqual([
      { at: '/authorize', resource: s.origin },
      { at: '/token authorization_code', resource: s.origin },
      { at: '/token refresh_token', resource: s.origin },
    ]);
  });
});

describe('2025-03-26 servers without any metadata', () => {
  it('falls back to /authorize, /token and /register at the origin, with PKCE S256, and says once that the server is on the old revision', async () => {
    const s = await server({ resource: null, asMetadata: false });
    const home = await tempHome();
    const { client, stderr } = await connectRelay([s.url], { home, env: browserEnv(home) });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'old' } }))).toBe('old');
    expect(s.records.map((r) => r.endpoint)).toEqual(['/register', '/authorize', '/token']);
    const authorize = s.records[1]!.params;
    expect(authorize.code_challenge_method).toBe('S256');
    expect(authorize.code_challenge).toBeTruthy();
    expect(new URL(browserLaunches(home)[0]!).origin + new URL(browserLaunches(home)[0]!).pathname).toBe(`${s.origin}/authorize`);
    expect(s.records[2]!.params.grant_type).toBe('authorization_code');
    // The metadata was looked for (and absent) before falling back.
    expect(s.wellKnown.some((w) => w.path.startsWith('/.well-known/oauth-authorization-server') && w.status === 404)).toBe(true);
    expect(stderr().match(/MCP 2025-03-26/g)).toHaveLength(1);
  });
});
