/**
 * A hostile machine under the relay: a store that cannot be created, a store deleted or damaged
 * while relays run, relays killed with SIGKILL mid-login or while holding the store lock, and a
 * laptop that sleeps past the token's expiry. The built relay, the demo OAuth server, real files.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { browserEnv, browserLaunches, closeDemos, demo, editTokens, readStoreJson, storeDir } from '../helpers/oauth.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const LOCK_CHILD = resolve(import.meta.dirname, '../fixtures/store-lock-child.mjs');
const lockHolders: Array<{ kill(signal: NodeJS.Signals): boolean }> = [];

afterEach(async () => {
  for (const c of lockHolders.splice(0)) c.kill('SIGKILL');
  await killAll();
  await closeDemos();
});

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

const echo = (t: string) => ({ name: 'echo', arguments: { text: t } });
const CALL = (id: number, t: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: echo(t) });

async function loggedIn(home: string, url: string) {
  const r = await connectRelay([url], { home, env: browserEnv(home) });
  await r.client.listTools();
  return r;
}

async function waitForPending(home: string, url: string) {
  await expect.poll(() => existsSync(join(storeDir(home, url), 'pending.json')), { timeout: 15_000 }).toBe(true);
  return (await readStoreJson<{ authorization_url: string; redirect_uri: string; state: string; pid: number }>(home, url, 'pending.json'))!;
}

/** What the user's already-open browser tab does: approve and land on the loopback callback. */
async function approveInOpenTab(authorizationUrl: string): Promise<void> {
  const res = await fetch(authorizationUrl, { redirect: 'manual' });
  const callback = res.headers.get('location');
  if (!callback) throw new Error(`authorize answered ${res.status} without a redirect`);
  await (await fetch(callback)).text();
}

describe('a store that cannot be created', () => {
  it('MCP_RELAY_HOME under a regular file: a server that needs a login gets a clear error per request, the relay keeps serving and exits 0', async () => {
    const d = await demo();
    const home = await tempHome();
    await writeFile(join(home, 'not-a-dir'), 'a regular file');
    const badHome = join(home, 'not-a-dir', 'store');
    const relay = spawnRelay([d.url], { home, env: { ...browserEnv(home), MCP_RELAY_HOME: badHome } });
    relay.send(INIT(1));
    const init = (await relay.waitFor((m) => m.id === 1)) as { error?: { message: string } };
    expect(init.error?.message).toContain(badHome);
    expect(init.error?.message).toMatch(/ENOTDIR/);
    expect(init.error?.message).toMatch(/MCP_RELAY_HOME/);
    relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(((await relay.waitFor((m) => m.id === 2)) as { error?: { message: string } }).error?.message).toMatch(/ENOTDIR/);
    expect(browserLaunches(home)).toHaveLength(0);
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
  });
});

