/**
 * AutoRemote's era detection and the 2026-07-28 translation in-process, against real loopback
 * servers: the SDK v2 server, or a scripted one for answers a real server will not give on demand.
 * The auth hook is a small object implementing the AuthHook contract (what the coordinator does).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isRelayError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { JsonRpcMessage } from '../../src/jsonrpc/messages.js';
import { AutoRemote } from '../../src/remote/connect.js';
import { createFetch } from '../../src/http/fetch.js';
import { MAX_INPUT_ROUNDS } from '../../src/remote/v2026/remote.js';
import { MAX_REISSUES } from '../../src/remote/v2026/runner.js';
import type { AuthHook, UnauthorizedInfo } from '../../src/auth/hook.js';
import { startModernServer, startScriptedServer, type ModernRecorded, type ScriptedReply } from '../helpers/modern-server.js';

const closers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c.close();
});

const INIT = {
  jsonrpc: '2.0' as const,
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: { sampling: {}, elicitation: {} }, clientInfo: { name: 'unit-host', version: '1' } },
};
const DISCOVER = {
  supportedVersions: ['2026-07-28'],
  capabilities: { tools: {} },
  resultType: 'complete',
  ttlMs: 0,
  cacheScope: 'private',
  _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'scripted', version: '1' } },
};

/** A remote plus everything it delivered to the "host". */
function remoteFor(url: string, auth?: AuthHook, maxMessageBytes?: number) {
  const delivered: JsonRpcMessage[] = [];
  const waiters: Array<{ pred: (m: JsonRpcMessage) => boolean; resolve: (m: JsonRpcMessage) => void }> = [];
  const remote = new AutoRemote(
    {
      url: new URL(url),
      headers: {},
      fetch: createFetch({}),
      auth,
      log: silentLogger(),
      requestTimeoutMs: 10_000,
      ...(maxMessageBytes ? { bounds: { maxMessageBytes } } : {}),
      deliver: (m) => {
        delivered.push(m);
        for (const w of [...waiters])
          if (w.pred(m)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(m);
          }
      },
    },
    'auto',
  );
  closers.push(remote);
  const waitFor = (pred: (m: JsonRpcMessage) => boolean) =>
    new Promise<JsonRpcMessage>((resolve) => {
      const hit = delivered.find(pred);
      if (hit) resolve(hit);
      else waiters.push({ pred, resolve });
    });
  const send = (m: JsonRpcMessage) => remote.send(m, JSON.stringify(m));
  return { remote, delivered, waitFor, send };
}

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});
const discoverReply = (body: ModernRecorded['body']): ScriptedReply | undefined =>
  body?.method === 'server/discover' ? { json: { jsonrpc: '2.0', id: body.id, result: DISCOVER } } : undefined;

describe('memory bounds on 2026-07-28 answers', () => {
  it('a JSON answer and an SSE answer over the message bound each fail their own request; the next one is answered', async () => {
    const big = 'x'.repeat(4096);
    const s = await startScriptedServer((body) => {
      const discover = discoverReply(body);
      if (discover) return discover;
      const answer = { jsonrpc: '2.0', id: body!.id, result: { content: [{ type: 'text', text: big }] } };
      const name = (body!.params as { name?: string }).name;
      if (name === 'json') return { json: answer };
      if (name === 'sse') return { sse: [answer] };
      return { json: { jsonrpc: '2.0', id: body!.id, result: { content: [{ type: 'text', text: 'small' }] } } };
    });
    closers.push(s);
    const { send, waitFor } = remoteFor(s.url, undefined, 1024);
    await send(INIT);
    await waitFor((m) => m.id === 0);
    const json = await send(call(1, 'json')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRelayError(json, 'REMOTE_TOO_LARGE') && json.message).toMatch(/a JSON answer of over 1 KiB/);
    await send(call(2, 'sse'));
    expect((await waitFor((m) => m.id === 2)).error?.message).toMatch(/an SSE event of over 1 KiB/);
    await send(call(3, 'small'));
    expect((await waitFor((m) => m.id === 3)).result).toEqual({ content: [{ type: 'text', text: 'small' }] });
  });
});

