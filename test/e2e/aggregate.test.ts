/**
 * One relay process for many servers (issue 17): the built relay run as an aggregate of three
 * real servers on 127.0.0.1: a 2025-11-25 SDK server (a), the OAuth-protected demo server (b,
 * logged in through the $BROWSER fixture) and a 2026-07-28 server (c). Every assertion is on
 * what the host got and what each server saw.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { followingOpener } from '../../src/demo/browser.js';
import { aggregateArgs, allPages, closeAggregates, connectAggregate, writeServersFile, type AggregateEntry } from '../helpers/aggregate.js';
import { restartTestServer, startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { startPagedServer } from '../helpers/paged-tools-server.js';
import { startModernServer, type ModernServer } from '../helpers/modern-server.js';
import { browserEnv, browserLaunches, closeDemos, demo } from '../helpers/oauth.js';
import { prng, testSeed } from '../helpers/prng.js';
import { killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await closeAggregates();
  await killAll();
  for (const close of closers.splice(0)) await close();
  await closeDemos();
});

async function sdkServer(): Promise<TestServer> {
  const s = await startTestServer({ kind: 'stateful' });
  closers.push(() => s.close());
  return s;
}

async function modernServer(): Promise<ModernServer> {
  const s = await startModernServer();
  closers.push(() => s.close());
  return s;
}

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

/** tools/call requests a 2025 fixture received for tool `name`. */
function calls(s: TestServer, name: string): number {
  return s.requests.filter(
    (r) =>
      (r.body as { method?: string; params?: { name?: string } } | undefined)?.method === 'tools/call' &&
      (r.body as { params: { name: string } }).params.name === name,
  ).length;
}

function modernCalls(s: ModernServer, name: string): number {
  return s.requests.filter((r) => r.body?.method === 'tools/call' && r.body.params?.name === name).length;
}

