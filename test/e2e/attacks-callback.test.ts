/**
 * Attacks on the loopback callback of a real waiting relay: forged `state` (login CSRF), a
 * forged Host header (DNS rebinding), a request from a web page (Origin), and reachability from
 * outside the machine. The relay's port comes from pending.json; the real authorization code
 * comes from the demo server, so a forged request is refused with a code that would work.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { browserEnv, closeDemos, demo, readStoreJson, storeDir } from '../helpers/oauth.js';
import { INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

afterEach(async () => {
  await killAll();
  await closeDemos();
});

const CALL = (id: number, text: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } });

interface Pending {
  authorization_url: string;
  redirect_uri: string;
  state: string;
}

/** A relay waiting for its login (the fixture browser only records the tab), with a queued call. */
async function waitingRelay() {
  const d = await demo();
  const home = await tempHome();
  const relay = spawnRelay([d.url], { home, env: browserEnv(home, 'record-only') });
  relay.send(INIT(1));
  relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  relay.send(CALL(2, 'logged in'));
  await expect.poll(() => existsSync(join(storeDir(home, d.url), 'pending.json')), { timeout: 15_000 }).toBe(true);
  const pending = (await readStoreJson<Pending>(home, d.url, 'pending.json'))!;
  // The user approves: the authorization server redirects to the callback with a real code.
  const res = await fetch(pending.authorization_url, { redirect: 'manual' });
  const callback = new URL(res.headers.get('location')!);
  return { d, home, relay, pending, callback };
}

/** GET `url` on 127.0.0.1 with raw headers (fetch would not let us forge Host). */
function rawGet(url: URL, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: url.port, path: `${url.pathname}${url.search}`, method: 'GET', headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the callback of a waiting relay', () => {
  it('a response whose state does not match (login CSRF) is refused and the real login still completes', async () => {
    const { d, relay, callback } = await waitingRelay();
    const forged = new URL(callback);
    forged.searchParams.set('code', 'attacker-code');
    forged.searchParams.set('state', 'attacker-state');
    const refused = await rawGet(forged, { host: callback.host });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    // No state at all is refused the same way.
    const stateless = new URL(forged);
    stateless.searchParams.delete('state');
    expect((await rawGet(stateless, { host: callback.host })).status).toBeGreaterThanOrEqual(400);
    // The login was not disturbed: the genuine redirect still finishes it.
    expect((await rawGet(callback, { host: callback.host })).status).toBe(200);
    expect(JSON.stringify(await relay.waitFor((m) => m.id === 2))).toContain('logged in');
    // The attacker's code was never exchanged.
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
    expect(d.counters.invalidGrant).toBe(0);
  });

  it('the genuine redirect with a forged Host (DNS rebinding) or from a web page (Origin) is refused; the same redirect then works', async () => {
    const { d, relay, callback } = await waitingRelay();
    for (const host of [`evil.example:${callback.port}`, `127.0.0.1.evil.example:${callback.port}`, 'localhost', '']) {
      const res = await rawGet(callback, host ? { host } : {});
      expect(res.status, `Host: ${host}`).toBeGreaterThanOrEqual(400);
    }
    const fromPage = await rawGet(callback, { host: callback.host, origin: 'https://evil.example' });
    expect(fromPage.status).toBeGreaterThanOrEqual(400);
    expect(d.counters.tokenRequests.authorization_code).toBe(0);
    expect((await rawGet(callback, { host: callback.host })).status).toBe(200);
    expect(JSON.stringify(await relay.waitFor((m) => m.id === 2))).toContain('logged in');
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
    expect(relay.stderr()).toMatch(/unexpected Host header \(possible DNS rebinding\)/);
  });

  it("listens on loopback only: nothing answers on the machine's other addresses, and --callback-host 0.0.0.0 is refused", async () => {
    const { home, relay, callback, pending } = await waitingRelay();
    const port = Number(callback.port);
    expect(new URL(pending.redirect_uri).hostname).toBe('127.0.0.1');
    // The kernel's own table: the one listener on this port is bound to 127.0.0.1.
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const listeners = ['/proc/net/tcp', '/proc/net/tcp6']
      .filter((f) => existsSync(f))
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1))
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A');
    if (existsSync('/proc/net/tcp')) expect(listeners.map((c) => c[1])).toEqual([`0100007F:${hexPort}`]);
    const outside = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i && !i.internal && i.family === 'IPv4')
      .map((i) => i!.address);
    for (const address of outside) {
      const outcome = await new Promise<string>((resolve) => {
        const s = connect({ host: address, port }, () => {
          s.destroy();
          resolve('connected');
        });
        s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      });
      expect(outcome, address).toBe('ECONNREFUSED');
    }
    relay.child.kill('SIGKILL');
    const wide = spawnRelay(['http://127.0.0.1:9/mcp', '--callback-host', '0.0.0.0'], { home });
    expect((await wide.exited).code).toBe(2);
    expect(wide.stderr()).toMatch(/--callback-host must be a loopback address/);
  });
});