describe('a store changed behind the relay', () => {
  it('the store is deleted (rm -rf) between two calls that need a refresh: the relay re-creates it privately and carries on', async () => {
    const d = await demo();
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url);
    // The relay records the tools/list answer in cache.json just after the host has it; let that
    // write land first, or it re-creates the store right after the rm -rf below.
    await expect
      .poll(async () => (await readStoreJson<Record<string, unknown>>(home, d.url, 'cache.json'))?.['tools/list'] !== undefined, { timeout: 10_000 })
      .toBe(true);
    // (retries: the relay may be writing cache.json at this very moment, as a user's rm -rf could race it)
    await rm(join(home, 'store'), { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
    expect(existsSync(join(home, 'store'))).toBe(false);
    d.expireAccessTokens();
    expect(text(await client.callTool(echo('after rm -rf')))).toBe('after rm -rf');
    const tokens = await readStoreJson<{ access_token: string }>(home, d.url, 'tokens.json');
    expect(tokens?.access_token).toBeTruthy();
    // The store is the source of truth: with it gone, the refresh token went too, so this is a new login.
    expect(browserLaunches(home)).toHaveLength(2);
    for (const dir of [join(home, 'store'), join(home, 'store', 'servers'), storeDir(home, d.url)]) expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(storeDir(home, d.url), 'tokens.json'))).mode & 0o777).toBe(0o600);
    // And the re-created store works for the next refresh.
    d.expireAccessTokens();
    expect(text(await client.callTool(echo('and again')))).toBe('and again');
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(browserLaunches(home)).toHaveLength(2);
  });

  it('a corrupt tokens.json is moved aside with a warning and the relay logs in again', async () => {
    const d = await demo();
    const home = await tempHome();
    (await loggedIn(home, d.url)).transport.close();
    const dir = storeDir(home, d.url);
    await writeFile(join(dir, 'tokens.json'), '{"access_token": "half-writ', { mode: 0o600 });
    const { client, stderr } = await loggedIn(home, d.url);
    expect(text(await client.callTool(echo('relogged')))).toBe('relogged');
    const aside = readdirSync(dir).filter((n) => n.startsWith('tokens.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(dir, aside[0]!), 'utf8')).toBe('{"access_token": "half-writ');
    expect(stderr()).toMatch(/ignoring tokens\.json because it is not valid JSON; moved it to/);
    expect(browserLaunches(home)).toHaveLength(2);
    // The registration survived: only the tokens were lost.
    expect(d.counters.registrations).toBe(1);
  });
});

describe('relays killed at the worst moment', () => {
  it('kill -9 in the middle of a login (pending.json written): the next relay takes the login over, no second registration or tab', async () => {
    const d = await demo();
    const home = await tempHome();
    const env = browserEnv(home, 'record-only');
    const first = spawnRelay([d.url], { home, env });
    first.send(INIT(1));
    const pending = await waitForPending(home, d.url);
    expect(pending.pid).toBe(first.child.pid);
    // The user's tab is open (the fixture browser recorded it) when the relay dies.
    await expect.poll(() => browserLaunches(home).length, { timeout: 10_000 }).toBe(1);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = spawnRelay([d.url], { home, env });
    second.send(INIT(1));
    second.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    second.send(CALL(2, 'after kill -9'));
    await expect.poll(async () => (await readStoreJson<{ pid: number }>(home, d.url, 'pending.json'))?.pid, { timeout: 15_000 }).toBe(second.child.pid);
    await approveInOpenTab(pending.authorization_url);
    expect(JSON.stringify(await second.waitFor((m) => m.id === 2))).toContain('after kill -9');
    expect(d.counters.registrations).toBe(1);
    expect(d.counters.authorizeRequests).toBe(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
    expect(existsSync(join(storeDir(home, d.url), 'pending.json'))).toBe(false);
  });

  it('kill -9 of a process holding the store lock: a relay that needs a refresh takes the lock over once it is stale, and succeeds', async () => {
    const d = await demo();
    const home = await tempHome();
    (await loggedIn(home, d.url)).transport.close();
    // Another process takes the server's lock the way a relay does, then dies without releasing it.
    const holder = spawn(process.execPath, [LOCK_CHILD, 'hold', storeDir(home, d.url), '10000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    lockHolders.push(holder);
    await new Promise<void>((r) => holder.stdout.once('data', () => r()));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(existsSync(join(storeDir(home, d.url), 'lock'))).toBe(true);
    await editTokens(home, d.url, (t) => (t.expires_at = Date.now() - 1_000));
    d.expireAccessTokens();
    const { client } = await connectRelay([d.url], { home, env: browserEnv(home), timeoutMs: 30_000 });
    expect(text(await client.callTool(echo('lock taken over'), undefined, { timeout: 30_000 }))).toBe('lock taken over');
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
  }, 40_000);
});

describe('time jumps', () => {
  it('a laptop sleeps past the access token expiry: the running relay refreshes before sending, with no 401 and no login', async () => {
    const d = await demo({ accessTokenTtlSec: 2 });
    const home = await tempHome();
    const { client } = await loggedIn(home, d.url);
    const unauthorized = d.counters.unauthorized401;
    // (On a slow machine the short-lived token may already have been refreshed once during the login.)
    const refreshes = d.counters.tokenRequests.refresh_token;
    const expiresAt = (await readStoreJson<{ expires_at: number }>(home, d.url, 'tokens.json'))!.expires_at;
    // Wall-clock time passes the expiry while the relay sits idle (as across a suspend).
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 200));
    expect(text(await client.callTool(echo('good morning')))).toBe('good morning');
    expect(d.counters.tokenRequests.refresh_token).toBe(refreshes + 1);
    expect(d.counters.unauthorized401).toBe(unauthorized);
    expect(browserLaunches(home)).toHaveLength(1);
  });

  it('a relay started after a long sleep finds tokens.json expired long ago: one refresh, no login', async () => {
    const d = await demo();
    const home = await tempHome();
    (await loggedIn(home, d.url)).transport.close();
    await editTokens(home, d.url, (t) => {
      t.obtained_at = Date.now() - 3 * 24 * 3_600_000;
      t.expires_at = Date.now() - 2 * 24 * 3_600_000;
    });
    d.expireAccessTokens();
    const { client } = await connectRelay([d.url], { home, env: browserEnv(home) });
    expect(text(await client.callTool(echo('two days later')))).toBe('two days later');
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
  });
});
