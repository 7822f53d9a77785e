/**
 * A hostile network between the relay and the MCP server, for real: the built relay as a child
 * process, a real SDK server behind a fault-injecting proxy (test/helpers/faults.ts), names that
 * do not resolve, and TLS that does not verify. Every request must get exactly one answer and
 * the relay must stay up for the next one.
 */
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { closeFaults, faultProxy, on, selfSignedCert } from '../helpers/faults.js';
import { restartTestServer, startTestServer, type TestServer, type TestServerOptions } from '../helpers/mcp-servers.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const servers: TestServer[] = [];
async function server(opts: TestServerOptions): Promise<TestServer> {
  const s = await startTestServer(opts);
  servers.push(s);
  return s;
}

afterEach(async () => {
  await killAll();
  await closeFaults();
  for (const s of servers.splice(0)) await s.close();
});

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

const origin = (s: TestServer) => `http://127.0.0.1:${s.port}`;
const echo = (t: string) => ({ name: 'echo', arguments: { text: t } });

describe('remote faults', () => {
  it('a burst of 500/502/503 answers: each hit request gets an error naming the status, the session survives', async () => {
    const s = await server({ kind: 'stateful' });
    const p = await faultProxy({ target: origin(s) });
    const { client } = await connectRelay([`${p.origin}/mcp`], { home: await tempHome() });
    expect(text(await client.callTool(echo('before')))).toBe('before');
    for (const status of [500, 502, 503]) {
      p.inject({
        match: on.rpc('tools/call'),
        action: { kind: 'respond', status, headers: { 'content-type': 'text/html' }, body: '<h1>upstream trouble</h1>' },
      });
    }
    const burst = await Promise.allSettled([1, 2, 3].map((i) => client.callTool(echo(`burst ${i}`))));
    const messages = burst.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : 'answered'));
    for (const status of [500, 502, 503]) expect(messages.some((m) => m.includes(`HTTP ${status}`))).toBe(true);
    expect(messages.every((m) => m.includes('server-side failure'))).toBe(true);
    expect(text(await client.callTool(echo('after')))).toBe('after');
    // Nothing made the relay drop its session: the server saw one initialize.
    expect(s.counters.initialize).toBe(1);
    expect(p.seen.filter((r) => r.fault === 'respond')).toHaveLength(3);
  });

  it('a connection reset in the middle of an SSE answer: that request gets an error, the next one works', async () => {
    const s = await server({ kind: 'stateful' });
    const p = await faultProxy({ target: origin(s) });
    const relay = spawnRelay([`${p.origin}/mcp`], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'reset-after-first-event' } });
    relay.send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'slow', arguments: { steps: 5, delayMs: 100 }, _meta: { progressToken: 'p2' } },
    });
    const answer = (await relay.waitFor((m) => m.id === 2)) as { error?: { message: string } };
    expect(answer.error?.message).toMatch(/the connection broke .*reset.* before answering this request; the relay is still running/);
    // The event that got through before the cut reached the host, ahead of the error.
    const progress = relay.lines.findIndex((l) => l.includes('notifications/progress') && l.includes('"p2"'));
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThan(relay.lines.findIndex((l) => l.includes('"id":2')));
    relay.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: echo('still here') });
    expect(JSON.stringify(await relay.waitFor((m) => m.id === 3))).toContain('still here');
    expect(relay.lines.filter((l) => l.includes('"id":2'))).toHaveLength(1);
  });

  it('a connection reset mid-SSE on a server with event ids: the relay resumes with Last-Event-ID and the host gets the real answer', async () => {
    const s = await server({ kind: 'stateful', eventStore: true });
    const p = await faultProxy({ target: origin(s) });
    const { client } = await connectRelay([`${p.origin}/mcp`], { home: await tempHome() });
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'reset-after-first-event' } });
    const result = await client.callTool({ name: 'slow', arguments: { steps: 3, delayMs: 200 } });
    expect(text(result)).toBe('done 3');
    expect(p.seen.some((r) => r.method === 'GET' && r.headers['last-event-id'] !== undefined)).toBe(true);
  });

  it('an answer that never comes: with --timeout 2 the request gets an error (no headers, or a silent stream), a slow but live answer does not, and the relay stays up', async () => {
    const s = await server({ kind: 'stateful' });
    const p = await faultProxy({ target: origin(s) });
    const { client } = await connectRelay([`${p.origin}/mcp`, '--timeout', '2'], { home: await tempHome() });
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'hang' } });
    await expect(client.callTool(echo('lost'))).rejects.toThrow(
      /no progress from the server for 2 s \(the --timeout limit\) while waiting for the response headers/,
    );
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'stall-stream' } });
    await expect(client.callTool(echo('silent'))).rejects.toThrow(/no progress from the server for 2 s \(the --timeout limit\) while streaming its answer/);
    // The timeout is for silence, not for length: a 3 s answer that keeps reporting progress is not cut.
    const slow = await client.callTool({ name: 'slow', arguments: { steps: 5, delayMs: 600 } }, undefined, { onprogress: () => undefined });
    expect(text(slow)).toBe('done 5');
    expect(text(await client.callTool(echo('alive')))).toBe('alive');
  });

  it('a captive portal (200 text/html), an answer stream that ends without the answer, a connection dropped before any answer: each request gets an error saying so', async () => {
    const s = await server({ kind: 'stateful' });
    const p = await faultProxy({ target: origin(s) });
    const { client } = await connectRelay([`${p.origin}/mcp`], { home: await tempHome() });
    p.inject({
      match: on.rpc('tools/call'),
      action: { kind: 'respond', status: 200, headers: { 'content-type': 'text/html' }, body: '<html>Welcome to Airport Wi-Fi</html>' },
    });
    await expect(client.callTool(echo('portal'))).rejects.toThrow(/content type "text\/html"; expected application\/json or text\/event-stream/);
    const notice = 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}\n\n';
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'respond', status: 200, headers: { 'content-type': 'text/event-stream' }, body: notice } });
    await expect(client.callTool(echo('cut short'))).rejects.toThrow(/the server closed the stream before answering this request/);
    // A load balancer that drops the connection before any byte of the answer. A request that
    // fails that way on a reused connection is sent once more on a new one (node-http.ts), so
    // the balancer drops both.
    p.inject({ match: on.rpc('tools/call'), times: 2, action: { kind: 'reset' } });
    await expect(client.callTool(echo('dropped'))).rejects.toThrow(/connection to the MCP server at 127\.0\.0\.1:\d+ was reset/);
    p.clear(); // the second reset is unused when the first request went out on a fresh connection
    expect(text(await client.callTool(echo('fine')))).toBe('fine');
  });

  it('the server restarts during a call: the call in flight gets an error, the next call gets a new session', async () => {
    let s = await server({ kind: 'stateful' });
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    let restarted: Promise<TestServer> | undefined;
    const call = client.callTool({ name: 'slow', arguments: { steps: 50, delayMs: 100 } }, undefined, {
      onprogress: () => (restarted ??= restartTestServer(s, { kind: 'stateful' })),
    });
    await expect(call).rejects.toThrow(/connection broke|closed the stream/);
    s = await restarted!;
    servers.push(s);
    expect(text(await client.callTool(echo('new session')))).toBe('new session');
    expect(s.counters.initialize).toBe(1);
  });

  it('the server drops every session while five calls are on their way: one re-initialize, five answers', async () => {
    const s = await server({ kind: 'stateful' });
    const { client } = await connectRelay([s.url], { home: await tempHome() });
    expect(text(await client.callTool(echo('one')))).toBe('one');
    await s.dropAllSessions();
    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => client.callTool(echo(`c${i}`))));
    expect(answers.map(text)).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    expect(s.counters.initialize).toBe(2);
  });
});

