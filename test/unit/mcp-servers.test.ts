/**
 * Proves the MCP fixture servers (test/helpers/mcp-servers.ts) work, using the SDK Client
 * directly (no relay), so an e2e failure can be blamed on the relay and not the fixture.
 */
import { createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { restartTestServer, startTestServer, type ServerKind, type TestServer, type TestServerOptions } from '../helpers/mcp-servers.js';
import { PROTOCOL_VERSION, RAW_INITIALIZE, rawOpen, rawPost, rawPostInSession, readSseUntil } from '../helpers/mcp-raw-http.js';

const ALL_KINDS: ServerKind[] = ['stateful', 'stateless', 'json', 'sse'];
/** Kinds whose POST responses are SSE streams, so request-scoped notifications arrive. */
const STREAMING_KINDS: ServerKind[] = ['stateful', 'stateless', 'sse'];
/** Kinds with a session and a stream, so server→client requests work. */
const BIDIRECTIONAL_KINDS: ServerKind[] = ['stateful', 'sse'];
const SESSION_KINDS: ServerKind[] = ['stateful', 'json', 'sse'];
const CUSTOM_HEADER = { name: 'X-Test-Header', value: 'fixture-123' };

const servers: TestServer[] = [];
const clients: Client[] = [];

afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  await Promise.allSettled(servers.splice(0).map((s) => s.close()));
});

async function start(opts: TestServerOptions): Promise<TestServer> {
  const server = await startTestServer(opts);
  servers.push(server);
  return server;
}

async function connect(server: TestServer, headers: Record<string, string> = {}) {
  const client = new Client({ name: 'fixture-test', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: { form: {} }, roots: {} } });
  client.onerror = () => {}; // reconnect attempts after a server-side drop are expected noise
  client.setRequestHandler(CreateMessageRequestSchema, (req) => {
    const first = req.params.messages[0]?.content;
    const prompt = first !== undefined && !Array.isArray(first) && first.type === 'text' ? first.text : '?';
    return { role: 'assistant', model: 'test-model', content: { type: 'text', text: `sampled: ${prompt}` } };
  });
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { answer: '42' } }));
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///a' }, { uri: 'file:///b' }] }));
  const url = new URL(server.url);
  const transport =
    server.kind === 'sse' ? new SSEClientTransport(url, { requestInit: { headers } }) : new StreamableHTTPClientTransport(url, { requestInit: { headers } });
  clients.push(client);
  await client.connect(transport);
  return { client, transport };
}

function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content;
  const first = content?.[0];
  if (first?.type !== 'text' || first.text === undefined) throw new Error(`no text content in ${JSON.stringify(result)}`);
  return first.text;
}

async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  return textOf(await client.callTool({ name, arguments: args }));
}

describe.each(ALL_KINDS)('fixture kind %s', (kind) => {
  it('serves tools, resources and prompts to the SDK client', async () => {
    const server = await start({ kind });
    const { client } = await connect(server);

    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(['add', 'ask', 'big', 'echo', 'headers', 'log', 'notify_list_changed', 'roots', 'sample', 'slow']);
    expect(await callText(client, 'echo', { text: 'hi there' })).toBe('hi there');
    expect(await callText(client, 'add', { a: 2, b: 40 })).toBe('42');
    expect(await callText(client, 'big', { bytes: 100_000 })).toBe('x'.repeat(100_000));

    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(['test://hello']);
    expect((await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate)).toEqual(['test://item/{id}']);
    const hello = await client.readResource({ uri: 'test://hello' });
    expect(hello.contents[0]).toMatchObject({ uri: 'test://hello', text: 'hello world' });
    const item = await client.readResource({ uri: 'test://item/7' });
    expect(item.contents[0]).toMatchObject({ uri: 'test://item/7', text: 'item 7' });

    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['greet']);
    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    expect(prompt.messages).toEqual([{ role: 'user', content: { type: 'text', text: 'Hello, Ada!' } }]);

    expect(server.counters.initialize).toBe(1);
    expect(server.requests.some((r) => r.method === 'POST' && (r.body as { method?: string }).method === 'tools/call')).toBe(true);
  });

  it('records custom request headers and echoes them from the headers tool', async () => {
    const server = await start({ kind });
    const { client } = await connect(server, { [CUSTOM_HEADER.name]: CUSTOM_HEADER.value });

    const echoed = JSON.parse(await callText(client, 'headers')) as Record<string, string>;
    expect(echoed['x-test-header']).toBe(CUSTOM_HEADER.value);
    expect(server.seenHeaders.length).toBeGreaterThan(0);
    expect(server.seenHeaders.every((h) => h['x-test-header'] === CUSTOM_HEADER.value)).toBe(true);
  });

  it('requireHeader: 401 without WWW-Authenticate when missing, served when present', async () => {
    const server = await start({ kind, requireHeader: CUSTOM_HEADER });

    const refused = await rawOpen(server);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBeNull();
    expect(await refused.text()).toBe('Unauthorized');
    expect(server.counters.initialize + server.counters.get).toBe(0);

    const accepted = await rawOpen(server, { [CUSTOM_HEADER.name]: CUSTOM_HEADER.value });
    expect(accepted.status).toBe(200);
    await accepted.body?.cancel();

    const { client } = await connect(server, { [CUSTOM_HEADER.name]: CUSTOM_HEADER.value });
    expect(await callText(client, 'echo', { text: 'authorised' })).toBe('authorised');
  });
});

