/**
 * Issue 17: two MCP servers behind the same authorization server reuse one client registration
 * (the issuer record, issuers/<key>/client.json), and a server whose authorization server refuses
 * the reused client (invalid_client) falls back to a registration of its own. Counted at the AS.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { issuerKey } from '../../src/store/store.js';
import { closeAggregates, connectAggregate } from '../helpers/aggregate.js';
import { browserEnv, closeDemos, demo, readStoreJson } from '../helpers/oauth.js';
import { startPlainOAuthServer, type PlainOAuthServer } from '../helpers/plain-oauth.js';
import { connectRelay, INIT, killAll, RELAY_BIN, relayEnv, spawnRelay, tempHome } from '../helpers/relay.js';

const servers: PlainOAuthServer[] = [];
afterEach(async () => {
  await closeAggregates();
  await killAll();
  for (const s of servers.splice(0)) await s.close();
  await closeDemos();
});

async function server(opts: Parameters<typeof startPlainOAuthServer>[0]): Promise<PlainOAuthServer> {
  const s = await startPlainOAuthServer(opts);
  servers.push(s);
  return s;
}

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

/** Log in to `url` through a relay (the fixture browser approves) and call a tool. */
async function useServer(url: string, home: string, word: string): Promise<string> {
  const { client } = await connectRelay([url], { home, env: browserEnv(home) });
  const out = text(await client.callTool({ name: 'echo', arguments: { text: word } }));
  await client.close();
  return out;
}

const registrations = (s: PlainOAuthServer) => s.records.filter((r) => r.endpoint === '/register');
const codeExchanges = (s: PlainOAuthServer) => s.records.filter((r) => r.endpoint === '/token' && r.params.grant_type === 'authorization_code');

describe('one client registration per authorization server', () => {
  it('a second server of the same issuer logs in with the client the first one registered', async () => {
    const s = await server({ resource: (origin) => `${origin}/mcp`, extraMcpPaths: ['/mcp2'] });
    const home = await tempHome();
    const second = `${s.origin}/mcp2`;
    expect(await useServer(s.url, home, 'one')).toBe('one');
    expect(await useServer(second, home, 'two')).toBe('two');

    expect(registrations(s)).toHaveLength(1);
    const registered = registrations(s)[0]!.params.client_id;
    // Both logins ran with that client, each for its own resource.
    expect(codeExchanges(s).map((r) => [r.params.client_id, r.params.resource])).toEqual([
      [registered, s.url],
      [registered, second],
    ]);
    const a = await readStoreJson(home, s.url, 'client.json');
    const b = await readStoreJson(home, second, 'client.json');
    expect(a?.client_id).toBe(registered);
    expect(b).toMatchObject({ client_id: registered, reused: true });
    const record = join(home, 'store', 'issuers', issuerKey(s.origin), 'client.json');
    expect(existsSync(record)).toBe(true);
    // `logout --all` forgets the shared registration too.
    await promisify(execFile)(process.execPath, [RELAY_BIN, 'logout', '--all'], { env: relayEnv(home) });
    expect(existsSync(record)).toBe(false);
  });

  it('an aggregate: the server that logs in second reuses the registration of the first', async () => {
    const s = await server({ resource: (origin) => `${origin}/mcp`, extraMcpPaths: ['/mcp2'] });
    const home = await tempHome();
    expect(await useServer(s.url, home, 'one')).toBe('one');
    const agg = await connectAggregate(
      [
        { name: 'a', url: s.url },
        { name: 'b', url: `${s.origin}/mcp2` },
      ],
      { home, env: browserEnv(home) },
    );
    expect(text(await agg.client.callTool({ name: 'b__echo', arguments: { text: 'two' } }))).toBe('two');
    expect(text(await agg.client.callTool({ name: 'a__echo', arguments: { text: 'three' } }))).toBe('three');
    expect(registrations(s)).toHaveLength(1);
    expect(codeExchanges(s).map((r) => r.params.client_id)).toEqual([registrations(s)[0]!.params.client_id, registrations(s)[0]!.params.client_id]);
  });

  it('an authorization server that refuses the reused client (invalid_client) gets a fresh registration for that server', async () => {
    const second = (origin: string) => `${origin}/mcp2`;
    let first: string | undefined;
    const s = await server({
      resource: (origin) => `${origin}/mcp`,
      extraMcpPaths: ['/mcp2'],
      // Clients are bound to the resource they were first used for.
      refuseClient: (clientId, params) => {
        first ??= clientId;
        return clientId === first && params.resource !== `${s.origin}/mcp`;
      },
    });
    const home = await tempHome();
    expect(await useServer(s.url, home, 'one')).toBe('one');
    expect(await useServer(second(s.origin), home, 'two')).toBe('two');

    expect(registrations(s)).toHaveLength(2);
    const [ownA, ownB] = registrations(s).map((r) => r.params.client_id);
    expect(codeExchanges(s).map((r) => r.params.client_id)).toEqual([ownA, ownA, ownB]);
    expect((await readStoreJson(home, second(s.origin), 'client.json'))?.client_id).toBe(ownB);
    expect((await readStoreJson(home, second(s.origin), 'client.json'))?.reused).toBeUndefined();
    // The first server keeps working with its client.
    expect(await useServer(s.url, home, 'three')).toBe('three');
    expect(registrations(s)).toHaveLength(2);
  });

  it('a device-flow registration of one server (placeholder redirect URI, no port) does not stand in the way of a browser login to another', async () => {
    const d = await demo({ deviceAuthorization: true, deviceIntervalSec: 1 });
    const home = await tempHome();
    const device = spawnRelay([d.url, '--device-code'], { home });
    device.send(INIT(1));
    device.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    device.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'device' } } });
    await expect.poll(() => readStoreJson<{ user_code?: string }>(home, d.url, 'pending.json').then((p) => p?.user_code), { timeout: 15_000 }).toBeDefined();
    d.approveDevice((await readStoreJson<{ user_code: string }>(home, d.url, 'pending.json'))!.user_code);
    expect(JSON.stringify(await device.waitFor((m) => m.id === 2))).toContain('device');
    // The same server under another identity (an explicit --resource): same issuer, browser login.
    const { client } = await connectRelay([d.url, '--resource', d.url], { home, env: browserEnv(home) });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'browser' } }))).toBe('browser');
    // The device client names no usable redirect URI, so the browser login registered its own.
    expect(d.counters.registrations).toBe(2);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });
});
