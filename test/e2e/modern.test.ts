/**
 * A 2025-11-25 host (SDK 1.x Client over stdio) in front of a server that speaks ONLY MCP
 * 2026-07-28 (SDK v2 createMcpHandler, legacy: 'reject'), through the built relay; plus the
 * discover probe against 1.x servers, and a 2026-07-28 host speaking raw lines.
 * Assertions are on what the server saw, not only on what the host got.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  MODERN_HELLO_URI,
  MODERN_SERVER_NAME,
  startModernServer,
  type ModernRecorded,
  type ModernServer,
  type ModernServerOptions,
} from '../helpers/modern-server.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const MODERN = '2026-07-28';
const PV = 'io.modelcontextprotocol/protocolVersion';
const closers: Array<{ close(): Promise<void> }> = [];
/** How long a poll may wait for something that takes milliseconds on an idle machine (2 workers share 2 cores). */
const LOADED_MACHINE_MS = 20_000;

async function modern(opts: ModernServerOptions = {}): Promise<ModernServer> {
  const s = await startModernServer(opts);
  closers.push(s);
  return s;
}

afterEach(async () => {
  await killAll();
  for (const s of closers.splice(0)) await s.close();
});

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

/** POSTs of `method` (and tool `name`) the server received. */
function calls(s: ModernServer, method: string, name?: string): ModernRecorded[] {
  return s.requests.filter((r) => r.body?.method === method && (name === undefined || r.body.params?.name === name));
}