describe('unreachable servers', () => {
  it('a host name that does not resolve (.invalid): every request is answered "cannot resolve", the relay keeps running and exits 0', async () => {
    const relay = spawnRelay(['https://mcp-relay-test.invalid/mcp'], { home: await tempHome() });
    relay.send(INIT(1));
    const init = (await relay.waitFor((m) => m.id === 1)) as { error?: { message: string } };
    expect(init.error?.message).toMatch(/cannot resolve mcp-relay-test\.invalid \((ENOTFOUND|EAI_AGAIN)\)/);
    relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const list = (await relay.waitFor((m) => m.id === 2)) as { error?: { message: string } };
    expect(list.error?.message).toMatch(/cannot resolve/);
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
  });

  it('https to a port that speaks plain http: a TLS error, not a hang', async () => {
    const s = await server({ kind: 'stateful' });
    const relay = spawnRelay([`https://127.0.0.1:${s.port}/mcp`], { home: await tempHome() });
    relay.send(INIT(1));
    const init = (await relay.waitFor((m) => m.id === 1)) as { error?: { message: string } };
    expect(init.error?.message).toMatch(/TLS error talking to the MCP server at 127\.0\.0\.1/);
    expect(s.counters.initialize).toBe(0);
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
  });

  it('a self-signed certificate is refused with a NODE_EXTRA_CA_CERTS hint, and trusted once that points at it', async () => {
    const home = await tempHome();
    const s = await server({ kind: 'stateful' });
    const tls = selfSignedCert(home);
    const p = await faultProxy({ target: origin(s), tls });
    const url = `${p.origin}/mcp`;
    const relay = spawnRelay([url], { home });
    relay.send(INIT(1));
    const init = (await relay.waitFor((m) => m.id === 1)) as { error?: { message: string } };
    expect(init.error?.message).toMatch(/TLS error .*DEPTH_ZERO_SELF_SIGNED_CERT.*NODE_EXTRA_CA_CERTS/);
    expect(s.counters.initialize).toBe(0);
    const { client } = await connectRelay([url], { home, env: { NODE_EXTRA_CA_CERTS: tls.certFile } });
    expect(text(await client.callTool(echo('over tls')))).toBe('over tls');
  });
});