describe('one relay for three servers', () => {
  it('merges paginated lists and routes a call to each server, which each see exactly their own call', async () => {
    const a = await sdkServer();
    const b = await demo();
    const c = await modernServer();
    const home = await tempHome();
    let bPosts = 0;
    b.events.on('request', (e: { method: string; path: string }) => void (e.method === 'POST' && e.path === '/mcp' && bPosts++));
    const entries: AggregateEntry[] = [
      { name: 'a', url: a.url },
      { name: 'b', url: b.url },
      { name: 'c', url: c.url },
    ];
    const { client } = await connectAggregate(entries, { home, env: browserEnv(home) });

    expect(client.getInstructions()).toMatch(/carrying 3 servers/);

    const listTools = () => allPages<{ name: string }>((cursor) => client.listTools(cursor ? { cursor } : undefined), 'tools');
    // b's login (the browser fixture approving) may still be under way: b's tools join then.
    await expect.poll(async () => (await listTools()).items.some((t) => t.name === 'b__echo'), { timeout: 15_000 }).toBe(true);
    const tools = await listTools();
    const names = tools.items.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['a__echo', 'a__slow', 'b__echo', 'b__whoami', 'c__echo', 'c__slow']));
    expect(new Set(names).size).toBe(names.length);
    // Prompts too (each server has one), with the same prefixes.
    const prompts = await allPages<{ name: string }>((cursor) => client.listPrompts(cursor ? { cursor } : undefined), 'prompts');
    expect(prompts.items.map((p) => p.name)).toEqual(expect.arrayContaining(['a__greet', 'b__greet', 'c__greet']));

    const bBefore = bPosts;
    expect(text(await client.callTool({ name: 'a__echo', arguments: { text: 'to a' } }))).toBe('to a');
    expect(text(await client.callTool({ name: 'b__echo', arguments: { text: 'to b' } }))).toContain('to b');
    expect(text(await client.callTool({ name: 'c__echo', arguments: { text: 'to c' } }))).toBe('to c');
    expect(calls(a, 'echo')).toBe(1);
    expect(bPosts - bBefore).toBe(1);
    expect(modernCalls(c, 'echo')).toBe(1);
    // The OAuth server was logged into once, through the browser fixture.
    expect(b.counters.tokenRequests.authorization_code).toBe(1);

    // A cursor the relay never gave out is a -32602, not a guess.
    await expect(client.listTools({ cursor: 'not-ours' })).rejects.toThrow(/cursor/);
    // An unknown prefix reaches no server.
    await expect(client.callTool({ name: 'zz__echo', arguments: { text: 'x' } })).rejects.toThrow(/unknown tool/);
  });

  it('passes sampling, elicitation and roots requests from either server to the host, and routes progress and cancellation to the owner', async () => {
    const a = await sdkServer();
    const c = await modernServer();
    const home = await tempHome();
    const { client } = await connectAggregate(
      [
        { name: 'a', url: a.url },
        { name: 'c', url: c.url },
      ],
      {
        home,
        capabilities: { sampling: {}, elicitation: { form: {} }, roots: {} },
        setup: (cl) => {
          cl.setRequestHandler(CreateMessageRequestSchema, async () => ({
            role: 'assistant',
            model: 'test-model',
            content: { type: 'text', text: 'sampled!' },
          }));
          cl.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { answer: 'forty-two' } }));
          cl.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
        },
      },
    );
    expect(text(await client.callTool({ name: 'a__sample', arguments: { prompt: 'hi' } }))).toContain('sampled!');
    expect(text(await client.callTool({ name: 'c__sample', arguments: { prompt: 'hi' } }))).toContain('sampled!');
    expect(text(await client.callTool({ name: 'a__ask', arguments: { question: 'answer?' } }))).toContain('forty-two');
    expect(text(await client.callTool({ name: 'c__ask', arguments: { question: 'answer?' } }))).toContain('forty-two');
    expect(text(await client.callTool({ name: 'a__roots', arguments: {} }))).toContain('file:///work');

    const seen: number[] = [];
    const done = await client.callTool({ name: 'c__slow', arguments: { steps: 3, delayMs: 50 } }, undefined, { onprogress: (p) => void seen.push(p.progress) });
    expect(text(done)).toBe('done 3');
    expect(seen.length).toBeGreaterThan(0);

    const abort = new AbortController();
    const call = client.callTool({ name: 'a__slow', arguments: { steps: 50, delayMs: 100 } }, undefined, {
      signal: abort.signal,
      onprogress: () => abort.abort('user cancelled'),
    });
    await expect(call).rejects.toThrow();
    await expect.poll(() => a.counters.cancelled, { timeout: 10_000 }).toBe(1);
    // The other server never heard of it.
    expect(c.requests.some((r) => r.body?.method === 'notifications/cancelled')).toBe(false);
  });

  it('a server killed mid-session: calls to the others succeed, calls to it get a clear error, and it comes back with list_changed', async () => {
    let a = await sdkServer();
    const c = await modernServer();
    const home = await tempHome();
    let listChanged = 0;
    const { client } = await connectAggregate(
      [
        { name: 'a', url: a.url },
        { name: 'c', url: c.url },
      ],
      { home, setup: (cl) => cl.setNotificationHandler(ToolListChangedNotificationSchema, async () => void listChanged++) },
    );
    expect(text(await client.callTool({ name: 'a__echo', arguments: { text: 'before' } }))).toBe('before');
    await a.close();

    await expect(client.callTool({ name: 'a__echo', arguments: { text: 'while down' } })).rejects.toThrow(/server "a"/);
    expect(text(await client.callTool({ name: 'c__echo', arguments: { text: 'c still works' } }))).toBe('c still works');
    const down = await allPages<{ name: string }>((cursor) => client.listTools(cursor ? { cursor } : undefined), 'tools');
    expect(down.items.map((t) => t.name).some((n) => n.startsWith('a__'))).toBe(false);

    const changedBefore = listChanged;
    a = await restartTestServer(a, { kind: 'stateful' });
    // Noticed by a's probe (2 s after it went down, then backing off: 4 s, 8 s …) or by a call.
    closers.push(() => a.close());
    await expect.poll(() => listChanged, { timeout: 30_000 }).toBeGreaterThan(changedBefore);
    const back = await allPages<{ name: string }>((cursor) => client.listTools(cursor ? { cursor } : undefined), 'tools');
    expect(back.items.map((t) => t.name)).toContain('a__echo');
    expect(text(await client.callTool({ name: 'a__echo', arguments: { text: 'after' } }))).toBe('after');
  });

  it('a call to a is answered while b waits for a login, and b serves once the login is done', async () => {
    const a = await sdkServer();
    const b = await demo();
    const home = await tempHome();
    let listChanged = 0;
    const { client } = await connectAggregate(
      [
        { name: 'a', url: a.url },
        // A long --login-wait: b's own requests wait for the login, which must not hold a up.
        { name: 'b', url: b.url, options: { loginWait: 120 } },
      ],
      {
        home,
        env: browserEnv(home, 'record-only'),
        setup: (cl) => cl.setNotificationHandler(ToolListChangedNotificationSchema, async () => void listChanged++),
      },
    );
    expect(client.getInstructions()).toMatch(/b.*waiting for you to log in/);
    expect(text(await client.callTool({ name: 'a__echo', arguments: { text: 'a while b logs in' } }))).toBe('a while b logs in');
    const during = await allPages<{ name: string }>((cursor) => client.listTools(cursor ? { cursor } : undefined), 'tools');
    expect(during.items.map((t) => t.name)).toContain('a__echo');
    expect(during.items.map((t) => t.name).some((n) => n.startsWith('b__'))).toBe(false);

    await expect.poll(() => browserLaunches(home).length, { timeout: 10_000 }).toBe(1);
    const url = browserLaunches(home)[0]!;
    await followingOpener()(url); // the user approves in the tab the relay opened
    await expect.poll(() => listChanged, { timeout: 15_000 }).toBeGreaterThan(0);
    const after = await allPages<{ name: string }>((cursor) => client.listTools(cursor ? { cursor } : undefined), 'tools');
    expect(after.items.map((t) => t.name)).toContain('b__echo');
    expect(text(await client.callTool({ name: 'b__echo', arguments: { text: 'b after login' } }))).toContain('b after login');
    expect(b.counters.authorizeRequests).toBe(1);
  });
});