describe('a 2025-11-25 host in front of a 2026-07-28-only server', () => {
  it('answers initialize from server/discover; lists and calls tools, reads resources, gets prompts with the 2026 headers', async () => {
    const s = await modern();
    const { client, stderr } = await connectRelay([s.url], { home: await tempHome() });
    expect(client.getServerVersion()?.name).toBe(MODERN_SERVER_NAME);
    expect(client.getInstructions()).toBe('a modern test server');
    expect(client.getServerCapabilities()?.tools?.listChanged).toBe(true);
    expect(client.getServerCapabilities()?.resources?.subscribe).toBe(true);

    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'ask', 'sample', 'region']));
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'héllo 🌍' } }))).toBe('héllo 🌍');
    const res = await client.readResource({ uri: MODERN_HELLO_URI });
    expect((res.contents[0] as { text: string }).text).toBe('hello world');
    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    expect(JSON.stringify(prompt.messages)).toContain('Hello, Ada!');
    await client.ping(); // answered by the relay: ping is gone in 2026-07-28

    // The server never saw the 2025 handshake, a session, a GET or a DELETE.
    expect(s.methods()).not.toContain('initialize');
    expect(s.methods()).not.toContain('notifications/initialized');
    expect(s.methods()).not.toContain('ping');
    expect(s.methods()[0]).toBe('server/discover');
    expect(s.requests.every((r) => r.method === 'POST')).toBe(true);
    expect(s.requests.some((r) => r.headers['mcp-session-id'] !== undefined)).toBe(false);
    for (const r of s.requests) {
      expect(r.headers['mcp-protocol-version']).toBe(MODERN);
      expect(r.headers['mcp-method']).toBe(r.body?.method);
      expect(r.headers.accept).toContain('text/event-stream');
      expect(r.body?.params?._meta?.[PV as never]).toBe(MODERN);
      expect((r.body?.params?._meta as Record<string, { name?: string }> | undefined)?.['io.modelcontextprotocol/clientInfo']?.name).toBe('test-host');
    }
    expect(calls(s, 'tools/call', 'echo')[0]!.headers['mcp-name']).toBe('echo');
    expect(calls(s, 'resources/read')[0]!.headers['mcp-name']).toBe(MODERN_HELLO_URI);
    expect(calls(s, 'prompts/get')[0]!.headers['mcp-name']).toBe('greet');
    expect(stderr()).toContain('2026-07-28');
  });

  it('mirrors x-mcp-header parameters into Mcp-Param-* (the server rejects the call without them)', async () => {
    const s = await modern();
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    await client.listTools();
    expect(text(await client.callTool({ name: 'region', arguments: { region: 'zürich', query: 'q' } }))).toBe('zürich: q');
    const call = calls(s, 'tools/call', 'region').at(-1)!;
    expect(call.headers['mcp-param-region']).toBe(`=?base64?${Buffer.from('zürich').toString('base64')}?=`);
  });

  it('refreshes tools/list and retries when a call hits HeaderMismatch before the host listed tools', async () => {
    const s = await modern();
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    expect(text(await client.callTool({ name: 'region', arguments: { region: 'eu', query: 'q' } }))).toBe('eu: q');
    expect(calls(s, 'tools/list')).toHaveLength(1);
    expect(calls(s, 'tools/call', 'region').map((r) => r.headers['mcp-param-region'])).toEqual([undefined, 'eu']);
  });

  it('turns an elicitation input request (MRTR) into a host request and retries with inputResponses and requestState', async () => {
    const s = await modern();
    const asked: string[] = [];
    const { client } = await connectRelay([s.url], {
      home: await tempHome(),
      capabilities: { elicitation: { form: {} } },
      setup: (c) =>
        c.setRequestHandler(ElicitRequestSchema, async (req) => {
          asked.push(req.params.message);
          return { action: 'accept', content: { answer: 'forty-two' } };
        }),
    });
    expect(text(await client.callTool({ name: 'ask', arguments: { question: 'answer?' } }))).toBe('you said forty-two');
    expect(asked).toEqual(['answer?']);
    const [first, retry] = calls(s, 'tools/call', 'ask');
    expect(retry!.body!.id).not.toEqual(first!.body!.id);
    expect(retry!.body!.params!.requestState).toBe('asked');
    expect(retry!.body!.params!.inputResponses).toEqual({ answer: { action: 'accept', content: { answer: 'forty-two' } } });
    // The host's capabilities went upstream, so the server knew it may ask.
    expect((first!.body!.params!._meta as Record<string, unknown>)['io.modelcontextprotocol/clientCapabilities']).toEqual({ elicitation: { form: {} } });
  });

  it('tells the server the user declined when the host cannot answer an elicitation', async () => {
    const s = await modern();
    const { client } = await connectRelay([s.url], {
      home: await tempHome(),
      capabilities: { elicitation: { form: {} } },
      setup: (c) =>
        c.setRequestHandler(ElicitRequestSchema, async () => {
          throw new Error('no UI here');
        }),
    });
    expect(text(await client.callTool({ name: 'ask', arguments: { question: 'q' } }))).toBe('the user chose decline');
    expect(calls(s, 'tools/call', 'ask').at(-1)!.body!.params!.inputResponses).toEqual({ answer: { action: 'decline' } });
  });

  it('turns a sampling input request (MRTR) into a host sampling/createMessage', async () => {
    const s = await modern();
    const { client } = await connectRelay([s.url], {
      home: await tempHome(),
      capabilities: { sampling: {} },
      setup: (c) =>
        c.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', model: 'test-model', content: { type: 'text', text: 'Paris' } })),
    });
    expect(text(await client.callTool({ name: 'sample', arguments: { prompt: 'capital of France?' } }))).toBe('sampled: Paris');
    const retry = calls(s, 'tools/call', 'sample').at(-1)!;
    expect(retry.body!.params!.requestState).toBeUndefined(); // none sent, none echoed
  });

  it('opens a subscriptions/listen stream and delivers list_changed to the host', async () => {
    const s = await modern();
    let changed = 0;
    const { client } = await connectRelay([s.url], {
      home: await tempHome(),
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed++),
    });
    await expect.poll(() => calls(s, 'subscriptions/listen').length, { timeout: LOADED_MACHINE_MS }).toBeGreaterThan(0);
    const listen = calls(s, 'subscriptions/listen')[0]!;
    expect(listen.body!.params!.notifications).toEqual({ toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true });
    await expect
      .poll(
        async () => {
          await client.callTool({ name: 'notify_list_changed', arguments: {} });
          return changed;
        },
        { timeout: LOADED_MACHINE_MS },
      )
      .toBeGreaterThan(0);
  });

  it('maps resources/subscribe onto the listen filter', async () => {
    const s = await modern();
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    await client.subscribeResource({ uri: MODERN_HELLO_URI });
    await expect
      .poll(
        () =>
          calls(s, 'subscriptions/listen').some(
            (r) =>
              JSON.stringify((r.body!.params!.notifications as { resourceSubscriptions?: string[] }).resourceSubscriptions) ===
              JSON.stringify([MODERN_HELLO_URI]),
          ),
        { timeout: LOADED_MACHINE_MS },
      )
      .toBe(true);
    expect(s.methods()).not.toContain('resources/subscribe');
  });

  it("passes progress on the answer stream to the host, and sends the host's log level as _meta", async () => {
    const s = await modern();
    const { client } = await connectRelay([s.url], {
      home: await tempHome(),
      setup: (c) => c.setNotificationHandler(LoggingMessageNotificationSchema, async () => {}),
    });
    await client.setLoggingLevel('debug');
    const progress: number[] = [];
    const result = await client.callTool({ name: 'slow', arguments: { steps: 3, delayMs: 20 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(text(result)).toBe('done 3');
    // The last one may be dropped by the SDK 1.x host itself: it handles a response read in the
    // same chunk before the progress notification ahead of it (handlers run in a microtask).
    expect(progress.slice(0, 2)).toEqual([1, 2]);
    expect(s.methods()).not.toContain('logging/setLevel');
    expect((calls(s, 'tools/call', 'slow')[0]!.body!.params!._meta as Record<string, unknown>)['io.modelcontextprotocol/logLevel']).toBe('debug');
  });

  it('cancels upstream by closing the answer stream when the host sends notifications/cancelled', async () => {
    const s = await modern();
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    const abort = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { steps: 50, delayMs: 50 } }, undefined, {
      signal: abort.signal,
      onprogress: () => abort.abort('user cancelled'),
    });
    await expect(call).rejects.toThrow();
    await expect.poll(() => s.counters.slowAborted, { timeout: LOADED_MACHINE_MS }).toBe(1);
    expect(s.methods()).not.toContain('notifications/cancelled');
  });

  it('re-issues a request whose answer stream broke, under a new id, and answers the host once', async () => {
    const s = await modern({ breakFlaky: 1 });
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    expect(text(await client.callTool({ name: 'flaky', arguments: { text: 'x' } }))).toBe('flaky x');
    const tries = calls(s, 'tools/call', 'flaky');
    expect(tries).toHaveLength(2);
    expect(tries[1]!.body!.id).not.toEqual(tries[0]!.body!.id);
  });

  it('exits 0 on stdin EOF without any DELETE', async () => {
    const s = await modern();
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(1));
    const init = await relay.waitFor((m) => m.id === 1);
    expect((init.result as { protocolVersion: string }).protocolVersion).toBe('2025-11-25');
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
    expect(s.requests.some((r) => r.method !== 'POST')).toBe(false);
  });
});

