/**
 * A hostile or careless host on the relay's stdin: floods, huge messages, bytes that are not
 * UTF-8 or not JSON, stdin closing with requests in flight, SIGTERM in the middle of a login.
 * The built relay as a child process, a real SDK server (or the demo OAuth server) behind it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { browserEnv, browserLaunches, closeDemos, demo, readStoreJson, storeDir } from '../helpers/oauth.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/mcp-servers.js';
import { closeFaults, echoRpcServer } from '../helpers/faults.js';
import { INIT, killAll, RELAY_BIN, relayEnv, spawnRelay, tempHome } from '../helpers/relay.js';

const servers: TestServer[] = [];
const bare = new Set<ChildProcessWithoutNullStreams>();
async function server(opts: TestServerOptions): Promise<TestServer> {
  const s = await startTestServer(opts);
  servers.push(s);
  return s;
}

afterEach(async () => {
  for (const c of bare) c.kill('SIGKILL');
  bare.clear();
  await killAll();
  await closeDemos();
  await closeFaults();
  for (const s of servers.splice(0)) await s.close();
});

const PING = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });
const CALL = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

/**
 * A relay whose stdout is split into lines in linear time (the generic helper re-scans its
 * buffer per chunk, which is too slow for a 20 MiB line).
 */
function spawnBig(args: string[], home: string) {
  const child = spawn(process.execPath, [RELAY_BIN, ...args], { env: relayEnv(home), stdio: ['pipe', 'pipe', 'pipe'] });
  bare.add(child);
  const lines: Buffer[] = [];
  let parts: Buffer[] = [];
  let wake: () => void = () => {};
  child.stdout.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      parts.push(chunk.subarray(start, nl));
      lines.push(Buffer.concat(parts));
      parts = [];
      start = nl + 1;
      wake();
    }
    if (start < chunk.length) parts.push(chunk.subarray(start));
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    stderr: () => stderr,
    exited,
    /** The next whole line from stdout (in order). */
    async next(): Promise<Buffer> {
      while (lines.length === 0) await new Promise<void>((r) => (wake = r));
      return lines.shift()!;
    },
  };
}