describe('aggregate resources and logging', () => {
  it('routes reads by the server that listed the URI (the first configured keeps a clashing URI), templates by match, and sets the log level on every server', async () => {
    const c = await modernServer();
    const a = await sdkServer();
    const d = await sdkServer();
    const home = await tempHome();
    const { client } = await connectAggregate(
      [
        { name: 'c', url: c.url },
        { name: 'a', url: a.url },
        { name: 'd', url: d.url },
      ],
      { home },
    );
    const resources = await allPages<{ uri: string }>((cursor) => client.listResources(cursor ? { cursor } : undefined), 'resources');
    // All three list test://hello: shown once, and it belongs to c, configured first.
    expect(resources.items.filter((r) => r.uri === 'test://hello')).toHaveLength(1);
    const readsAt = (s: TestServer) => s.requests.filter((r) => (r.body as { method?: string } | undefined)?.method === 'resources/read').length;
    const hello = await client.readResource({ uri: 'test://hello' });
    expect((hello.contents[0] as { text: string }).text).toBe('hello world');
    expect(c.requests.filter((r) => r.body?.method === 'resources/read')).toHaveLength(1);
    expect(readsAt(a) + readsAt(d)).toBe(0);

    // test://item/{id} is listed by a and d (the fixtures are alike): the first of them in the configuration, a, gets it.
    const templates = await allPages<{ uriTemplate: string }>((cursor) => client.listResourceTemplates(cursor ? { cursor } : undefined), 'resourceTemplates');
    expect(templates.items.filter((t) => t.uriTemplate === 'test://item/{id}')).toHaveLength(1);
    const item = await client.readResource({ uri: 'test://item/42' });
    expect((item.contents[0] as { text: string }).text).toBe('item 42');
    expect([readsAt(a), readsAt(d)]).toEqual([1, 0]);
    await expect(client.readResource({ uri: 'nowhere://x' })).rejects.toThrow(/was not listed by any server/);

    await client.setLoggingLevel('warning');
    const setLevel = (s: TestServer) => s.requests.filter((r) => (r.body as { method?: string } | undefined)?.method === 'logging/setLevel').length;
    expect([setLevel(a), setLevel(d)]).toEqual([1, 1]);
  });
});

describe('aggregate routing, randomized', () => {
  it('every request gets exactly one answer, from the right server (seeded; MCP_RELAY_SEED replays)', { timeout: 60_000 }, async () => {
    const seed = testSeed();
    console.log(`aggregate routing seed: ${seed}`);
    const rnd = prng(seed);
    const a = await sdkServer();
    const d = await sdkServer();
    const c = await modernServer();
    const home = await tempHome();
    const { client } = await connectAggregate(
      [
        { name: 'a', url: a.url },
        { name: 'c', url: c.url },
        { name: 'd', url: d.url },
      ],
      { home },
    );
    const errors: string[] = [];
    client.onerror = (e) => void errors.push(String(e));
    const sent = { a: 0, c: 0, d: 0 };
    const ops: Array<Promise<void>> = [];
    for (let i = 0; i < 60; i++) {
      const kind = rnd.pick(['echo', 'echo', 'echo', 'add', 'unknown', 'list', 'ping'] as const);
      const server = rnd.pick(['a', 'c', 'd'] as const);
      const what = `op ${i} (${kind} on ${server}, seed ${seed})`;
      if (kind === 'echo') {
        sent[server]++;
        const payload = `${server}-${i}-${rnd.int(1e9)}`;
        ops.push(client.callTool({ name: `${server}__echo`, arguments: { text: payload } }).then((r) => expect(text(r), what).toBe(payload)));
      } else if (kind === 'add' && server !== 'c') {
        const [x, y] = [rnd.int(1000), rnd.int(1000)];
        ops.push(client.callTool({ name: `${server}__add`, arguments: { a: x, b: y } }).then((r) => expect(text(r), what).toBe(String(x + y))));
      } else if (kind === 'unknown') {
        ops.push(expect(client.callTool({ name: `zz${i}__echo`, arguments: { text: 'x' } }), what).rejects.toThrow(/unknown tool/));
      } else if (kind === 'list') {
        ops.push(
          allPages<{ name: string }>((cursor) => client.listTools(cursor ? { cursor } : undefined), 'tools').then((l) =>
            expect(
              l.items.map((t) => t.name),
              what,
            ).toEqual(expect.arrayContaining(['a__echo', 'c__echo', 'd__echo'])),
          ),
        );
      } else {
        ops.push(client.ping().then(() => undefined));
      }
    }
    await Promise.all(ops);
    expect(calls(a, 'echo'), `seed ${seed}`).toBe(sent.a);
    expect(modernCalls(c, 'echo'), `seed ${seed}`).toBe(sent.c);
    expect(calls(d, 'echo'), `seed ${seed}`).toBe(sent.d);
    // The SDK client reports an answer to an unknown or already-answered id here.
    expect(errors, `seed ${seed}`).toEqual([]);
  });
});