describe('era detection', () => {
  it('401 on the probe goes through the auth hook, and the probe is sent again with the fresh token', async () => {
    const s = await startModernServer({ bearer: { token: 'fresh', resourceMetadata: 'http://127.0.0.1:1/.well-known/oauth-protected-resource' } });
    closers.push(s);
    let token = 'stale';
    const seen: UnauthorizedInfo[] = [];
    const auth: AuthHook = {
      authorization: async () => `Bearer ${token}`,
      unauthorized: async (info) => {
        seen.push(info);
        token = 'fresh';
      },
    };
    const { send, waitFor } = remoteFor(s.url, auth);
    await send(INIT);
    const init = await waitFor((m) => m.id === 0);
    expect((init.result as { serverInfo: { name: string } }).serverInfo.name).toBe('modern-test-server');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      status: 401,
      rejected: 'Bearer stale',
      challenge: { error: 'invalid_token', resourceMetadata: 'http://127.0.0.1:1/.well-known/oauth-protected-resource' },
    });
    expect(s.requests.map((r) => [r.body?.method, r.headers.authorization])).toEqual([
      ['server/discover', 'Bearer stale'],
      ['server/discover', 'Bearer fresh'],
    ]);
  });

  it('a 5xx to the probe is an error for the host, not a legacy verdict: the next initialize probes again', async () => {
    const s = await startScriptedServer((body, n) => (n === 1 ? { status: 503, text: 'down for maintenance' } : discoverReply(body)!));
    closers.push(s);
    const { send, waitFor } = remoteFor(s.url);
    const err = await send(INIT).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRelayError(err, 'REMOTE_HTTP') && err.status).toBe(503);
    await send({ ...INIT, id: 1 });
    expect(((await waitFor((m) => m.id === 1)).result as { serverInfo: { name: string } }).serverInfo.name).toBe('scripted');
    expect(s.requests.map((r) => r.body?.method)).toEqual(['server/discover', 'server/discover']); // never initialize
  });

  it('a 400 -32022 to the first request is a version negotiation: the probe is resent with a supported version in header and _meta', async () => {
    // The conformance scenario request-metadata (2026-07-28): the first POST is rejected whatever it says.
    const unsupported = (id: unknown) => ({
      status: 400,
      json: {
        jsonrpc: '2.0',
        id,
        error: { code: -32022, message: 'Unsupported protocol version', data: { supported: ['2026-07-28'], requested: '2026-07-28' } },
      },
    });
    const s = await startScriptedServer((body, n) =>
      n === 1 ? unsupported(body!.id) : (discoverReply(body) ?? { json: { jsonrpc: '2.0', id: body!.id, result: { tools: [] } } }),
    );
    closers.push(s);
    const { send, waitFor } = remoteFor(s.url);
    await send(INIT);
    const init = await waitFor((m) => m.id === 0);
    expect((init.result as { serverInfo: { name: string } }).serverInfo.name).toBe('scripted');
    await send({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    expect((await waitFor((m) => m.id === 1)).result).toEqual({ tools: [] });
    expect(s.requests.map((r) => r.body?.method)).toEqual(['server/discover', 'server/discover', 'tools/list']);
    for (const r of s.requests.slice(1)) {
      expect(r.headers['mcp-protocol-version']).toBe('2026-07-28');
      expect(r.body!.params!._meta).toMatchObject({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28' });
    }
  });

  it.each([
    [
      'rejects the version again',
      (id: unknown) => ({
        status: 400,
        json: { jsonrpc: '2.0', id, error: { code: -32022, message: 'Unsupported protocol version', data: { supported: ['2026-07-28'] } } },
      }),
      /rejected protocol version 2026-07-28 again/,
    ],
    ['answers with a result that is no DiscoverResult', (id: unknown) => ({ json: { jsonrpc: '2.0', id, result: 'nonsense' } }), /"nonsense"/],
  ])('a server that, after -32022, %s is a coded error saying what it sent (never a TypeError)', async (_what, second, message) => {
    const s = await startScriptedServer((body, n) =>
      n === 1
        ? {
            status: 400,
            json: { jsonrpc: '2.0', id: body!.id, error: { code: -32022, message: 'Unsupported protocol version', data: { supported: ['2026-07-28'] } } },
          }
        : second(body!.id),
    );
    closers.push(s);
    const { send } = remoteFor(s.url);
    const err = await send(INIT).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRelayError(err, 'REMOTE_PROTOCOL')).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect(s.requests).toHaveLength(2);
  });

  it('a refused connection is an error for the host', async () => {
    const s = await startScriptedServer(() => ({ status: 500 }));
    const url = s.url;
    await s.close();
    const { send } = remoteFor(url);
    const err = await send(INIT).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRelayError(err, 'REMOTE_UNAVAILABLE')).toBe(true);
  });
});

