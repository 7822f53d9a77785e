/**
 * Logins carried over from mcp-remote: a store in mcp-remote's layout (~/.mcp-auth/mcp-remote-v1,
 * files named by the MD5 of the server URL) holding a client and tokens that the demo
 * authorization server really issued, obtained here by driving its endpoints as mcp-remote would.
 * The relay must use them as its own: no registration, no authorization request, no browser,
 * and mcp-remote's files untouched.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DemoServer } from '../../src/demo/types.js';
import { browserEnv, browserLaunches, closeDemos, demo, readStoreJson } from '../helpers/oauth.js';
import { connectRelay, killAll, RELAY_BIN, relayEnv, tempHome } from '../helpers/relay.js';

afterEach(async () => {
  await killAll();
  await closeDemos();
});

/** mcp-remote's redirect URI: another port and path than mcp-relay's. */
const MCP_REMOTE_REDIRECT = 'http://localhost:45454/oauth/callback';

/** Register a client and log in at the demo server the way mcp-remote does (PKCE, resource). */
async function mcpRemoteLogin(d: DemoServer): Promise<{ client: Record<string, unknown>; tokens: Record<string, unknown> }> {
  const client = (await (
    await fetch(`${d.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'MCP CLI Proxy',
        redirect_uris: [MCP_REMOTE_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    })
  ).json()) as Record<string, unknown>;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: String(client.client_id),
    redirect_uri: MCP_REMOTE_REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st',
    resource: d.url,
  });
  const authorized = await fetch(`${d.issuer}/authorize?${query}`, { redirect: 'manual' });
  const code = new URL(authorized.headers.get('location')!).searchParams.get('code')!;
  const tokens = (await (
    await fetch(`${d.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: MCP_REMOTE_REDIRECT,
        client_id: String(client.client_id),
        code_verifier: verifier,
        resource: d.url,
      }),
    })
  ).json()) as Record<string, unknown>;
  expect(tokens.access_token).toBeTypeOf('string');
  return { client, tokens };
}

/** Write it where mcp-remote 0.15 keeps it; returns the two files' paths. */
async function writeMcpRemoteStore(
  home: string,
  serverUrl: string,
  login: { client: Record<string, unknown>; tokens: Record<string, unknown> },
  expiresAt: number,
): Promise<string[]> {
  const dir = join(home, '.mcp-auth', 'mcp-remote-v1');
  await mkdir(dir, { recursive: true });
  const hash = createHash('md5').update(serverUrl).digest('hex');
  const files = [join(dir, `${hash}_client_info.json`), join(dir, `${hash}_tokens.json`)];
  await writeFile(files[0]!, JSON.stringify(login.client, null, 2), { mode: 0o600 });
  await writeFile(files[1]!, JSON.stringify({ ...login.tokens, expires_at: expiresAt }, null, 2), { mode: 0o600 });
  return files;
}

async function snapshot(files: string[]): Promise<string[]> {
  return Promise.all(files.map(async (f) => `${await readFile(f, 'utf8')}@${(await stat(f)).mtimeMs}`));
}

