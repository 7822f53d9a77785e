/**
 * The SSH / headless login: a relay that cannot open a browser waits with its host's messages
 * queued; `mcp-relay login` in a terminal takes the address the browser (on another machine)
 * was redirected to, and the waiting relay continues.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeDemos, demo, readStoreJson, storeDir } from '../helpers/oauth.js';
import { INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

afterEach(async () => {
  await killAll();
  await closeDemos();
});

/** What a browser on another machine does: approve, and end on the (unreachable) loopback callback. */
async function approveElsewhere(authorizationUrl: string): Promise<string> {
  const res = await fetch(authorizationUrl, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (!location) throw new Error(`authorization endpoint answered ${res.status} without a redirect`);
  return new URL(location, authorizationUrl).href;
}

async function waitForPending(home: string, url: string): Promise<{ authorization_url: string; redirect_uri: string; state: string }> {
  await expect.poll(() => existsSync(join(storeDir(home, url), 'pending.json')), { timeout: 15_000 }).toBe(true);
  return (await readStoreJson(home, url, 'pending.json')) as { authorization_url: string; redirect_uri: string; state: string };
}

describe('headless login with the paste flow', () => {
  it('a waiting relay continues after `mcp-relay login` is given the redirected address', async () => {
    const d = await demo();
    const home = await tempHome();
    const relay = spawnRelay([d.url, '--no-browser'], { home });
    relay.send(INIT(1));
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'queued during login' } } });
    const pending = await waitForPending(home, d.url);
    // The relay told the user what to do, on stderr.
    await expect.poll(() => relay.stderr(), { timeout: 5_000 }).toContain(`mcp-relay login ${d.url}`);
    // pending.json is written before the instructions are printed: wait for them.
    await expect.poll(() => relay.stderr(), { timeout: 10_000 }).toContain(pending.authorization_url);

    const login = spawnRelay(['login', d.url], { home });
    const redirected = await approveElsewhere(pending.authorization_url);
    expect(redirected.startsWith(pending.redirect_uri)).toBe(true);
    // A stale address from an older attempt is refused without ending the login.
    const stale = new URL(redirected);
    stale.searchParams.set('state', 'not-the-right-state');
    login.sendRaw(`${stale.href}\n`);
    await expect.poll(() => login.stderr(), { timeout: 5_000 }).toContain('different (older) login attempt');
    login.sendRaw(`${redirected}\n`);
    const exit = await login.exited;
    expect(exit.code).toBe(0);

    const answer = await relay.waitFor((m) => m.id === 2);
    expect(JSON.stringify(answer)).toContain('queued during login');
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
    expect(existsSync(join(storeDir(home, d.url), 'pending.json'))).toBe(false);
  });

  it('a server that promises iss (RFC 9207): a pasted code alone is refused with what to paste (no mix-up alarm), the full address works', async () => {
    const d = await demo({ metadataOverrides: { authorization_response_iss_parameter_supported: true } });
    const home = await tempHome();
    const login = spawnRelay(['login', d.url, '--no-browser'], { home });
    const pending = await waitForPending(home, d.url);
    // The prompt no longer offers "just the code".
    await expect.poll(() => login.stderr(), { timeout: 10_000 }).toContain('Paste the whole address');
    expect(login.stderr()).not.toContain('just the code');
    const redirected = new URL(await approveElsewhere(pending.authorization_url));
    expect(redirected.searchParams.get('iss')).toBeTruthy();
    login.sendRaw(`${redirected.searchParams.get('code')}\n`); // just the code: no iss
    await expect.poll(() => login.stderr(), { timeout: 5_000 }).toContain('a code on its own cannot be checked for this server');
    expect(login.stderr()).toContain(`starting with ${pending.redirect_uri}?`);
    expect(login.stderr()).not.toContain('mix-up');
    login.sendRaw(`${redirected.href}\n`);
    expect((await login.exited).code).toBe(0);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });

  it('a server that does not announce iss: the bare code is enough', async () => {
    const d = await demo({ metadataOverrides: { authorization_response_iss_parameter_supported: false } });
    const home = await tempHome();
    const login = spawnRelay(['login', d.url, '--no-browser'], { home });
    const pending = await waitForPending(home, d.url);
    const redirected = new URL(await approveElsewhere(pending.authorization_url));
    login.sendRaw(`${redirected.searchParams.get('code')}\n`);
    expect((await login.exited).code).toBe(0);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
    expect((await readStoreJson<{ access_token: string }>(home, d.url, 'tokens.json'))?.access_token).toBeTruthy();
  });

  it('garbage, or the login URL itself, is "not the redirected address" (not a mix-up alarm), and nothing is sent', async () => {
    const d = await demo();
    const home = await tempHome();
    const login = spawnRelay(['login', d.url, '--no-browser'], { home });
    const pending = await waitForPending(home, d.url);
    await expect.poll(() => login.stderr(), { timeout: 10_000 }).toContain('Paste the whole address');
    const refusals = () => login.stderr().split('that is not the redirected address').length - 1;
    for (const [i, junk] of ['hello', 'no idea what to paste', pending.authorization_url, '???'].entries()) {
      login.sendRaw(`${junk}\n`);
      await expect.poll(refusals, { timeout: 5_000 }).toBe(i + 1);
    }
    expect(login.stderr()).not.toContain('mix-up');
    expect(d.counters.tokenRequests.authorization_code).toBe(0);
    login.sendRaw(`${await approveElsewhere(pending.authorization_url)}\n`);
    expect((await login.exited).code).toBe(0);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });

  it('`mcp-relay login` on its own starts the login and stores tokens a later relay uses', async () => {
    const d = await demo();
    const home = await tempHome();
    const login = spawnRelay(['login', d.url, '--no-browser'], { home });
    const pending = await waitForPending(home, d.url);
    await expect.poll(() => login.stderr(), { timeout: 10_000 }).toContain('paste it here');
    login.sendRaw(`${await approveElsewhere(pending.authorization_url)}\n`);
    expect((await login.exited).code).toBe(0);
    const tokens = await readStoreJson<{ access_token: string }>(home, d.url, 'tokens.json');
    expect(tokens?.access_token).toBeTruthy();

    const again = spawnRelay(['login', d.url], { home });
    expect((await again.exited).code).toBe(0);
    expect(again.lines.join('\n')).toContain('Already logged in');
    expect(again.lines.join('\n') + again.stderr()).not.toContain(tokens!.access_token);
  });
});