describe('--ping-interval', () => {
  it('a server that lost the session while the link was idle: the ping finds out and a new session is made before the next call, which the server then sees once', async () => {
    let s = await server({ kind: 'stateful' });
    const p = await faultProxy({ target: origin(s) });
    // No standalone GET stream (405), so only the ping can notice the lost session.
    p.inject({ match: (r) => r.method === 'GET', times: Infinity, action: { kind: 'respond', status: 405 } });
    const { client } = await connectRelay([`${p.origin}/mcp`, '--ping-interval', '1'], { home: await tempHome() });
    expect(text(await client.callTool(echo('before')))).toBe('before');
    s = await restartTestServer(s, { kind: 'stateful', port: s.port });
    servers.push(s);
    await expect.poll(() => s.counters.initialize, { timeout: 10_000 }).toBe(1);
    expect(text(await client.callTool(echo('after')))).toBe('after');
    const calls = s.requests.filter((r) => (r.body as { method?: string } | undefined)?.method === 'tools/call');
    expect(calls).toHaveLength(1);
  });
});

describe('the standalone GET stream', () => {
  it('cut by a proxy after its first event: the relay reopens it and later notifications still reach the host', async () => {
    const s = await server({ kind: 'stateful' });
    const p = await faultProxy({ target: origin(s) });
    p.inject({ match: (r) => r.method === 'GET', action: { kind: 'reset-after-first-event' } });
    let changed = 0;
    const { client } = await connectRelay([`${p.origin}/mcp`], {
      home: await tempHome(),
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed++),
    });
    await expect
      .poll(
        async () => {
          await client.callTool({ name: 'notify_list_changed', arguments: {} });
          return changed;
        },
        { timeout: 15_000 },
      )
      .toBeGreaterThan(1);
    const gets = p.seen.filter((r) => r.method === 'GET');
    expect(gets.length).toBeGreaterThan(1);
    expect(gets[0]!.fault).toBe('reset-after-first-event');
  });
});