describe('mcp-remote logins', () => {
  it('are used as they are: no registration, no authorization request, no browser', async () => {
    const d = await demo();
    const home = await tempHome();
    const login = await mcpRemoteLogin(d);
    const files = await writeMcpRemoteStore(home, d.url, login, Date.now() + 3_600_000);
    const before = await snapshot(files);
    const seen = { registrations: d.counters.registrations, authorize: d.counters.authorizeRequests, refresh: d.counters.tokenRequests.refresh_token };

    const relay = await connectRelay([d.url], { home, env: browserEnv(home, 'record-only') });
    const { tools } = await relay.client.listTools();
    expect(tools.length).toBeGreaterThan(0);

    expect(d.counters.registrations).toBe(seen.registrations);
    expect(d.counters.authorizeRequests).toBe(seen.authorize);
    expect(d.counters.tokenRequests.refresh_token).toBe(seen.refresh);
    expect(browserLaunches(home)).toEqual([]);
    expect((await readStoreJson(home, d.url, 'client.json'))?.client_id).toBe(login.client.client_id);
    expect(relay.stderr()).toContain('imported the login mcp-remote had for this server');
    expect(relay.stderr()).not.toContain(String(login.tokens.access_token));
    expect(await snapshot(files)).toEqual(before);

    // After a logout the same mcp-remote login does not come back by itself.
    await relay.client.close();
    const logout = spawnSync(process.execPath, [RELAY_BIN, 'logout', d.url], { env: relayEnv(home), encoding: 'utf8' });
    expect(logout.status).toBe(0);
    const again = await connectRelay([d.url], { home, env: browserEnv(home) });
    await again.client.listTools();
    expect(again.stderr()).not.toContain('imported the login');
    expect(browserLaunches(home)).toHaveLength(1);
    expect(await snapshot(files)).toEqual(before);
  });

  it('an expired imported token is refreshed with the imported client', async () => {
    const d = await demo();
    const home = await tempHome();
    const files = await writeMcpRemoteStore(home, d.url, await mcpRemoteLogin(d), Date.now() - 60_000);
    const before = await snapshot(files);
    const seen = { registrations: d.counters.registrations, authorize: d.counters.authorizeRequests, refresh: d.counters.tokenRequests.refresh_token };

    const relay = await connectRelay([d.url], { home, env: browserEnv(home, 'record-only') });
    await relay.client.listTools();

    expect(d.counters.tokenRequests.refresh_token).toBe(seen.refresh + 1);
    expect(d.counters.registrations).toBe(seen.registrations);
    expect(d.counters.authorizeRequests).toBe(seen.authorize);
    expect(browserLaunches(home)).toEqual([]);
    expect(await snapshot(files)).toEqual(before);
  });

  it('a grant that no longer refreshes falls back to a normal login', async () => {
    const d = await demo();
    const home = await tempHome();
    await writeMcpRemoteStore(home, d.url, await mcpRemoteLogin(d), Date.now() - 60_000);
    d.revokeAll();
    const seen = { authorize: d.counters.authorizeRequests };

    const relay = await connectRelay([d.url], { home, env: browserEnv(home) });
    const { tools } = await relay.client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    expect(d.counters.authorizeRequests).toBe(seen.authorize + 1);
    expect(browserLaunches(home)).toHaveLength(1);
  });

  it('mcp-relay import takes them on demand, says what it took, and never prints a secret', async () => {
    const d = await demo();
    const home = await tempHome();
    const login = await mcpRemoteLogin(d);
    // Another folder than ~/.mcp-auth, and an old per-version layout.
    const from = join(home, 'elsewhere');
    const hash = createHash('md5').update(d.url).digest('hex');
    await mkdir(join(from, 'mcp-remote-0.1.29'), { recursive: true });
    await writeFile(join(from, 'mcp-remote-0.1.29', `${hash}_client_info.json`), JSON.stringify(login.client));
    await writeFile(join(from, 'mcp-remote-0.1.29', `${hash}_tokens.json`), JSON.stringify(login.tokens));
    const run = (...args: string[]) => spawnSync(process.execPath, [RELAY_BIN, 'import', ...args], { env: relayEnv(home), encoding: 'utf8' });

    const none = run();
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('give the URL');

    const first = run('--from', from, d.url);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(`${d.url}: imported client ${String(login.client.client_id)}, access token, refresh token`);
    expect(first.stdout + first.stderr).not.toContain(String(login.tokens.access_token));
    expect(first.stdout + first.stderr).not.toContain(String(login.tokens.refresh_token));
    expect((await readStoreJson(home, d.url, 'tokens.json'))?.access_token).toBe(login.tokens.access_token);

    // Without a URL: every server mcp-relay knows, here the one just imported.
    const again = run('--from', from);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('already logged in with mcp-relay; nothing imported');

    const seen = { registrations: d.counters.registrations, authorize: d.counters.authorizeRequests };
    const relay = await connectRelay([d.url], { home, env: browserEnv(home, 'record-only') });
    await relay.client.listTools();
    expect(d.counters.registrations).toBe(seen.registrations);
    expect(d.counters.authorizeRequests).toBe(seen.authorize);
  });
});
