/**
 * A pending login shown by the host (issue 19, "A login the host can show"): a host that declared
 * URL-mode elicitation gets one `elicitation/create` per login and the completion when it ends; a
 * host without it sees the `mcp-relay__login` tool during the login, and the real tools after it.
 * The relay's browser records only ($BROWSER fixture): the test plays the user who approves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  ToolListChangedNotificationSchema,
  type ElicitRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { followingOpener } from '../../src/demo/browser.js';
import { browserEnv, browserLaunches, closeDemos, demo } from '../helpers/oauth.js';
import { listenLoopback, type LoopbackServer } from '../helpers/loopback-server.js';
import { connectRelay, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const servers: LoopbackServer[] = [];

afterEach(async () => {
  await killAll();
  await closeDemos();
  for (const s of servers.splice(0)) await s.close();
});

/** An id in the relay's own namespace (src/relay/login-elicitation.ts), as a server might pick by chance. */
const CLASHING_ID = 'mcp-relay-login-1';

/**
 * A bare 2025-11-25 Streamable HTTP server (no login) whose tools/call first asks the host a
 * question under {@link CLASHING_ID}, then answers with the answer it got (the tool
 * `ask-then-cancel`: cancels the question at once and answers). Records every JSON-RPC
 * response the relay POSTs to it.
 */
async function askingServer() {
  const answers: Array<Record<string, unknown>> = [];
  let answered: (a: Record<string, unknown>) => void = () => {};
  const s = await listenLoopback((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method !== 'POST') return void res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
      const m = JSON.parse(body) as { id?: unknown; method?: string };
      const json = (obj: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(obj));
      if (m.method === undefined) {
        answers.push(m as Record<string, unknown>);
        answered(m as Record<string, unknown>);
        return void res.writeHead(202).end();
      }
      if (m.id === undefined) return void res.writeHead(202).end();
      if (m.method === 'initialize') {
        return json(
          { jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'asking', version: '1' } } },
          { 'mcp-session-id': 's1' },
        );
      }
      if (m.method !== 'tools/call') return json({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const ask = {
        jsonrpc: '2.0',
        id: CLASHING_ID,
        method: 'elicitation/create',
        params: { mode: 'form', message: 'name?', requestedSchema: { type: 'object', properties: {} } },
      };
      res.write(`event: message\ndata: ${JSON.stringify(ask)}\n\n`);
      if ((m as { params?: { name?: string } }).params?.name === 'ask-then-cancel') {
        const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: CLASHING_ID, reason: 'changed my mind' } };
        const result = { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'cancelled' }] } };
        return void res.end(`event: message\ndata: ${JSON.stringify(cancel)}\n\nevent: message\ndata: ${JSON.stringify(result)}\n\n`);
      }
      answered = (a) => {
        const result = { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: JSON.stringify(a) }] } };
        res.end(`event: message\ndata: ${JSON.stringify(result)}\n\n`);
      };
    });
  });
  servers.push(s);
  return { url: `http://127.0.0.1:${s.port}/mcp`, answers };
}

/** Shorter than the login, which only ends when the test approves it. */
const HOST_TIMEOUT_MS = 10_000;
const opts = { timeout: HOST_TIMEOUT_MS };

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

interface Seen {
  elicitations: Array<{ params: ElicitRequest['params']; requestId: string | number }>;
  completed: string[];
  listChanged: number;
}

async function hostWithElicitation(answer: 'accept' | 'decline', extraArgs: string[] = []) {
  const d = await demo();
  const home = await tempHome();
  const seen: Seen = { elicitations: [], completed: [], listChanged: 0 };
  const relay = await connectRelay([d.url, '--login-wait', '1', ...extraArgs], {
    home,
    env: browserEnv(home, 'record-only'),
    timeoutMs: HOST_TIMEOUT_MS,
    capabilities: { elicitation: { url: {} } },
    setup: (c) => {
      c.setRequestHandler(ElicitRequestSchema, async (req, extra) => {
        seen.elicitations.push({ params: req.params, requestId: extra.requestId });
        return { action: answer };
      });
      c.setNotificationHandler(ElicitationCompleteNotificationSchema, async (n) => void seen.completed.push(n.params.elicitationId));
      c.setNotificationHandler(ToolListChangedNotificationSchema, async () => void seen.listChanged++);
    },
  });
  return { d, home, seen, ...relay };
}

