/**
 * Every host request gets exactly one answer, whatever the host sends and wherever the relay
 * logs: a --log-file that cannot be opened or written, a request id that is still pending, and
 * values that are JSON but not JSON-RPC requests. The built relay as a child process, a real SDK
 * server behind it that records what it was sent.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const servers: TestServer[] = [];
async function server(): Promise<TestServer> {
  const s = await startTestServer({ kind: 'stateful' });
  servers.push(s);
  return s;
}

afterEach(async () => {
  await killAll();
  for (const s of servers.splice(0)) await s.close();
});

const PING = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });
const CALL = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

type Line = { id?: unknown; result?: unknown; error?: { code: number; message: string } };

/** Methods of the JSON-RPC messages the server received. */
function seenMethods(s: TestServer): unknown[] {
  return s.requests.map((r) => (r.body && typeof r.body === 'object' ? (r.body as { method?: unknown }).method : undefined)).filter((m) => m !== undefined);
}

describe('--log-file', () => {
  it.each([
    ['in a directory that does not exist', (home: string) => join(home, 'no-such-dir', 'relay.log')],
    ['that is a directory', (home: string) => home],
  ])('a path %s: exit 2 at start with a message naming the flag and the path', async (_what, pathOf) => {
    const s = await server();
    const home = await tempHome();
    const path = pathOf(home);
    const relay = spawnRelay([s.url, '--log-file', path], { home });
    const exit = await relay.exited;
    expect(exit.code).toBe(2);
    expect(relay.stderr()).toContain(`--log-file ${path}: cannot open it`);
    expect(relay.stderr()).not.toMatch(/Unhandled 'error' event|at .*\.js:\d+/);
    expect(relay.lines).toEqual([]);
  });

  it('a log file that fails later (/dev/full: ENOSPC): one line on stderr, every request still answered, exit 0', async () => {
    if (!existsSync('/dev/full')) return; // Linux-only device
    const s = await server();
    const home = await tempHome();
    const relay = spawnRelay([s.url, '--log-file', '/dev/full', '--log-level', 'debug'], { home });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.send(CALL(2, 'echo', { text: 'still relaying' }));
    relay.send(PING(3));
    expect(JSON.stringify(await relay.waitFor((m) => m.id === 2))).toContain('still relaying');
    expect((await relay.waitFor((m) => m.id === 3)).result).toEqual({});
    expect(relay.stderr()).toContain('writing the log file /dev/full failed (ENOSPC); logging to stderr only from now on');
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
  });

  it('an existing log file (mode 0644) is made private (0600) like a new one, and is appended to', async () => {
    const s = await server();
    const home = await tempHome();
    const dir = join(home, 'logs');
    await mkdir(dir);
    const path = join(dir, 'relay.log');
    await writeFile(path, 'an older line\n', { mode: 0o644 });
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    const relay = spawnRelay([s.url, '--log-file', path], { home });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
    const text = await readFile(path, 'utf8');
    expect(text.startsWith('an older line\n')).toBe(true);
    expect(text).toContain('mcp-relay starting');
  });
});

describe('request ids', () => {
  it('a request whose id is still pending: answered -32600 at once, not sent to the server; the first gets its real answer', async () => {
    const s = await server();
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.send(CALL(5, 'slow', { steps: 3, delayMs: 300 }));
    relay.send(CALL(5, 'echo', { text: 'the duplicate' }));
    const first = (await relay.waitFor((m) => m.id === 5)) as Line;
    expect(first.error?.code).toBe(-32600);
    expect(first.error?.message).toContain('id 5 belongs to a request that is still in progress');
    expect(first.error?.message).toContain('not sent to the server');
    const answers = () => relay.lines.map((l) => JSON.parse(l) as Line).filter((m) => m.id === 5);
    await expect.poll(() => answers().length, { timeout: 15_000 }).toBe(2);
    const real = answers()[1]!;
    expect(real.error).toBeUndefined();
    expect(JSON.stringify(real.result)).not.toContain('the duplicate');
    // The server saw the slow call only.
    expect(seenMethods(s).filter((m) => m === 'tools/call')).toHaveLength(1);
    // Once answered, the id is free again.
    relay.send(CALL(5, 'echo', { text: 'id 5 again' }));
    await expect.poll(() => answers().length, { timeout: 10_000 }).toBe(3);
    expect(JSON.stringify(answers()[2])).toContain('id 5 again');
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
  });

  it('a cancelled request no longer holds its id: the host may use it again, and it is not answered at shutdown', async () => {
    const s = await server();
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.send(CALL(6, 'slow', { steps: 20, delayMs: 500 }));
    await expect.poll(() => seenMethods(s).filter((m) => m === 'tools/call').length, { timeout: 10_000 }).toBe(1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 6, reason: 'the user gave up' } });
    await expect.poll(() => s.counters.cancelled, { timeout: 10_000 }).toBe(1);
    relay.send(CALL(6, 'echo', { text: 'a new request 6' }));
    const again = (await relay.waitFor((m) => m.id === 6)) as Line;
    expect(again.error).toBeUndefined();
    expect(JSON.stringify(again.result)).toContain('a new request 6');
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
    expect(relay.lines.map((l) => JSON.parse(l) as Line).filter((m) => m.id === 6)).toHaveLength(1);
  });
});

describe('invalid requests', () => {
  it('JSON that is not a valid request: -32600 with id null and what was wrong; only a batch mentions batches', async () => {
    const s = await server();
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT(1));
    await relay.waitFor((m) => m.id === 1);
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const bad: Array<[string, RegExp]> = [
      ['{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', /"id" must be a string or a number \(got an object\)/],
      ['{"jsonrpc":"2.0","id":true,"method":"ping"}', /"id" must be a string or a number \(got a boolean\)/],
      ['{"jsonrpc":"2.0","id":7,"method":5}', /"method" must be a string \(got a number\)/],
      ['"hello"', /expected a JSON-RPC 2.0 message object, got a string/],
      ['42', /expected a JSON-RPC 2.0 message object, got a number/],
      ['[]', /got an empty array/],
      ['[{"jsonrpc":"2.0","id":8,"method":"ping"}]', /batch/],
    ];
    for (const [line] of bad) relay.sendRaw(`${line}\n`);
    relay.send(PING(9));
    await relay.waitFor((m) => m.id === 9);
    const errors = relay.lines.map((l) => JSON.parse(l) as Line).filter((m) => m.error);
    expect(errors.map((e) => [e.id, e.error!.code])).toEqual(bad.map(() => [null, -32600]));
    errors.forEach((e, i) => {
      expect(e.error!.message).toMatch(bad[i]![1]);
    });
    // Only the real batch (the last line) talks about batches.
    expect(errors.slice(0, -1).some((e) => /batch/i.test(e.error!.message))).toBe(false);
    // None of them reached the server.
    const bodies = s.requests.map((r) => r.body).filter((b): b is { id?: unknown; method?: unknown } => !!b && typeof b === 'object' && !Array.isArray(b));
    expect(s.requests.filter((r) => Array.isArray(r.body) || typeof r.body === 'string')).toEqual([]);
    expect(
      bodies.filter(
        (b) => typeof b.method !== 'string' || (b.id !== undefined && typeof b.id !== 'string' && typeof b.id !== 'number') || b.id === 7 || b.id === 8,
      ),
    ).toEqual([]);
    expect(seenMethods(s).filter((m) => m === 'ping')).toHaveLength(1);
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);
  });
});