describe('translation for a 2025 host', () => {
  it(`gives up after ${MAX_INPUT_ROUNDS} rounds of input_required`, async () => {
    const s = await startScriptedServer(
      (body) => discoverReply(body) ?? { json: { jsonrpc: '2.0', id: body!.id, result: { resultType: 'input_required', requestState: 'again' } } },
    );
    closers.push(s);
    const { send, waitFor } = remoteFor(s.url);
    await send(INIT);
    await send(call(1, 'loop'));
    const answer = await waitFor((m) => m.id === 1);
    expect(answer.error?.message).toMatch(/more input 10 times/);
    const calls = s.requests.filter((r) => r.body?.method === 'tools/call');
    expect(calls).toHaveLength(MAX_INPUT_ROUNDS);
    expect(new Set(calls.map((r) => r.body!.id)).size).toBe(MAX_INPUT_ROUNDS); // every retry under a new id
    expect(calls.slice(1).every((r) => r.body!.params!.requestState === 'again' && !('inputResponses' in r.body!.params!))).toBe(true);
  });

  it('an unknown resultType is invalid, not passed on as a result', async () => {
    const s = await startScriptedServer(
      (body) => discoverReply(body) ?? { json: { jsonrpc: '2.0', id: body!.id, result: { resultType: 'task', content: [] } } },
    );
    closers.push(s);
    const { send, waitFor } = remoteFor(s.url);
    await send(INIT);
    await send(call(1, 'x'));
    expect((await waitFor((m) => m.id === 1)).error?.message).toMatch(/resultType "task"/);
  });

  it(`answers with an error after ${MAX_REISSUES} re-issues of a request whose stream keeps breaking`, async () => {
    const s = await startScriptedServer((body) => discoverReply(body) ?? { sse: [], destroy: true });
    closers.push(s);
    const { send, waitFor } = remoteFor(s.url);
    await send(INIT);
    await send(call(1, 'x'));
    expect((await waitFor((m) => m.id === 1)).error?.message).toMatch(/before answering this request, 3 times/);
    expect(s.requests.filter((r) => r.body?.method === 'tools/call')).toHaveLength(MAX_REISSUES + 1);
  });

  it('fails the request with a clear error when the host cannot sample', async () => {
    const s = await startScriptedServer(
      (body) =>
        discoverReply(body) ?? {
          json: {
            jsonrpc: '2.0',
            id: body!.id,
            result: { resultType: 'input_required', inputRequests: { llm: { method: 'sampling/createMessage', params: { messages: [], maxTokens: 1 } } } },
          },
        },
    );
    closers.push(s);
    const { send, waitFor } = remoteFor(s.url);
    await send(INIT);
    await send(call(1, 'x'));
    const ask = await waitFor((m) => m.method === 'sampling/createMessage');
    expect(String(ask.id)).toMatch(/^mcp-relay-input-/);
    await send({ jsonrpc: '2.0', id: ask.id!, error: { code: -32601, message: 'no sampling here' } });
    expect((await waitFor((m) => m.id === 1)).error?.message).toMatch(/host answered with an error: no sampling here/);
    expect(s.requests.filter((r) => r.body?.method === 'tools/call')).toHaveLength(1); // no retry, no response POSTed
  });

  it("cancelling a request that waits for host input cancels the host's input request and retries nothing", async () => {
    const s = await startScriptedServer(
      (body) =>
        discoverReply(body) ?? {
          json: {
            jsonrpc: '2.0',
            id: body!.id,
            result: {
              resultType: 'input_required',
              inputRequests: { q: { method: 'elicitation/create', params: { mode: 'url', message: 'go', url: 'https://example.com' } } },
            },
          },
        },
    );
    closers.push(s);
    const { send, waitFor, delivered } = remoteFor(s.url);
    await send(INIT);
    await send(call(1, 'x'));
    const ask = await waitFor((m) => m.method === 'elicitation/create');
    expect((ask.params as { elicitationId?: string }).elicitationId).toBe(ask.id); // 2025 URL mode needs one
    await send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } });
    const cancelled = await waitFor((m) => m.method === 'notifications/cancelled');
    expect((cancelled.params as { requestId: unknown }).requestId).toBe(ask.id);
    expect(delivered.some((m) => m.id === 1)).toBe(false);
    expect(s.requests.filter((r) => r.body?.method === 'tools/call')).toHaveLength(1);
  });
});