describe.each(STREAMING_KINDS)('fixture kind %s: request-scoped notifications', (kind) => {
  it('slow sends one progress notification per step', async () => {
    const server = await start({ kind });
    const { client } = await connect(server);
    const progress: number[] = [];
    const result = await client.callTool({ name: 'slow', arguments: { steps: 3, delayMs: 5 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(textOf(result)).toBe('done 3');
    expect(progress).toEqual([1, 2, 3]);
  });

  it('log sends a logging message notification', async () => {
    const server = await start({ kind });
    const { client } = await connect(server);
    const logged: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push(n.params.data);
    });
    expect(await callText(client, 'log', { message: 'hello log' })).toBe('ok');
    await vi.waitFor(() => expect(logged).toEqual(['hello log']));
  });
});

describe('fixture kind json', () => {
  it('answers slow with one JSON body; the SDK drops its progress notifications', async () => {
    const server = await start({ kind: 'json' });
    const { client } = await connect(server);
    const progress: number[] = [];
    const result = await client.callTool({ name: 'slow', arguments: { steps: 2, delayMs: 1 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(textOf(result)).toBe('done 2');
    expect(progress).toEqual([]);
  });
});

describe.each(BIDIRECTIONAL_KINDS)('fixture kind %s: server→client requests', (kind) => {
  it('sample, ask and roots are answered by the client handlers', async () => {
    const server = await start({ kind });
    const { client } = await connect(server);
    expect(await callText(client, 'sample', { prompt: 'pick a number' })).toBe('sampled: pick a number');
    expect(await callText(client, 'ask', { question: 'meaning of life?' })).toBe('42');
    expect(await callText(client, 'roots')).toBe('file:///a\nfile:///b');
  });

  it('slow stops on client cancellation and counts it', async () => {
    const server = await start({ kind });
    const { client } = await connect(server);
    const abort = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { steps: 1_000, delayMs: 20 } }, undefined, {
      signal: abort.signal,
      onprogress: () => abort.abort('test cancels'),
    });
    await expect(call).rejects.toThrow();
    await vi.waitFor(() => expect(server.counters.cancelled).toBe(1));
  });

  it('notify_list_changed reaches the client as tools/list_changed', async () => {
    const server = await start({ kind });
    const { client } = await connect(server);
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed += 1;
    });
    // Streamable HTTP sends it on the standalone GET stream, which the client opens
    // asynchronously after initialize: call until one has been delivered.
    await vi.waitFor(
      async () => {
        expect(await callText(client, 'notify_list_changed')).toBe('ok');
        expect(changed).toBeGreaterThan(0);
      },
      { timeout: 5_000, interval: 50 },
    );
  });
});

describe.each(SESSION_KINDS)('fixture kind %s: sessions', (kind) => {
  it('dropAllSessions expires the session: the old id then gets 404', async () => {
    const server = await start({ kind });
    await connect(server);
    const [oldId] = server.sessionIds();
    expect(oldId).toBeDefined();

    await server.dropAllSessions();
    expect(server.sessionIds()).not.toContain(oldId);
    const res = await rawPostInSession(server, oldId!);
    expect(res.status).toBe(404);
    await res.body?.cancel();
  });

  it('restartTestServer keeps the port and forgets every session', async () => {
    const first = await start({ kind });
    await connect(first);
    const [oldId] = first.sessionIds();

    const second = await restartTestServer(first, { kind });
    servers.push(second);
    expect(second.port).toBe(first.port);
    expect(second.url).toBe(first.url);
    const res = await rawPostInSession(second, oldId!);
    expect(res.status).toBe(404);
    await res.body?.cancel();

    const { client } = await connect(second);
    expect(await callText(client, 'echo', { text: 'after restart' })).toBe('after restart');
  });
});

describe('fixture kind stateful', () => {
  it('counts DELETE and closes the session on terminateSession', async () => {
    const server = await start({ kind: 'stateful' });
    const { transport } = await connect(server);
    expect(server.sessionIds()).toHaveLength(1);
    await (transport as StreamableHTTPClientTransport).terminateSession();
    expect(server.counters.deleteSession).toBe(1);
    expect(server.sessionIds()).toEqual([]);
  });

  it('without eventStore, SSE events carry no ids', async () => {
    const server = await start({ kind: 'stateful' });
    const res = await rawPost(server.url, RAW_INITIALIZE);
    const body = await readSseUntil(res, (t) => t.includes('"result"'));
    expect(body).not.toMatch(/^id:/m);
  });

  it('with eventStore, streams carry event ids and Last-Event-ID replays what followed', async () => {
    const server = await start({ kind: 'stateful', eventStore: true });
    const init = await rawPost(server.url, RAW_INITIALIZE);
    const sessionId = init.headers.get('mcp-session-id')!;
    const body = await readSseUntil(init, (t) => t.includes('"result"'));
    const ids = [...body.matchAll(/^id: ?(.+)$/gm)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThanOrEqual(2); // priming event, then the initialize result

    const resumed = await fetch(server.url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': PROTOCOL_VERSION, 'last-event-id': ids[0]! },
    });
    expect(resumed.status).toBe(200);
    const replay = await readSseUntil(resumed, (t) => t.includes('"result"'));
    expect(replay).toContain(`id: ${ids[1]}`);
    expect(replay).toContain('"serverInfo"');
  });

  it('close() frees the port even with an open stream', async () => {
    const server = await start({ kind: 'stateful' });
    await connect(server);
    await vi.waitFor(() => expect(server.counters.get).toBeGreaterThan(0)); // the client's GET stream
    await server.close();

    const probe = createNetServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(server.port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
});