describe('the discover probe against 1.x servers', () => {
  let legacy: TestServer | undefined;
  afterEach(async () => {
    await legacy?.close();
    legacy = undefined;
  });

  it.each(['stateful', 'stateless'] as const)('falls back cleanly to initialize on a %s 1.x server', async (kind) => {
    legacy = await startTestServer({ kind });
    const { client } = await connectRelay([legacy.url], { home: await tempHome() });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'old' } }))).toBe('old');
    const methods = legacy.requests.map((r) => (r.body as { method?: string } | undefined)?.method).filter(Boolean);
    expect(methods[0]).toBe('server/discover');
    expect(methods.filter((m) => m === 'server/discover')).toHaveLength(1); // the verdict is kept
    expect(legacy.counters.initialize).toBe(1);
  });
});

describe('a 2026-07-28 host', () => {
  const META = { [PV]: MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'modern-host', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };

  it('is passed through to a modern server (its own server/discover is the probe)', async () => {
    const s = await modern();
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send({ jsonrpc: '2.0', id: 'd1', method: 'server/discover', params: { _meta: META } });
    const discover = await relay.waitFor((m) => m.id === 'd1');
    expect((discover.result as { supportedVersions: string[] }).supportedVersions).toContain(MODERN);
    relay.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'direct' }, _meta: META } });
    const answer = await relay.waitFor((m) => m.id === 7);
    expect(JSON.stringify(answer)).toContain('direct');
    expect(calls(s, 'server/discover')).toHaveLength(1);
    const call = calls(s, 'tools/call', 'echo')[0]!;
    expect(call.body!.id).toBe(7);
    expect((call.body!.params!._meta as Record<string, { name: string }>)['io.modelcontextprotocol/clientInfo']!.name).toBe('modern-host');
    expect(call.headers['mcp-name']).toBe('echo');
  });

  it('gets a clear error from a 1.x server, and can still fall back to initialize', async () => {
    const legacy = await startTestServer({ kind: 'stateful' });
    closers.push(legacy);
    const relay = spawnRelay([legacy.url], { home: await tempHome() });
    relay.send({ jsonrpc: '2.0', id: 'd1', method: 'server/discover', params: { _meta: META } });
    const refused = await relay.waitFor((m) => m.id === 'd1');
    expect((refused.error as { message: string }).message).toMatch(/only speaks MCP 2025-11-25/);
    relay.send(INIT(2));
    const init = await relay.waitFor((m) => m.id === 2);
    expect((init.result as { protocolVersion: string }).protocolVersion).toBe('2025-11-25');
  });
});