describe('floods and huge messages', () => {
  it('10,000 requests written at once: every one answered exactly once, none lost, none duplicated', async () => {
    // A bare JSON-RPC peer rather than the SDK server, so the time measured is the relay's.
    const s = await echoRpcServer();
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(0));
    await relay.waitFor((m) => m.id === 0);
    const N = 10_000;
    const flood = [JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })];
    for (let id = 1; id <= N; id++) flood.push(JSON.stringify(id % 2 ? PING(id) : CALL(id, 'echo', { text: `m${id}` })));
    relay.sendRaw(`${flood.join('\n')}\n`);
    await expect.poll(() => relay.lines.length, { timeout: 50_000, interval: 200 }).toBeGreaterThanOrEqual(N + 1);
    const answers = new Map<number, { result?: { echo: unknown }; error?: { message: string } }>();
    for (const line of relay.lines.slice(1)) {
      const m = JSON.parse(line) as { id: number; result?: { echo: unknown }; error?: { message: string } };
      expect(answers.has(m.id)).toBe(false);
      answers.set(m.id, m);
    }
    expect([...answers.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Every result is the answer to its own request. (That every one is a result, not a
    // connection error, is pending: see faults-pending.test.ts, "under a 1024 file-descriptor limit".)
    for (const [id, m] of answers) {
      if (m.result) expect(m.result.echo).toEqual(id % 2 ? null : { name: 'echo', arguments: { text: `m${id}` } });
      else expect(m.error?.message).toMatch(/^mcp-relay: /);
    }
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
  });

  it('a 20 MiB message (echo of a 20 MiB string) goes through and comes back intact', async () => {
    const s = await server({ kind: 'stateful' });
    const relay = spawnBig([s.url], await tempHome());
    relay.child.stdin.write(`${JSON.stringify(INIT(1))}\n${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    expect(JSON.parse((await relay.next()).toString()).id).toBe(1);
    const MiB = 1024 * 1024;
    // Not one repeated character: a slice lost or duplicated anywhere would show.
    const unit = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_'; // 64 bytes
    const big = Array.from({ length: (20 * MiB) / unit.length }, (_, i) => (i % 4096 === 0 ? unit.slice(0, 56) + String(i).padStart(8, '0') : unit)).join('');
    expect(big.length).toBe(20 * MiB);
    relay.child.stdin.write(`${JSON.stringify(CALL(2, 'echo', { text: big }))}\n`);
    relay.child.stdin.write(`${JSON.stringify(PING(3))}\n`);
    // Two answers, in whatever order the server finished them.
    const got = [JSON.parse((await relay.next()).toString()), JSON.parse((await relay.next()).toString())] as Array<{
      id: number;
      result: { content?: Array<{ text: string }> };
    }>;
    got.sort((a, b) => a.id - b.id);
    expect(got.map((m) => m.id)).toEqual([2, 3]);
    expect(got[0]!.result.content![0]!.text === big).toBe(true);
    relay.child.stdin.end();
    expect(await relay.exited).toBe(0);
  });
});

describe('bytes that are not JSON-RPC', () => {
  it('invalid UTF-8 and non-JSON lines: each answered -32700 (id null), the relay carries on', async () => {
    const s = await server({ kind: 'stateful' });
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const call = (text: string) => Buffer.from(JSON.stringify(CALL(9, 'echo', { text })));
    const bad = [
      Buffer.concat([call('a').subarray(0, 60), Buffer.from([0xff]), call('a').subarray(60)]), // 0xFF never occurs in UTF-8
      Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":8,"method":"ping","x":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]), // truncated sequence
      Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":7,"method":"ping","x":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), // overlong "/"
      Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":6,"method":"ping","x":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), // a UTF-16 surrogate
      Buffer.from('Content-Length: 42'),
      Buffer.from('{"jsonrpc":"2.0","id":5,"method":"ping"'), // cut short
    ];
    for (const b of bad) relay.child.stdin.write(Buffer.concat([b, Buffer.from('\n')]));
    relay.send(CALL(2, 'echo', { text: 'héllo after the noise 🌍' }));
    const answer = await relay.waitFor((m) => m.id === 2);
    expect(JSON.stringify(answer)).toContain('héllo after the noise 🌍');
    const errors = relay.lines.map((l) => JSON.parse(l) as { id: unknown; error?: { code: number; message: string } }).filter((m) => m.error);
    expect(errors.map((e) => [e.id, e.error!.code])).toEqual(bad.map(() => [null, -32700]));
    expect(errors.slice(0, 4).every((e) => /not valid UTF-8/.test(e.error!.message))).toBe(true);
    expect(errors.slice(4).every((e) => /not valid JSON/.test(e.error!.message))).toBe(true);
    // Nothing malformed reached the server.
    expect(s.requests.filter((r) => typeof r.body === 'string')).toEqual([]);
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
  });
});

describe('the host going away', () => {
  it('stdin closes with three requests in flight: each answered with an error, session deleted, exit 0', async () => {
    const s = await server({ kind: 'stateful' });
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    for (const id of [2, 3, 4])
      relay.send({
        ...CALL(id, 'slow', { steps: 100, delayMs: 100 }),
        params: { name: 'slow', arguments: { steps: 100, delayMs: 100 }, _meta: { progressToken: id } },
      });
    // All three are running on the server (each has reported progress).
    await Promise.all([2, 3, 4].map((id) => relay.waitFor((m) => (m.params as { progressToken?: unknown } | undefined)?.progressToken === id)));
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
    for (const id of [2, 3, 4]) {
      const answers = relay.lines.map((l) => JSON.parse(l) as { id?: unknown; error?: { message: string } }).filter((m) => m.id === id);
      expect(answers).toHaveLength(1);
      expect(answers[0]!.error?.message).toMatch(/request not completed: the host closed stdin/);
    }
    expect(s.counters.deleteSession).toBe(1);
    expect(s.sessionIds()).toEqual([]);
  });

  it('SIGTERM in the middle of a login: exit 0, port and lock released, and the next relay takes the login over', async () => {
    const d = await demo();
    const home = await tempHome();
    const env = browserEnv(home, 'record-only');
    const first = spawnRelay([d.url], { home, env });
    first.send(INIT(1));
    await expect.poll(() => existsSync(join(storeDir(home, d.url), 'pending.json')), { timeout: 15_000 }).toBe(true);
    const pending = (await readStoreJson<{ redirect_uri: string; state: string; authorization_url: string }>(home, d.url, 'pending.json'))!;
    await expect.poll(() => browserLaunches(home).length, { timeout: 10_000 }).toBe(1);
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit.code).toBe(0);
    // The initialize the host was waiting for got an answer (an error), not silence.
    expect(first.lines.map((l) => JSON.parse(l) as { id?: unknown }).filter((m) => m.id === 1)).toHaveLength(1);
    // No lock left behind, and the callback port is free again at once.
    expect(existsSync(join(storeDir(home, d.url), 'lock'))).toBe(false);
    const port = Number(new URL(pending.redirect_uri).port);
    await new Promise<void>((resolve, reject) => {
      const probe = createServer().once('error', reject);
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
    });
    // The login itself survives (the user's tab is still open): the next relay resumes it.
    const second = spawnRelay([d.url], { home, env });
    second.send(INIT(1));
    second.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    second.send(CALL(2, 'echo', { text: 'after the takeover' }));
    await expect.poll(() => second.stderr(), { timeout: 15_000 }).toContain(pending.authorization_url);
    const res = await fetch(pending.authorization_url, { redirect: 'manual' });
    await fetch(res.headers.get('location')!);
    expect(JSON.stringify(await second.waitFor((m) => m.id === 2))).toContain('after the takeover');
    expect(browserLaunches(home)).toHaveLength(1);
    expect(d.counters.registrations).toBe(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });
});
