/**
 * Warm start (issue 16): the relay remembers what a server is (remote.json) and a later start
 * skips the `server/discover` probe, so it sends exactly the requests a direct SDK client sends.
 * A stale record (the server changed) is noticed at the first request and the host still gets
 * one correct answer per request. Assertions are on the requests the real servers saw.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { silentLogger } from '../../src/log.js';
import { serverKey } from '../../src/store/paths.js';
import { CredentialStore, type ServerStore } from '../../src/store/store.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { startModernServer, type ModernServer } from '../helpers/modern-server.js';
import { INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const closers: Array<{ close(): Promise<void> }> = [];
/** How long a poll may wait for something that takes milliseconds on an idle machine. */
const LOADED_MACHINE_MS = 20_000;

afterEach(async () => {
  await killAll();
  for (const s of closers.splice(0)) await s.close();
});

function storeOf(home: string, url: string): ServerStore {
  return new CredentialStore(join(home, 'store'), silentLogger()).server(serverKey({ serverUrl: url }));
}

/** "POST initialize", "GET", "DELETE", … for the requests of `s` from index `from` on, sorted. */
function seen(s: TestServer, from = 0): string[] {
  return s.requests
    .slice(from)
    .map((r) => `${r.method}${r.method === 'POST' ? ` ${(r.body as { method?: string } | undefined)?.method ?? 'response'}` : ''}`)
    .sort();
}

/**
 * A 2025 host through the relay: initialize, initialized, tools/list, then stdin closes. Returns
 * every stdout message. Waits for the standalone GET the session opens, so the request list does
 * not depend on who wins that race.
 */
async function hostSession(url: string, home: string, getOpened?: () => boolean): Promise<Array<Record<string, unknown>>> {
  const relay = spawnRelay([url], { home });
  relay.send(INIT(1));
  await relay.waitFor((m) => m.id === 1);
  relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  await relay.waitFor((m) => m.id === 2);
  if (getOpened) await vi.waitFor(() => expect(getOpened()).toBe(true), { timeout: LOADED_MACHINE_MS });
  relay.child.stdin.end();
  expect((await relay.exited).code).toBe(0);
  return relay.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

function answersTo(lines: Array<Record<string, unknown>>, id: number): Array<Record<string, unknown>> {
  return lines.filter((m) => m.id === id && ('result' in m || 'error' in m));
}

describe('warm start against a 2025-11-25 server', () => {
  it('probes on the first start only; the second sends exactly what a direct SDK client sends', async () => {
    const s = await startTestServer({ kind: 'stateful' });
    closers.push(s);

    const direct = new Client({ name: 'direct', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(s.url));
    await direct.connect(transport);
    await direct.listTools();
    await vi.waitFor(() => expect(s.counters.get).toBe(1), { timeout: LOADED_MACHINE_MS });
    await transport.terminateSession();
    await direct.close();
    const directSaw = seen(s);

    const home = await tempHome();
    const cold = s.requests.length;
    await hostSession(s.url, home);
    expect(seen(s, cold).filter((r) => r === 'POST server/discover')).toHaveLength(1);
    expect(await storeOf(home, s.url).readRemote()).toMatchObject({ era: 'legacy', transport: 'http' });

    const warm = s.requests.length;
    const gets = s.counters.get;
    const lines = await hostSession(s.url, home, () => s.counters.get > gets);
    expect(seen(s, warm)).toEqual(directSaw);
    expect(answersTo(lines, 1)).toHaveLength(1);
    expect(answersTo(lines, 2)).toHaveLength(1);
  });

  it('a stale record (the server now speaks only 2026-07-28) is noticed at initialize: one answer, then the modern path', async () => {
    const s: ModernServer = await startModernServer();
    closers.push(s);
    const home = await tempHome();
    await storeOf(home, s.url).writeRemote({ era: 'legacy', transport: 'http', checked_at: Date.now() });

    const relay = spawnRelay([s.url], { home });
    relay.send(INIT(1));
    const init = await relay.waitFor((m) => m.id === 1);
    expect((init.result as { serverInfo: { name: string } }).serverInfo.name).toBe('modern-test-server');
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'after' } } });
    expect(JSON.stringify(await relay.waitFor((m) => m.id === 2))).toContain('after');
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);

    const lines = relay.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(answersTo(lines, 1)).toHaveLength(1);
    expect(answersTo(lines, 2)).toHaveLength(1);
    // The remembered path was tried once (refused with 400), then the probe, then the 2026 session.
    expect(s.methods().slice(0, 2)).toEqual(['initialize', 'server/discover']);
    expect(s.methods().filter((m) => m === 'initialize')).toHaveLength(1);
    expect(s.methods().filter((m) => m === 'tools/call')).toHaveLength(1);
    expect(await storeOf(home, s.url).readRemote()).toMatchObject({ era: 'modern' });
  });

  it('a stale legacy-SSE record for a Streamable HTTP server: the stream does not open, nothing is sent twice', async () => {
    const s = await startTestServer({ kind: 'stateful' });
    closers.push(s);
    const home = await tempHome();
    await storeOf(home, s.url).writeRemote({ era: 'legacy', transport: 'sse', checked_at: Date.now() });

    const lines = await hostSession(s.url, home);
    expect(answersTo(lines, 1)).toHaveLength(1);
    expect(answersTo(lines, 2)).toHaveLength(1);
    expect(s.counters.initialize).toBe(1);
    expect(seen(s).filter((r) => r === 'POST tools/list')).toHaveLength(1);
    expect(await storeOf(home, s.url).readRemote()).toMatchObject({ era: 'legacy', transport: 'http' });
  });
});

describe('warm start against a 2026-07-28 server', () => {
  it('the probe is the session (its DiscoverResult answers initialize): cold and warm starts send the same requests', async () => {
    const s = await startModernServer();
    closers.push(s);
    const home = await tempHome();
    const run = async () => {
      const from = s.methods().length;
      const lines = await hostSession(s.url, home);
      expect(answersTo(lines, 1)).toHaveLength(1);
      expect(answersTo(lines, 2)).toHaveLength(1);
      const methods = s.methods().slice(from);
      // The listen stream (list_changed) may or may not have opened before stdin closed: not counted.
      return methods.filter((m) => m !== 'subscriptions/listen');
    };
    const cold = await run();
    expect(await storeOf(home, s.url).readRemote()).toMatchObject({ era: 'modern', transport: 'http' });
    const warm = await run();
    expect(cold).toEqual(['server/discover', 'tools/list']);
    expect(warm).toEqual(cold);
  });
});