describe('aggregate pagination', () => {
  it("walks every server's pages with one cursor, asking each server only for what remains", async () => {
    const p = await startPagedServer({ count: 7, pageSize: 3 });
    closers.push(() => p.close());
    const q = await startPagedServer({ count: 2, pageSize: 5 });
    closers.push(() => q.close());
    const a = await sdkServer();
    const home = await tempHome();
    const { client } = await connectAggregate(
      [
        { name: 'p', url: p.url },
        { name: 'a', url: a.url },
        { name: 'q', url: q.url },
      ],
      { home },
    );
    const { items, pages } = await allPages<{ name: string }>((cursor) => client.listTools(cursor ? { cursor } : undefined), 'tools');
    const names = items.map((t) => t.name);
    // p pages 3 + 3 + 1; a and q fit in the first page.
    expect(pages).toBe(3);
    expect(names.filter((n) => n.startsWith('p__'))).toEqual(['p__t0', 'p__t1', 'p__t2', 'p__t3', 'p__t4', 'p__t5', 'p__t6']);
    expect(names.filter((n) => n.startsWith('q__'))).toEqual(['q__t0', 'q__t1']);
    expect(names).toContain('a__echo');
    expect(new Set(names).size).toBe(names.length);
    // p saw its own cursors, q (done after one page) was not asked again.
    expect(p.listCursors).toEqual([undefined, '3', '6']);
    expect(q.listCursors).toEqual([undefined]);
    expect(text(await client.callTool({ name: 'p__t5', arguments: { text: 'hi' } }))).toBe('t5: hi');
  });
});

describe('aggregate configuration', () => {
  it("applies each server's own filters before prefixing: a denied tool is absent and its call never reaches the server", async () => {
    const a = await sdkServer();
    const c = await modernServer();
    const home = await tempHome();
    const { client } = await connectAggregate(
      [
        { name: 'a', url: a.url, options: { denyTool: ['ec*'] } },
        { name: 'c', url: c.url },
      ],
      { home },
    );
    const names = (await allPages<{ name: string }>((cursor) => client.listTools(cursor ? { cursor } : undefined), 'tools')).items.map((t) => t.name);
    expect(names).not.toContain('a__echo');
    expect(names).toEqual(expect.arrayContaining(['a__add', 'c__echo']));
    await expect(client.callTool({ name: 'a__echo', arguments: { text: 'x' } })).rejects.toThrow(/server "a": tool "echo" is blocked by --deny-tool "ec\*"/);
    expect(calls(a, 'echo')).toBe(0);
    expect(text(await client.callTool({ name: 'c__echo', arguments: { text: 'c is not filtered' } }))).toBe('c is not filtered');
  });

  it('two servers whose prefixes collide are refused at start (exit 2, naming both), before anything connects', async () => {
    const a = await sdkServer();
    const home = await tempHome();
    const file = await writeServersFile(home, [
      { name: 'one', url: a.url, options: { prefix: 'x' } },
      { name: 'two', url: a.url, options: { prefix: 'x' } },
    ]);
    const relay = spawnRelay(aggregateArgs(file, ['one', 'two']).slice(1), { home });
    expect((await relay.exited).code).toBe(2);
    expect(relay.stderr()).toMatch(/servers "one" and "two" both use the prefix "x__"/);
    expect(relay.lines).toEqual([]);
    expect(a.requests).toEqual([]);
  });
});
