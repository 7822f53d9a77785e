/**
 * OAuth against servers that publish their metadata in the less common shapes the conformance
 * suite checks (auth/metadata-var2, auth/2025-03-26-oauth-endpoint-fallback), through the built
 * relay, asserting on the raw parameters the authorization server received.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { browserEnv } from '../helpers/oauth.js';
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
