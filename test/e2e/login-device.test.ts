/**
 * RFC 8628 device login: where no browser can open and the authorization server offers it, the
 * relay shows a URL and a code, polls at the server's interval, and continues once approved.
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

describe('device authorization grant', () => {
  it('is used automatically on a machine without a browser, and the queued call is answered after approval', async () => {
    const d = await demo({ deviceAuthorization: true, deviceIntervalSec: 1 });
    const home = await tempHome();
    const relay = spawnRelay([d.url], { home }); // no DISPLAY, no BROWSER: no browser can open
    relay.send(INIT(1));
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'via device code' } } });
    await expect.poll(() => existsSync(join(storeDir(home, d.url), 'pending.json')), { timeout: 15_000 }).toBe(true);
    const pending = (await readStoreJson<{ kind: string; user_code: string }>(home, d.url, 'pending.json'))!;
    expect(pending.kind).toBe('device');
    await expect.poll(() => relay.stderr(), { timeout: 5_000 }).toContain(pending.user_code);
    d.approveDevice(pending.user_code);
    const answer = await relay.waitFor((m) => m.id === 2);
    expect(JSON.stringify(answer)).toContain('via device code');
    expect(d.counters.tokenRequests.device_code).toBeGreaterThanOrEqual(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(0);
    expect((await readStoreJson<{ grant: string }>(home, d.url, 'tokens.json'))!.grant).toBe('device_code');
    expect(relay.stderr()).not.toMatch(/"device_code"\s*:/);
  });

  it('--device-code against a server without device support says so', async () => {
    const d = await demo();
    const home = await tempHome();
    const relay = spawnRelay([d.url, '--device-code'], { home });
    relay.send(INIT(1));
    const answer = await relay.waitFor((m) => m.id === 1);
    expect(JSON.stringify(answer)).toContain('advertises no device_authorization_endpoint');
  });
});
