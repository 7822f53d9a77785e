/**
 * The legacy HTTP+SSE stream (MCP 2024-11-05) is held to --max-message-mb like every other path.
 * The SDK's SSE client reads it, with no bound of its own: found while extending the randomized
 * test (invariants.test.ts) to legacy servers, one endless SSE line there took the relay to 820 MB
 * in five seconds, and on. A real SDK legacy server behind the fault proxy, which breaks the first
 * GET /sse; the built relay driven with raw lines.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeFaults, faultProxy } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';
import { peakRssBytes } from '../helpers/proc-memory.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await killAll();
  await closeFaults();
  for (const s of servers.splice(0)) await s.close();
});

/**
 * With --max-message-mb 8 the relay holds at most one 8 MiB line; it idles at 60-80 MiB, and the
 * chunks it reads and drops are garbage the collector takes in its own time: the peak was 150-170 MiB
 * on Node 20 and about 210 MiB on Node 24 and 26, whose V8 lets more young garbage pile up. Unbounded,
 * the relay passed 800 MiB within the 4 s this test reads the line.
 */
const PEAK_RSS_LIMIT_BYTES = 400 * 1024 * 1024;

describe('the legacy SSE stream is bounded', () => {
  it('an endless SSE line on the legacy stream is skipped past --max-message-mb: the request is answered at --timeout, the relay stays small', async () => {
    const s = await startTestServer({ kind: 'sse' });
    servers.push(s);
    const p = await faultProxy({ target: `http://127.0.0.1:${s.port}` });
    p.inject({ match: (r) => r.method === 'GET', action: { kind: 'hostile', answer: 'sse-no-newline' } });
    const relay = spawnRelay([`${p.origin}/sse`, '--transport', 'sse', '--max-message-mb', '8', '--timeout', '4'], { home: await tempHome() });
    relay.send(INIT(1));
    // Answered by its budget: the stream it would come on carries one endless line. Meanwhile the
    // relay read that line as fast as loopback goes (unbounded, 300 MiB by then).
    expect(((await relay.waitFor((m) => m.id === 1)) as { error?: { message: string } }).error?.message).toMatch(/--timeout/);
    expect(peakRssBytes(relay.child.pid!)).toBeLessThan(PEAK_RSS_LIMIT_BYTES);
    expect(relay.child.exitCode).toBe(null);
  });

  it('an answer over --max-message-mb on the legacy stream is skipped: that call is answered at --timeout, the next one works', async () => {
    const s = await startTestServer({ kind: 'sse' });
    servers.push(s);
    const { client } = await connectRelay([s.url, '--transport', 'sse', '--max-message-mb', '1', '--timeout', '2'], { home: await tempHome() });
    await expect(client.callTool({ name: 'big', arguments: { bytes: 2 * 1024 * 1024 } })).rejects.toThrow(/--timeout/);
    const after = (await client.callTool({ name: 'echo', arguments: { text: 'after' } })) as { content: Array<{ text: string }> };
    expect(after.content[0]!.text).toBe('after');
  });
});
