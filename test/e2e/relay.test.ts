/**
 * The relay as a host sees it: the built CLI spawned over stdio, against real SDK servers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { restartTestServer, startTestServer, type ServerKind, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const servers: TestServer[] = [];
async function server(kind: ServerKind, extra: Partial<Parameters<typeof startTestServer>[0]> = {}): Promise<TestServer> {
  const s = await startTestServer({ kind, ...extra });
  servers.push(s);
  return s;
}

afterEach(async () => {
  await killAll();
  for (const s of servers.splice(0)) await s.close();
});

function text(result: unknown): string {
  const content = (result as { content: Array<{ type: string; text: string }> }).content;
  return content.map((c) => c.text).join('');
}

describe.each(['stateful', 'stateless', 'json', 'sse'] as const)('relaying to a %s server', (kind) => {
  it('lists and calls tools, reads resources, gets prompts', async () => {
    const s = await server(kind);
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'add', 'slow']));
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'héllo 🌍' } }))).toBe('héllo 🌍');
    expect(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }))).toBe('42');
    const res = await client.readResource({ uri: 'test://hello' });
    expect((res.contents[0] as { text: string }).text).toBe('hello world');
    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    expect(JSON.stringify(prompt.messages)).toContain('Hello, Ada!');
    expect(s.counters.initialize).toBeGreaterThanOrEqual(1);
  });
});

describe('protocol behaviour through the relay', () => {
  // Read as raw stdout lines, not through the SDK Client: it drops progress that arrives in the
  // same pipe read as the final answer, which happens whenever a loaded machine (the node matrix
  // on 2 shared cores) delays the relay by more than the tool's 30 ms between steps. What the
  // relay owes the host is every notification, in order, before the answer.
  it('passes progress notifications of a long tool to the host, before the answer', async () => {
    const s = await server('stateful');
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const call = { name: 'slow', arguments: { steps: 3, delayMs: 30 }, _meta: { progressToken: 'p-1' } };
    relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: call });
    const answer = await relay.waitFor((m) => m.id === 2);
    expect(text(answer.result)).toBe('done 3');
    type Line = { id?: unknown; method?: string; params?: { progressToken?: unknown; progress?: number } };
    const messages = relay.lines.map((l) => JSON.parse(l) as Line);
    const before = messages.slice(
      0,
      messages.findIndex((m) => m.id === 2),
    );
    const progress = before.filter((m) => m.method === 'notifications/progress' && m.params?.progressToken === 'p-1').map((m) => m.params?.progress);
    expect(progress).toEqual([1, 2, 3]);
  });

  it("passes the host's cancellation to the server", async () => {
    const s = await server('stateful');
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    const abort = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { steps: 50, delayMs: 100 } }, undefined, {
      signal: abort.signal,
      onprogress: () => abort.abort('user cancelled'),
    });
    await expect(call).rejects.toThrow();
    await expect.poll(() => s.counters.cancelled, { timeout: 10_000 }).toBe(1);
  });

  it('relays server-initiated sampling, elicitation and roots requests to the host and the answers back', async () => {
    const s = await server('stateful');
    const { client } = await connectRelay([s.url], {
      home: await tempHome(),
      capabilities: { sampling: {}, elicitation: { form: {} }, roots: {} },
      setup: (c) => {
        c.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', model: 'test-model', content: { type: 'text', text: 'sampled!' } }));
        c.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { answer: 'forty-two' } }));
        c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
      },
    });
    expect(text(await client.callTool({ name: 'sample', arguments: { prompt: 'hi' } }))).toContain('sampled!');
    expect(text(await client.callTool({ name: 'ask', arguments: { question: 'answer?' } }))).toContain('forty-two');
    expect(text(await client.callTool({ name: 'roots', arguments: {} }))).toContain('file:///work');
  });

  it('opens the standalone GET stream and relays notifications the server sends on it', async () => {
    const s = await server('stateful');
    let changed = 0;
    const { client } = await connectRelay([s.url], {
      home: await tempHome(),
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed++),
    });
    await expect.poll(() => s.counters.get, { timeout: 10_000 }).toBeGreaterThan(0);
    // list_changed goes out on the GET stream (not on the tool call's own stream).
    await expect
      .poll(
        async () => {
          await client.callTool({ name: 'notify_list_changed', arguments: {} });
          return changed;
        },
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0);
  });

  it('starts a new session transparently when the server restarts mid-session (404 → re-initialize)', async () => {
    let s = await server('stateful');
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'before' } }))).toBe('before');
    s = await restartTestServer(s, { kind: 'stateful' });
    servers.push(s);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'after' } }))).toBe('after');
    // The new server saw exactly one initialize: the relay's replay of the host's original one.
    expect(s.counters.initialize).toBe(1);
    const init = s.requests.find((r) => (r.body as { method?: string } | undefined)?.method === 'initialize');
    expect((init!.body as { params: { clientInfo: { name: string } } }).params.clientInfo.name).toBe('test-host');
  });

  it('recovers when the server drops every session at once', async () => {
    const s = await server('stateful');
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    await client.callTool({ name: 'echo', arguments: { text: 'one' } });
    await s.dropAllSessions();
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'two' } }))).toBe('two');
    expect(s.counters.initialize).toBe(2);
  });

  it('answers with an error while the server is down and works again when it is back', async () => {
    let s = await server('stateful');
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    await s.close();
    await expect(client.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toThrow(/refused the connection|cannot reach|was reset/);
    s = await restartTestServer(s, { kind: 'stateful' });
    servers.push(s);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'back' } }))).toBe('back');
  });

  it('sends --header values (with ${ENV} expanded) on every request', async () => {
    const s = await server('stateful', { requireHeader: { name: 'x-api-key', value: 'k-123' } });
    const { client } = await connectRelay([s.url, '--header', 'X-Api-Key: ${KEY}', '-H', 'X-Other:plain'], { home: await tempHome(), env: { KEY: 'k-123' } });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'ok' } }))).toBe('ok');
    const posts = s.seenHeaders.filter((h) => h['x-api-key'] !== undefined);
    expect(posts.length).toBe(s.seenHeaders.length);
    expect(s.seenHeaders.every((h) => h['x-other'] === 'plain')).toBe(true);
    expect(s.seenHeaders.some((h) => h['mcp-protocol-version'] === '2025-11-25')).toBe(true);
    // node:http sends no User-Agent of its own; the relay names itself.
    expect(s.seenHeaders.every((h) => /^mcp-relay\/\d+\.\d+\.\d+/.test(String(h['user-agent'])))).toBe(true);
  });

  it("a User-Agent given with --header replaces the relay's own", async () => {
    const s = await server('stateful');
    const { client } = await connectRelay([s.url, '-H', 'User-Agent: corp-gateway/2'], { home: await tempHome() });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'ok' } }))).toBe('ok');
    expect(s.seenHeaders.length).toBeGreaterThan(0);
    expect(s.seenHeaders.every((h) => h['user-agent'] === 'corp-gateway/2')).toBe(true);
  });

  it('falls back to legacy SSE in auto mode but not with --transport http', async () => {
    const s = await server('sse');
    const { client, stderr } = await connectRelay([s.url], { home: await tempHome() });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'legacy' } }))).toBe('legacy');
    expect(stderr()).toContain('legacy HTTP+SSE');
    await expect(connectRelay([s.url, '--transport', 'http'], { home: await tempHome(), timeoutMs: 20_000 })).rejects.toThrow(/HTTP 40/);
  });
});

describe('the stdio side', () => {
  it('writes nothing but JSON-RPC to stdout, even at --debug with a parse error and a failing call', async () => {
    const s = await server('stateful');
    const relay = spawnRelay([s.url, '--debug'], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.sendRaw('this is not json\n');
    relay.sendRaw('[1,2]\n');
    relay.sendRaw(Buffer.from([0xff, 0xfe, 0x0a]).toString('latin1'));
    relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'still here' } } });
    const answer = await relay.waitFor((m) => m.id === 2);
    expect(JSON.stringify(answer)).toContain('still here');
    relay.child.stdin.end();
    const exit = await relay.exited;
    expect(exit.code).toBe(0);
    expect(relay.stderr()).toContain('"level":20'); // debug logs were on, and went to stderr
    for (const line of relay.lines) {
      const m = JSON.parse(line) as { jsonrpc?: string };
      expect(m.jsonrpc).toBe('2.0');
    }
    const errors = relay.lines.map((l) => JSON.parse(l) as { id: unknown; error?: { code: number } }).filter((m) => m.id === null);
    expect(errors.map((e) => e.error!.code)).toEqual([-32700, -32600, -32700]);
  });

  it('ends the session with DELETE and exits 0 when stdin closes', async () => {
    const s = await server('stateful');
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
    expect(s.counters.deleteSession).toBe(1);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('ends the session and exits 0 on %s', async (signal) => {
    const s = await server('stateful');
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.child.kill(signal);
    expect((await relay.exited).code).toBe(0);
    expect(s.counters.deleteSession).toBe(1);
  });
});

describe('bad command-line input', () => {
  it.each([
    [['ftp://example.com/mcp'], /must be http\(s\)/],
    [['http://example.com/mcp'], /--allow-http/],
    [['not a url'], /neither a URL \(https:\/\/…\) nor a server of the servers file/],
    [['https://example.com/mcp', '--header', 'NoColonHere'], /must look like "Name: value"/],
    [['https://example.com/mcp', '--header', 'X-Key: ${MISSING_VAR}'], /MISSING_VAR is not set/],
    [['https://example.com/mcp', '--transport', 'carrier-pigeon'], /Invalid values/],
    [['https://example.com/mcp', '--no-such-flag'], /Unknown argument/],
    [[], /missing the server: a URL/],
  ])('%j → exit 2 with a clear message', async (args, message) => {
    const relay = spawnRelay(args, { home: await tempHome() });
    const exit = await relay.exited;
    expect(exit.code).toBe(2);
    expect(relay.stderr()).toMatch(message);
    expect(relay.lines).toEqual([]);
  });
});
