/**
 * A session the server forgot is re-established with the host's original initialize (MCP
 * 2025-11-25 transports, session management). Found by the randomized test (invariants.test.ts):
 * when that re-initialize itself failed, the relay was left without a session for good, or
 * waiting for it forever, and every later request failed. Each case: a real SDK server that
 * drops its sessions, the fault proxy breaking the re-initialize once, the built relay driven by
 * an SDK client; the call after the failure must work.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeFaults, type FaultAction, faultProxy, on } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';

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

describe('a re-initialize that fails does not break the relay for good', () => {
  it.each<[string, FaultAction]>([
    // Before the fix: the session id was cleared first, so every later request went without one (HTTP 400 "No valid session ID").
    ['answered 503', { kind: 'respond', status: 503, body: '' }],
    // Before the fix: the relay's own request had no total limit, and every later request waited for it.
    ['answered with SSE garbage forever', { kind: 'hostile', answer: 'sse-garbage' }],
    ['answered with progress forever', { kind: 'hostile', answer: 'sse-progress-forever' }],
  ])('the re-initialize is %s: the next call starts a new session and works', async (_name, action) => {
    const s = await startTestServer({ kind: 'stateful' });
    servers.push(s);
    const p = await faultProxy({ target: `http://127.0.0.1:${s.port}` });
    const { client } = await connectRelay([`${p.origin}/mcp`, '--timeout', '2', '--max-time', '6'], { home: await tempHome() });
    expect(text(await client.callTool(echo('one')))).toBe('one');
    await s.dropAllSessions();
    p.inject({ match: on.rpc('initialize'), action });
    // The call that meets the lost session (or the GET stream, first) starts the re-initialize that
    // fails; this call is answered either way: an error, or its result if the GET took the fault.
    await client.callTool(echo('during')).catch(() => undefined);
    expect(text(await client.callTool(echo('after')))).toBe('after');
    expect(p.seen.filter((r) => r.rpcMethod === 'initialize').length).toBeGreaterThanOrEqual(3);
  });
});
