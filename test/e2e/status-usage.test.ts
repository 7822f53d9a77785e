/**
 * `mcp-relay status` as the user sees it around a running relay: "last used" follows the relays'
 * use of the stored login (not only their start), and after a logout it says the login is gone
 * rather than that nothing was ever stored. The demo OAuth server, relays logged in through the
 * fixture browser, the built CLI.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { serverKey } from '../../src/store/paths.js';
import { CredentialStore } from '../../src/store/store.js';
import { browserEnv, closeDemos, demo, readStoreJson } from '../helpers/oauth.js';
import { connectRelay, killAll, RELAY_BIN, relayEnv, tempHome } from '../helpers/relay.js';
import { join } from 'node:path';

afterEach(async () => {
  await killAll();
  await closeDemos();
});

const HOUR_MS = 3_600_000;

function cli(home: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RELAY_BIN, ...args], { env: relayEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('mcp-relay status around running relays', () => {
  it('"last used" is updated while a relay keeps using the stored login, not only when it starts', async () => {
    const d = await demo();
    const home = await tempHome();
    // A short interval stands in for the default 5 minutes (MCP_RELAY_LAST_USED_INTERVAL_S).
    const { client } = await connectRelay([d.url], { home, env: { ...browserEnv(home), MCP_RELAY_LAST_USED_INTERVAL_S: '1' } });
    await client.listTools();
    // As if this relay had been started two hours ago and not used since.
    const server = new CredentialStore(join(home, 'store'), silentLogger()).server(serverKey({ serverUrl: d.url }));
    const record = (await server.readServer())!;
    await server.writeServer({ ...record, last_used_at: Date.now() - 2 * HOUR_MS });
    expect((await cli(home, ['status'])).stdout).toMatch(/last used\s+2 h ago/);
    // The relay is used: server.json follows, within the interval.
    await expect
      .poll(
        async () => {
          await client.callTool({ name: 'echo', arguments: { text: 'in use' } });
          return Date.now() - ((await readStoreJson<{ last_used_at: number }>(home, d.url, 'server.json'))?.last_used_at ?? 0);
        },
        { timeout: 15_000, interval: 300 },
      )
      .toBeLessThan(60_000);
    expect((await cli(home, ['status'])).stdout).toMatch(/last used\s+(now|\d+ s ago)/);
  });

  it('a relay whose host leaves at once still records the server (its start does not wait for the record, its exit does)', async () => {
    const d = await demo();
    const home = await tempHome();
    const before = Date.now();
    const child = spawn(process.execPath, [RELAY_BIN, d.url], { env: relayEnv(home), stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end();
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    const record = await readStoreJson<{ url: string; last_used_at: number }>(home, d.url, 'server.json');
    expect(record?.url).toBe(d.url);
    expect(record!.last_used_at).toBeGreaterThanOrEqual(before);
    expect((await cli(home, ['status'])).stdout).toContain(d.url);
  });

  it('after a logout, status says nothing is logged in (not "Nothing is stored yet")', async () => {
    const d = await demo();
    const home = await tempHome();
    const { client, transport } = await connectRelay([d.url], { home, env: browserEnv(home) });
    await client.listTools();
    await transport.close();
    expect((await cli(home, ['status'])).stdout).toContain(d.url);
    const out = await cli(home, ['logout', d.url]);
    expect(out.code).toBe(0);
    const status = await cli(home, ['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).not.toContain('Nothing is stored yet');
    expect(status.stdout).toContain('Nothing is logged in');
    expect(status.stdout).toContain('removed by a logout');
  });
});
