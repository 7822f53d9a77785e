/**
 * The standalone GET stream (server-to-host messages outside any request) is held to the same
 * memory bound as answers: --max-message-mb per message, and the shared in-flight budget. Found by
 * the randomized test (invariants.test.ts): the GET stream read with the built-in 256 MiB bound
 * whatever --max-message-mb said, so one endless SSE line there grew the relay past 300 MiB.
 * A real SDK server behind the fault proxy, which breaks the first GET; the built relay.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeFaults, faultProxy } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';
import { peakRssBytes } from '../helpers/proc-memory.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await killAll();
  await closeFaults();
  for (const s of servers.splice(0)) await s.close();
});

/** With --max-message-mb 8 the relay holds at most one 8 MiB line; it idles at 60-80 MiB. The unbounded read held 256 MiB. */
const PEAK_RSS_LIMIT_BYTES = 160 * 1024 * 1024;

describe('the GET stream is bounded like an answer', () => {
  it('an endless SSE line on the GET stream is dropped at --max-message-mb, and the stream reopened', async () => {
    const s = await startTestServer({ kind: 'stateful' });
    servers.push(s);
    const p = await faultProxy({ target: `http://127.0.0.1:${s.port}` });
    p.inject({ match: (r) => r.method === 'GET', action: { kind: 'hostile', answer: 'sse-no-newline' } });
    const { client, pid } = await connectRelay([`${p.origin}/mcp`, '--max-message-mb', '8'], { home: await tempHome() });
    // The relay gave up on the first GET (the endless line) and opened a second one.
    await expect.poll(() => p.seen.filter((r) => r.method === 'GET').length, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    expect(peakRssBytes(pid!)).toBeLessThan(PEAK_RSS_LIMIT_BYTES);
    expect((await client.ping()) as object).toEqual({});
  });
});
