/**
 * A misbehaving authorization server, for real: the demo OAuth server (src/demo) with its token
 * endpoint behind a fault-injecting proxy (test/helpers/faults.ts), relays as child processes
 * with the fixture browser. A refresh that fails for a passing reason must keep the login (no
 * wiped store, no new browser tab); only a dead grant may lead to a new login, exactly once.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeFaults, faultProxy, on, type FaultProxy } from '../helpers/faults.js';
import { browserEnv, browserLaunches, closeDemos, demo, readStoreJson, storeDir } from '../helpers/oauth.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';
import type { DemoServer } from '../../src/demo/server.js';

afterEach(async () => {
  await killAll();
  await closeFaults();
  await closeDemos();
});

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

const echo = (t: string) => ({ name: 'echo', arguments: { text: t } });

async function loggedIn(home: string, url: string, extra: string[] = []) {
  const r = await connectRelay([url, ...extra], { home, env: browserEnv(home) });
  await r.client.listTools();
  return r;
}

/** The demo server with its token endpoint behind a fault proxy. */
async function demoWithTokenProxy(opts: Parameters<typeof demo>[0] = {}): Promise<{ d: DemoServer; p: FaultProxy }> {
  const p = await faultProxy();
  const d = await demo({ ...opts, metadataOverrides: { token_endpoint: `${p.origin}/token` } });
  p.setTarget(d.issuer);
  return { d, p };
}

async function tokensFile(home: string, url: string): Promise<string> {
  return readFile(join(storeDir(home, url), 'tokens.json'), 'utf8');
}

describe('authorization server faults during a refresh', () => {
  it('the token endpoint is down (503 temporarily_unavailable): requests get a clear error, the login is kept, none is started; it refreshes once the server is back', async () => {
    const d = await demo();
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url);
    const before = await tokensFile(home, d.url);
    d.setDown(true);
    d.expireAccessTokens();
    for (const i of [1, 2]) {
      await expect(client.callTool(echo(`down ${i}`))).rejects.toThrow(
        /refreshing the access token failed \("temporarily_unavailable"\).*stored login is kept/,
      );
    }
    expect(await tokensFile(home, d.url)).toBe(before);
    expect(browserLaunches(home)).toHaveLength(1);
    expect(d.counters.authorizeRequests).toBe(1);
    d.setDown(false);
    expect(text(await client.callTool(echo('back')))).toBe('back');
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(d.counters.invalidGrant).toBe(0);
    expect(browserLaunches(home)).toHaveLength(1);
    expect(d.counters.registrations).toBe(1);
  });

  it('garbage, truncated JSON, 200 without access_token, 400 temporarily_unavailable, an HTML 502, on every retry: each an error, the login kept; then a refresh works', async () => {
    const { d, p } = await demoWithTokenProxy();
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url);
    const before = await tokensFile(home, d.url);
    const json = { 'content-type': 'application/json' };
    // The relay retries only what says "try later" (src/auth/retry.ts: 5xx, temporarily_unavailable,
    // resets, timeouts) up to TOKEN_RETRY_ATTEMPTS = 3 times; a 200 is an answer and is not sent
    // again (the server may have rotated the refresh token already). Each fault lasts exactly as
    // many requests as the relay makes for it.
    const faults: Array<[string, { status: number; headers: Record<string, string>; body: string }, RegExp, number]> = [
      ['garbage', { status: 200, headers: json, body: 'this is not json at all' }, /not valid JSON/, 1],
      ['truncated', { status: 200, headers: json, body: '{"access_token":"at-123","token_type":"Bea' }, /JSON/, 1],
      ['no access_token', { status: 200, headers: json, body: '{"token_type":"Bearer","expires_in":3600}' }, /access_token/, 1],
      ['temporarily_unavailable', { status: 400, headers: json, body: '{"error":"temporarily_unavailable"}' }, /"temporarily_unavailable"/, 3],
      ['html 502', { status: 502, headers: { 'content-type': 'text/html' }, body: '<html><body>Bad gateway</body></html>' }, /HTTP 502/, 3],
    ];
    for (const [name, response, why, attempts] of faults) {
      p.inject({ match: on.path('/token'), action: { kind: 'respond', ...response }, times: attempts });
      d.expireAccessTokens();
      const call = client.callTool(echo(name));
      await expect(call, name).rejects.toThrow(/refreshing the access token failed/);
      await expect(call, name).rejects.toThrow(why);
      await expect(call, name).rejects.toThrow(/stored login is kept/);
      expect(await tokensFile(home, d.url), name).toBe(before);
    }
    expect(p.seen.filter((r) => r.path === '/token' && r.fault === 'respond')).toHaveLength(faults.reduce((n, f) => n + f[3], 0));
    expect(text(await client.callTool(echo('healthy again')))).toBe('healthy again');
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
    expect(d.counters.registrations).toBe(1);
  });
});

describe('rotating refresh tokens', () => {
  it('another relay rotated the tokens: this one adopts them from the store and never presents the spent refresh token', async () => {
    const d = await demo({ rotateRefreshTokens: true });
    const home = await tempHome();
    const a = await loggedIn(home, d.url);
    const b = await connectRelay([d.url], { home, env: browserEnv(home) });
    d.expireAccessTokens();
    expect(text(await b.client.callTool(echo('b refreshed')))).toBe('b refreshed');
    // a still holds the old pair in memory; its 401 must lead to the store, not to the token endpoint.
    expect(text(await a.client.callTool(echo('a adopted')))).toBe('a adopted');
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(d.counters.invalidGrant).toBe(0);
    expect(browserLaunches(home)).toHaveLength(1);
  });

  it('a rotated refresh token presented twice (the store restored from an old copy): one invalid_grant, then exactly one new login', async () => {
    const d = await demo({ rotateRefreshTokens: true });
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url);
    const old = await tokensFile(home, d.url);
    d.expireAccessTokens();
    expect(text(await client.callTool(echo('rotated')))).toBe('rotated');
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    // A backup (or a second machine syncing the config dir) brings the spent refresh token back.
    const stale = JSON.parse(old) as Record<string, unknown>;
    stale.expires_at = Date.now() - 1_000;
    await writeFile(join(storeDir(home, d.url), 'tokens.json'), JSON.stringify(stale), { mode: 0o600 });
    const relay = await connectRelay([d.url], { home, env: browserEnv(home) });
    expect(text(await relay.client.callTool(echo('after replay')))).toBe('after replay');
    // The replay was detected once (the family is revoked), and it led to one new login, not a loop.
    expect(d.counters.invalidGrant).toBe(1);
    expect(browserLaunches(home)).toHaveLength(2);
    expect(d.counters.tokenRequests.authorization_code).toBe(2);
    const now = await readStoreJson<{ refresh_token: string }>(home, d.url, 'tokens.json');
    expect(now!.refresh_token).not.toBe(stale.refresh_token);
  });
});
