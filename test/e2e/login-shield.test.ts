/**
 * A host whose request timeout is shorter than the login must not fail: the relay answers it
 * from the last known server state while the user logs in, then tells it to fetch live lists.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { followingOpener } from '../../src/demo/browser.js';
import { browserEnv, browserLaunches, closeDemos, demo, storeDir } from '../helpers/oauth.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

afterEach(async () => {
  await killAll();
  await closeDemos();
});

/** Shorter than the login, which only ends when the test approves it. */
const HOST_TIMEOUT_MS = 10_000;

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

describe('the host during a login', () => {
  it('first login: initialize answered, tool calls get the login URL, live tools follow list_changed', async () => {
    const d = await demo();
    const home = await tempHome();
    let listChanged = 0;
    const { client } = await connectRelay([d.url, '--login-wait', '1'], {
      home,
      env: browserEnv(home, 'record-only'),
      timeoutMs: HOST_TIMEOUT_MS,
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => void listChanged++),
    });
    // Only the relay's login tool (the server's are not known yet); see login-elicitation.test.ts.
    expect((await client.listTools(undefined, { timeout: HOST_TIMEOUT_MS })).tools.map((t) => t.name)).toEqual(['mcp-relay__login']);
    const early = await client.callTool({ name: 'echo', arguments: { text: 'too early' } }, undefined, { timeout: HOST_TIMEOUT_MS });
    expect(early.isError).toBe(true);
    const url = browserLaunches(home)[0]!;
    expect(text(early)).toContain(url);

    await followingOpener()(url); // the user approves in the browser tab the relay opened
    await expect.poll(() => listChanged, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('echo');
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'after login' } }))).toBe('after login');
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });

  it('later logins: initialize and tools/list come from the state cached at the last connection', async () => {
    const d = await demo();
    const home = await tempHome();
    const first = await connectRelay([d.url], { home, env: browserEnv(home) });
    await first.client.listTools();
    await first.transport.close();
    // The user logged out (or the tokens were lost): the next start needs a new login.
    await rm(join(storeDir(home, d.url), 'tokens.json'));
    const { client } = await connectRelay([d.url, '--login-wait', '1'], { home, env: browserEnv(home, 'record-only'), timeoutMs: HOST_TIMEOUT_MS });
    expect(client.getServerVersion()?.name).toBe(first.client.getServerVersion()?.name);
    const tools = await client.listTools(undefined, { timeout: HOST_TIMEOUT_MS });
    expect(tools.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'add']));
  });

  it('a login that finishes within --login-wait loses nothing: queued calls are relayed', async () => {
    const d = await demo();
    const home = await tempHome();
    const { client } = await connectRelay([d.url, '--login-wait', '30'], { home, env: browserEnv(home) });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'kept' } }))).toBe('kept');
  });

  // One --login-wait window per login, not per request. Before, each request waited its own
  // window (4 s each here: 20 s for the five); the test's own time limit is what catches that.
  it('one --login-wait window per login: a host starting up in order gets every answer from the shield once it has passed', { timeout: 15_000 }, async () => {
    const d = await demo();
    const home = await tempHome();
    const relay = spawnRelay([d.url, '--login-wait', '4'], { home, env: browserEnv(home, 'record-only') });
    type Answer = { id: number; result?: Record<string, unknown>; error?: { message: string } };
    const ask = async (msg: Record<string, unknown>): Promise<Answer> => {
      relay.send(msg);
      return (await relay.waitFor((m) => m.id === msg.id)) as unknown as Answer;
    };
    // The order a host uses: initialize, initialized, the lists, a call, a ping; each after the last answer.
    const init = await ask(INIT(1));
    expect(String(init.result?.instructions)).toContain('waiting for you to log in');
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const tools = await ask({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const call = await ask({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { text: 'during the login' } } });
    const prompts = await ask({ jsonrpc: '2.0', id: 4, method: 'prompts/list' });
    const ping = await ask({ jsonrpc: '2.0', id: 5, method: 'ping' });
    expect((tools.result!.tools as Array<{ name: string }>).map((t) => t.name)).toEqual(['mcp-relay__login']);
    expect(call.result?.isError).toBe(true);
    expect(text(call.result)).toContain(browserLaunches(home)[0]!);
    expect(prompts.result).toEqual({ prompts: [] });
    expect(ping.result).toEqual({});
    // Each answered once, in order, and by the shield: the server ran nothing (every request it saw was refused 401).
    expect(relay.lines.map((l) => (JSON.parse(l) as { id?: number }).id)).toEqual([1, 2, 3, 4, 5]);
    expect(d.counters.mcpRequests).toBe(d.counters.unauthorized401);
    expect(d.counters.tokenRequests.authorization_code).toBe(0);
  });
});