describe('a login the host can show', () => {
  it('a host with URL elicitation gets exactly one elicitation per login, however many requests wait, and the completion after the login', async () => {
    const { d, home, seen, client } = await hostWithElicitation('accept');
    // Several requests while the login waits: each is answered by the shield, none asks again.
    const answers = await Promise.all([
      client.listTools(undefined, opts),
      client.callTool({ name: 'echo', arguments: { text: 'too early' } }, undefined, opts),
      client.listPrompts(undefined, opts),
      client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }, undefined, opts),
    ]);
    expect(answers[1].isError).toBe(true);
    await expect.poll(() => seen.elicitations.length, { timeout: HOST_TIMEOUT_MS }).toBe(1);
    const { params, requestId } = seen.elicitations[0]!;
    expect(params.mode).toBe('url');
    const url = (params as { url: string }).url;
    expect(url).toBe(browserLaunches(home)[0]);
    expect(params.message).toContain(d.url);
    expect(params.message).toContain(`login ${d.url}`);
    // The relay's own request ids live in their own namespace (the server's ids pass unchanged).
    expect(String(requestId)).toMatch(/^mcp-relay-login-/);
    expect(seen.completed).toEqual([]);

    await followingOpener()(url); // the user opens the URL the host showed, and approves
    await expect.poll(() => seen.completed, { timeout: HOST_TIMEOUT_MS }).toEqual([(params as { elicitationId: string }).elicitationId]);
    await expect.poll(() => seen.listChanged, { timeout: HOST_TIMEOUT_MS }).toBeGreaterThan(0);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'after login' } }))).toBe('after login');
    expect(seen.elicitations).toHaveLength(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });

  it('a host whose user declines keeps the login waiting: the browser login still finishes, nothing is asked again, the completion follows', async () => {
    const { d, home, seen, client, stderr } = await hostWithElicitation('decline');
    await expect.poll(() => seen.elicitations.length, { timeout: HOST_TIMEOUT_MS }).toBe(1);
    await client.listTools(undefined, opts);
    // Logged as JSON (quotes escaped).
    await expect.poll(stderr, { timeout: HOST_TIMEOUT_MS }).toMatch(/answered \\?"decline\\?" to the login shown by the host; the login keeps waiting/);
    await followingOpener()(browserLaunches(home)[0]!); // logs in another way: the tab the relay opened
    await expect.poll(() => seen.completed.length, { timeout: HOST_TIMEOUT_MS }).toBe(1);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'in' } }))).toBe('in');
    expect(seen.elicitations).toHaveLength(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });

  it('each login gets its own elicitation (a new elicitationId) and its own completion', async () => {
    const { d, seen, client } = await hostWithElicitation('accept');
    await expect.poll(() => seen.elicitations.length, { timeout: HOST_TIMEOUT_MS }).toBe(1);
    await followingOpener()((seen.elicitations[0]!.params as { url: string }).url);
    await expect.poll(() => seen.completed.length, { timeout: HOST_TIMEOUT_MS }).toBe(1);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'first' } }))).toBe('first');

    d.revokeAll(); // the tokens stop working: the next request needs a second login
    // Already sent when the server refused it: it waits inside the relay for the login, then runs.
    const during = client.callTool({ name: 'echo', arguments: { text: 'during' } }, undefined, { timeout: 2 * HOST_TIMEOUT_MS });
    await expect.poll(() => seen.elicitations.length, { timeout: HOST_TIMEOUT_MS }).toBe(2);
    const [first, second] = seen.elicitations.map((e) => e.params as { elicitationId: string; url: string });
    expect(second!.elicitationId).not.toBe(first!.elicitationId);
    await followingOpener()(second!.url);
    await expect.poll(() => seen.completed, { timeout: HOST_TIMEOUT_MS }).toEqual([first!.elicitationId, second!.elicitationId]);
    expect(text(await during)).toBe('during');
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'second' } }))).toBe('second');
    expect(seen.elicitations).toHaveLength(2);
  });

  // MCP 2025-11-25 defines no failure notification: the completion ends what the host shows, and
  // the failure reaches the host as the answers of its requests.
  it('a login that times out also ends with the completion of its elicitation', async () => {
    const { d, seen, client } = await hostWithElicitation('accept', ['--auth-timeout', '3']);
    await expect.poll(() => seen.elicitations.length, { timeout: HOST_TIMEOUT_MS }).toBe(1);
    await expect.poll(() => seen.completed, { timeout: HOST_TIMEOUT_MS }).toEqual([(seen.elicitations[0]!.params as { elicitationId: string }).elicitationId]);
    const after = await client.callTool({ name: 'echo', arguments: { text: 'x' } }, undefined, opts).catch((err: Error) => err);
    expect(String(after instanceof Error ? after.message : text(after))).toMatch(/login/);
    expect(d.counters.tokenRequests.authorization_code).toBe(0);
  });

  it('a host without URL elicitation sees mcp-relay__login, whose call gives the URL and the paste-back command; after the login, list_changed and the real tools', async () => {
    const d = await demo();
    const home = await tempHome();
    let listChanged = 0;
    const { client, stderr } = await connectRelay([d.url, '--login-wait', '1'], {
      home,
      env: browserEnv(home, 'record-only'),
      timeoutMs: HOST_TIMEOUT_MS,
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => void listChanged++),
    });
    const during = (await client.listTools(undefined, opts)).tools;
    expect(during.map((t) => t.name)).toEqual(['mcp-relay__login']);
    expect(during[0]!.description).toContain(`${d.url} needs the user to log in at ${new URL(d.url).origin}`);

    const called = await client.callTool({ name: 'mcp-relay__login', arguments: {} }, undefined, opts);
    expect(called.isError).toBeFalsy();
    const url = browserLaunches(home)[0]!;
    expect(text(called)).toContain(url);
    expect(text(called)).toContain(`mcp-relay login ${d.url}`);

    await followingOpener()(url);
    await expect.poll(() => listChanged, { timeout: HOST_TIMEOUT_MS }).toBeGreaterThan(0);
    const after = (await client.listTools()).tools.map((t) => t.name);
    expect(after).toContain('echo');
    expect(after).not.toContain('mcp-relay__login');
    // A call from a list fetched during the login: answered by the relay, never sent to the server.
    expect(text(await client.callTool({ name: 'mcp-relay__login', arguments: {} }))).toContain('No login is pending');
    // No elicitation was sent to a host that did not declare it.
    expect(stderr()).not.toContain('could not show the login');
  });

  it("a server request whose id is in the relay's own namespace reaches the host under a fresh id, and its answer goes back under the server's", async () => {
    const server = await askingServer();
    const home = await tempHome();
    const relay = spawnRelay([server.url], { home });
    relay.send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: { elicitation: { form: {}, url: {} } }, clientInfo: { name: 'raw-host', version: '1' } },
    });
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask', arguments: {} } });
    const asked = await relay.waitFor((m) => m.method === 'elicitation/create');
    expect(asked.id).not.toBe(CLASHING_ID);
    expect(String(asked.id)).toMatch(/^mcp-relay-login-/);
    relay.send({ jsonrpc: '2.0', id: asked.id, result: { action: 'accept', content: {} } });
    const result = (await relay.waitFor((m) => m.id === 2)) as { result?: { content: Array<{ text: string }> } };
    expect(JSON.parse(result.result!.content[0]!.text)).toEqual({ jsonrpc: '2.0', id: CLASHING_ID, result: { action: 'accept', content: {} } });
    expect(server.answers).toHaveLength(1);
  });

  it('the cancellation of such a request reaches the host under the id the host knows', async () => {
    const server = await askingServer();
    const relay = spawnRelay([server.url], { home: await tempHome() });
    relay.send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: { elicitation: {} }, clientInfo: { name: 'raw-host', version: '1' } },
    });
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask-then-cancel', arguments: {} } });
    const asked = await relay.waitFor((m) => m.method === 'elicitation/create');
    const cancelled = (await relay.waitFor((m) => m.method === 'notifications/cancelled')) as { params: { requestId: unknown; reason: string } };
    expect(cancelled.params).toEqual({ requestId: asked.id, reason: 'changed my mind' });
    expect(asked.id).not.toBe(CLASHING_ID);
    await relay.waitFor((m) => m.id === 2);
  });
});
