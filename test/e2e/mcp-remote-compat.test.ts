/**
 * A host entry written for mcp-remote, with only the program name changed: the built relay is
 * started with mcp-remote's command line (callback port after the URL, --transport http-only,
 * --header, --ignore-tool) against a real MCP server that requires the header.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { browserEnv, browserLaunches, closeDemos, demo } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';

let server: TestServer | undefined;
afterEach(async () => {
  await killAll();
  await closeDemos();
  await server?.close();
  server = undefined;
});

/** Names of the tools the server was asked to call, from what it received. */
function calledTools(s: TestServer): string[] {
  const bodies = s.requests.flatMap((r) => (Array.isArray(r.body) ? r.body : [r.body]));
  return bodies.filter((b) => (b as { method?: string } | undefined)?.method === 'tools/call').map((b) => (b as { params: { name: string } }).params.name);
}

describe('mcp-remote command line', () => {
  it('relays with the header, hides the ignored tool and refuses it without asking the server', async () => {
    server = await startTestServer({ kind: 'stateful', requireHeader: { name: 'x-api-key', value: 'k-123' } });
    const home = await tempHome();
    const relay = await connectRelay([server.url, '39999', '--transport', 'http-only', '--header', 'X-Api-Key:${API_KEY}', '--ignore-tool', 'ad*'], {
      home,
      env: { API_KEY: 'k-123' },
    });

    const { tools } = await relay.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('echo');
    expect(names).not.toContain('add');

    const echoed = await relay.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect((echoed as { content: Array<{ text: string }> }).content[0]!.text).toBe('hi');

    const refused = await relay.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }).then(
      () => undefined,
      (err: { code?: number; message: string }) => err,
    );
    expect(refused?.code).toBe(-32602);
    expect(refused?.message).toContain('--deny-tool "ad*"');

    // What the server saw: the header on every request, the echo call, never the add call.
    expect(server.seenHeaders.length).toBeGreaterThan(0);
    for (const h of server.seenHeaders) expect(h['x-api-key']).toBe('k-123');
    expect(calledTools(server)).toEqual(['echo']);
    // Streamable HTTP only (http-only): no legacy /sse stream was tried.
    expect(server.requests.every((r) => r.path === '/mcp')).toBe(true);

    const log = relay.stderr();
    expect(log).toContain(`in mcp-relay's spelling: mcp-relay ${server.url} --callback-port 39999 --transport http --header 'X-Api-Key: …' --deny-tool ad*`);
    expect(log).not.toContain('k-123');
  });

  it('a client pre-registered for mcp-remote logs in on the redirect URI it was registered with', async () => {
    const d = await demo();
    const home = await tempHome();
    const port = await freePort();
    const redirect = `http://localhost:${port}/oauth/callback`;
    const client = (await (
      await fetch(`${d.issuer}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'pre-registered', redirect_uris: [redirect], token_endpoint_auth_method: 'none' }),
      })
    ).json()) as { client_id: string };
    const registrations = d.counters.registrations;

    const relay = await connectRelay([d.url, String(port), '--static-oauth-client-info', JSON.stringify({ client_id: client.client_id })], {
      home,
      env: browserEnv(home),
    });
    const { tools } = await relay.client.listTools();
    expect(tools.length).toBeGreaterThan(0);

    expect(d.counters.registrations).toBe(registrations);
    const launched = browserLaunches(home);
    expect(launched).toHaveLength(1);
    expect(new URL(launched[0]!).searchParams.get('redirect_uri')).toBe(redirect);
  });
});

/** A loopback port nobody listens on right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
