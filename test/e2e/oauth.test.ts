/**
 * OAuth through the built relay: a real in-process authorization server + protected MCP server
 * (src/demo), relays as child processes, a fixture browser, real files and locks. Assertions are
 * on what the servers counted, not on what each relay believed.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { preferredCallbackPort } from '../../src/auth/callback.js';
import { serverKey } from '../../src/store/paths.js';
import { browserEnv, browserLaunches, closeDemos, demo, editTokens, readStoreJson } from '../helpers/oauth.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';

afterEach(async () => {
  await killAll();
  await closeDemos();
});

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

async function loggedIn(home: string, url: string, extraArgs: string[] = []) {
  const r = await connectRelay([url, ...extraArgs], { home, env: browserEnv(home) });
  await r.client.listTools();
  return r;
}

describe('OAuth login through the relay', () => {
  it('cold start: discovers, registers once, opens one browser tab, exchanges one code, then relays', async () => {
    const d = await demo();
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'authed' } }))).toBe('authed');
    expect(d.counters.registrations).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
    const tokens = await readStoreJson<{ expires_at: number; access_token: string; resource: string; grant: string }>(home, d.url, 'tokens.json');
    expect(tokens!.expires_at).toBeGreaterThan(Date.now());
    expect(tokens!.grant).toBe('authorization_code');
    expect(tokens!.resource).toBe(d.url);
    // The authorization request carried PKCE S256 and the RFC 8707 resource.
    const authUrl = new URL(browserLaunches(home)[0]!);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('resource')).toBe(d.url);
    expect(authUrl.searchParams.get('scope')).toBe('mcp:tools');
  });

  it('warm start: a second relay reuses the stored login with no browser, registration or code exchange', async () => {
    const d = await demo();
    const home = await tempHome();
    const first = await loggedIn(home, d.url);
    await first.transport.close();
    const { client } = await connectRelay([d.url], { home, env: browserEnv(home) });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'warm' } }))).toBe('warm');
    expect(browserLaunches(home)).toHaveLength(1);
    expect(d.counters.registrations).toBe(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });

  it('refreshes on 401 when the server says the access token expired', async () => {
    const d = await demo();
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url);
    d.expireAccessTokens();
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'after expiry' } }))).toBe('after expiry');
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
  });

  it('refreshes before expiry, without waiting for a 401', async () => {
    const d = await demo();
    const home = await tempHome();
    (await loggedIn(home, d.url)).transport.close();
    const unauthorizedBefore = d.counters.unauthorized401;
    // The stored token is about to expire (within the refresh margin) though the server still accepts it.
    await editTokens(home, d.url, (t) => {
      t.obtained_at = Date.now() - 3_600_000;
      t.expires_at = Date.now() + 10_000;
    });
    const { client } = await connectRelay([d.url], { home, env: browserEnv(home) });
    await client.listTools();
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(d.counters.unauthorized401).toBe(unauthorizedBefore);
  });

  it('six relays started at once with an expired access token: all succeed, one refresh, zero invalid_grant', async () => {
    const d = await demo({ rotateRefreshTokens: true });
    const home = await tempHome();
    (await loggedIn(home, d.url)).transport.close();
    d.expireAccessTokens();
    await editTokens(home, d.url, (t) => (t.expires_at = Date.now() - 1_000));
    const relays = await Promise.all(Array.from({ length: 6 }, () => connectRelay([d.url], { home, env: browserEnv(home) })));
    const answers = await Promise.all(relays.map((r, i) => r.client.callTool({ name: 'echo', arguments: { text: `r${i}` } })));
    expect(answers.map(text)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(d.counters.invalidGrant).toBe(0);
    expect(browserLaunches(home)).toHaveLength(1);
  });

  it('four relays on an empty store: one browser tab, one registration, one code exchange', async () => {
    const d = await demo();
    const home = await tempHome();
    const relays = await Promise.all(Array.from({ length: 4 }, () => connectRelay([d.url], { home, env: browserEnv(home) })));
    const answers = await Promise.all(relays.map((r, i) => r.client.callTool({ name: 'echo', arguments: { text: `n${i}` } })));
    expect(answers.map(text)).toEqual(['n0', 'n1', 'n2', 'n3']);
    expect(browserLaunches(home)).toHaveLength(1);
    expect(d.counters.registrations).toBe(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });

  it('uses another callback port when the preferred one is busy', async () => {
    const d = await demo();
    const home = await tempHome();
    const preferred = preferredCallbackPort(serverKey({ serverUrl: d.url }));
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(preferred, '127.0.0.1', () => r()));
    try {
      const { client } = await loggedIn(home, d.url);
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'port' } }))).toBe('port');
      const redirect = new URL(new URL(browserLaunches(home)[0]!).searchParams.get('redirect_uri')!);
      expect(Number(redirect.port)).not.toBe(preferred);
    } finally {
      blocker.close();
    }
  });

  it('a revoked refresh token (invalid_grant) leads to a new login', async () => {
    const d = await demo();
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url);
    d.revokeAll();
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'relogged' } }))).toBe('relogged');
    expect(d.counters.invalidGrant).toBe(1);
    expect(browserLaunches(home)).toHaveLength(2);
  });

  it('steps up on 403 insufficient_scope by re-authorizing with the union of scopes', async () => {
    const d = await demo({ requiredScopeForTool: { admin_report: 'mcp:admin' } });
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url);
    const result = await client.callTool({ name: 'admin_report', arguments: {} });
    expect(result.isError).not.toBe(true);
    const launches = browserLaunches(home);
    expect(launches).toHaveLength(2);
    expect(new URL(launches[1]!).searchParams.get('scope')!.split(' ')).toEqual(expect.arrayContaining(['mcp:tools', 'mcp:admin']));
    expect(d.counters.insufficientScope403).toBe(1);
  });

  it('uses a static client given with --client-id and never registers', async () => {
    const d = await demo({ registrationEnabled: false, staticClients: [{ client_id: 'static-client-1' }] });
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url, ['--client-id', 'static-client-1']);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'static' } }))).toBe('static');
    expect(d.counters.registrations).toBe(0);
    expect(new URL(browserLaunches(home)[0]!).searchParams.get('client_id')).toBe('static-client-1');
  });

  it('uses a Client ID Metadata Document as client_id when the server supports it, and never registers', async () => {
    const d = await demo({ clientIdMetadataDocumentSupported: true });
    const home = await tempHome();
    const port = preferredCallbackPort(serverKey({ serverUrl: d.url }));
    const doc = createHttpServer((_req, res) => {
      const url = `http://127.0.0.1:${(doc.address() as AddressInfo).port}/client.json`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          client_id: url,
          client_name: 'mcp-relay test',
          redirect_uris: [`http://127.0.0.1:${port}/callback`],
          token_endpoint_auth_method: 'none',
        }),
      );
    });
    await new Promise<void>((r) => doc.listen(0, '127.0.0.1', () => r()));
    try {
      const docUrl = `http://127.0.0.1:${(doc.address() as AddressInfo).port}/client.json`;
      const { client } = await loggedIn(home, d.url, ['--client-metadata-url', docUrl]);
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'cimd' } }))).toBe('cimd');
      expect(d.counters.registrations).toBe(0);
      expect(new URL(browserLaunches(home)[0]!).searchParams.get('client_id')).toBe(docUrl);
    } finally {
      doc.close();
    }
  });

  it.each([
    ['file:///etc/passwd'],
    ['javascript:alert(1)'],
    ['data:text/html,<script>alert(1)</script>'],
    ['https://evil.example/authorize?x=$(touch /tmp/pwned)'],
    ['http://evil.example/authorize'],
  ])('refuses hostile authorization_endpoint %s and never launches a browser', async (endpoint) => {
    const d = await demo({ metadataOverrides: { authorization_endpoint: endpoint } });
    const home = await tempHome();
    // initialize itself triggers the login, so the host sees it fail with the reason.
    await expect(connectRelay([d.url], { home, env: browserEnv(home) })).rejects.toThrow(
      /authorization_endpoint.*(refusing|must be an https URL|cannot use javascript:, data:)/,
    );
    expect(browserLaunches(home)).toHaveLength(0);
  });

  it('never writes tokens, codes, verifiers or client secrets to logs, even at --debug', async () => {
    const d = await demo({ metadataOverrides: { token_endpoint_auth_methods_supported: ['client_secret_post'] } });
    const home = await tempHome();
    const logFile = join(home, 'relay.log');
    const { client, stderr, transport } = await loggedIn(home, d.url, ['--debug', '--log-file', logFile]);
    d.expireAccessTokens();
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    const tokens = (await readStoreJson<{ access_token: string; refresh_token: string }>(home, d.url, 'tokens.json'))!;
    const clientInfo = (await readStoreJson<{ client_secret: string }>(home, d.url, 'client.json'))!;
    await transport.close();
    const logs = stderr() + readFileSync(logFile, 'utf8');
    expect(clientInfo.client_secret).toBeTruthy();
    expect(logs).toContain('"level":20');
    for (const secret of [tokens.access_token, tokens.refresh_token, clientInfo.client_secret]) expect(logs).not.toContain(secret);
    const authUrl = new URL(browserLaunches(home)[0]!);
    expect(logs).toContain(authUrl.searchParams.get('code_challenge')!);
    expect(logs).not.toMatch(/[?&]code=[A-Za-z0-9_-]{8,}/);
  });
});
