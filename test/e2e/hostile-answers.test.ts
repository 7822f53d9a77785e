/**
 * Exactly one answer, in bounded time and memory, whatever the server sends (docs/reliability.md):
 * each case is a hostile answer from the fault proxy in front of a real SDK server, the built
 * relay driven by an SDK client as a host drives it. After each, the relay is alive and the next
 * call goes through, and the server was told to cancel the request the relay gave up on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeFaults, faultProxy, on, type FaultProxy, type HostileAnswer } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';
import { rssBytes } from '../helpers/proc-memory.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await killAll();
  await closeFaults();
  for (const s of servers.splice(0)) await s.close();
});

const echo = (t: string) => ({ name: 'echo', arguments: { text: t } });
function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0]!.text;
}

async function relayBehind(args: string[]) {
  const s = await startTestServer({ kind: 'stateful' });
  servers.push(s);
  const p = await faultProxy({ target: `http://127.0.0.1:${s.port}` });
  const relay = await connectRelay([`${p.origin}/mcp`, ...args], { home: await tempHome() });
  return { p, ...relay };
}

/** The relay told the server to stop working on the call it gave up on (MCP utilities/cancellation). */
async function expectCancelled(p: FaultProxy): Promise<void> {
  await expect.poll(() => p.seen.some((r) => r.rpcMethod === 'notifications/cancelled')).toBe(true);
}

describe('hostile answers: one answer each, in bounded time and memory', () => {
  it('a JSON answer declaring 3 GiB is refused before it is read: that call gets an error, the relay lives', async () => {
    const { p, client } = await relayBehind([]);
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'hostile', answer: 'json-huge-declared' } });
    await expect(client.callTool(echo('huge'))).rejects.toThrow(/a JSON answer of over 256 MiB/);
    expect(text(await client.callTool(echo('after')))).toBe('after');
  });

  it('a JSON answer that never ends is cut at --max-message-mb, and the connection dropped', async () => {
    const { p, client } = await relayBehind(['--max-message-mb', '1']);
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'hostile', answer: 'json-endless' } });
    await expect(client.callTool(echo('endless'))).rejects.toThrow(/a JSON answer of over 1 MiB/);
    expect(text(await client.callTool(echo('after')))).toBe('after');
  });

  it('JSON headers and then silence: answered at --timeout, saying it was reading the JSON answer', async () => {
    const { p, client } = await relayBehind(['--timeout', '2']);
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'hostile', answer: 'json-silence' } });
    await expect(client.callTool(echo('silent'))).rejects.toThrow(/no progress from the server for 2 s \(the --timeout limit\) while reading its JSON answer/);
    await expectCancelled(p);
    expect(text(await client.callTool(echo('after')))).toBe('after');
  });

  it.each<HostileAnswer>(['sse-garbage', 'sse-comments', 'sse-trickle'])(
    'an answer stream that keeps sending bytes but no message (%s) is answered at --timeout',
    async (answer) => {
      const { p, client } = await relayBehind(['--timeout', '2']);
      p.inject({ match: on.rpc('tools/call'), action: { kind: 'hostile', answer } });
      await expect(client.callTool(echo(answer))).rejects.toThrow(/no progress from the server for 2 s \(the --timeout limit\) while streaming its answer/);
      await expectCancelled(p);
      expect(text(await client.callTool(echo('after')))).toBe('after');
    },
  );

  it('a server that reports progress forever is answered at --max-time', async () => {
    const { p, client } = await relayBehind(['--timeout', '1', '--max-time', '3']);
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'hostile', answer: 'sse-progress-forever' } });
    await expect(client.callTool(echo('forever'))).rejects.toThrow(/the request ran for 3 s \(the --max-time limit\) while streaming its answer/);
    await expectCancelled(p);
    expect(text(await client.callTool(echo('after')))).toBe('after');
  });

  it('three SSE lines without a newline at once: each call gets an error at --max-message-mb, and the relay stays small', async () => {
    const { p, client, pid } = await relayBehind(['--max-message-mb', '8']);
    p.inject({ match: on.rpc('tools/call'), times: 3, action: { kind: 'hostile', answer: 'sse-no-newline' } });
    const calls = ['a', 'b', 'c'].map((t) => client.callTool(echo(t)));
    // Every call's rejection handled at once: awaiting them one by one left a call that failed
    // first unhandled for a moment, which vitest reports as an error (node matrix, Node 24).
    await Promise.all(calls.map((call) => expect(call).rejects.toThrow(/an SSE event of over 8 MiB/)));
    expect(text(await client.callTool(echo('after')))).toBe('after');
    // Three 8 MiB lines at most were held; before the bound, three such calls took 890 MiB.
    expect(rssBytes(pid!)).toBeLessThan(200 * 1024 * 1024);
  });
});

describe('a busy server (429 / 503 with Retry-After)', () => {
  it('a short Retry-After is waited out and the call sent again: the host gets the real answer', async () => {
    const { p, client } = await relayBehind([]);
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'respond', status: 429, headers: { 'retry-after': '1' }, body: 'slow down' } });
    expect(text(await client.callTool(echo('patient')))).toBe('patient');
    expect(p.seen.filter((r) => r.rpcMethod === 'tools/call').map((r) => r.fault ?? 'forwarded')).toEqual(['respond', 'forwarded']);
  });

  it('a long Retry-After is answered at once with an error that says when to retry', async () => {
    const { p, client } = await relayBehind([]);
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'respond', status: 503, headers: { 'retry-after': '120' }, body: 'maintenance' } });
    await expect(client.callTool(echo('later'))).rejects.toThrow(/answered HTTP 503.*the server asks to retry after 120 s/);
    expect(p.seen.filter((r) => r.rpcMethod === 'tools/call')).toHaveLength(1);
    expect(text(await client.callTool(echo('after')))).toBe('after');
  });
});
