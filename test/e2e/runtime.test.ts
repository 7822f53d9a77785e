/**
 * The Node runtime the relay runs on, as `npm run test:node-matrix` relies on it
 * (test/node-matrix/run.mjs runs these tests on Node 22, 24 and 26 from the npm registry).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import module from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const servers: TestServer[] = [];

afterEach(async () => {
  await killAll();
  for (const s of servers.splice(0)) await s.close();
});

/** The relay's JSON log lines on stderr (stderr is a pipe here, so pino writes JSON). */
function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('the Node runtime', () => {
  it('the relay runs on the Node that runs the tests, and says which in its start line', async () => {
    // The matrix runner names the runtime it installed; the test workers must be on it...
    const expected = process.env.MCP_RELAY_EXPECT_NODE;
    if (expected !== undefined) expect(process.version).toBe(expected);
    const s = await startTestServer({ kind: 'stateful' });
    servers.push(s);
    const relay = spawnRelay([s.url], { home: await tempHome() });
    relay.send(INIT());
    await relay.waitFor((m) => m.id === 1);
    // ...and so must the relay they spawn (with process.execPath), or the matrix tests nothing.
    const start = logLines(relay.stderr()).find((l) => l.msg === 'mcp-relay starting');
    expect(start?.node).toBe(process.version);
  });

  // Node >= 22.1: bin/mcp-relay.js turns on the module compile cache, in the user's cache
  // directory (env-paths: $XDG_CACHE_HOME/mcp-relay on Linux), not in the shared temp directory.
  // On Node 20 there is none, and nothing is written.
  it("keeps the compiled modules in the user's cache directory where Node has a compile cache", async () => {
    const home = await tempHome();
    const tmp = join(home, 'tmp');
    await mkdir(tmp);
    const s = await startTestServer({ kind: 'stateful' });
    servers.push(s);
    const relay = spawnRelay([s.url], { home, env: { XDG_CACHE_HOME: join(home, 'cache'), TMPDIR: tmp } });
    relay.send(INIT());
    await relay.waitFor((m) => m.id === 1);
    relay.child.stdin.end();
    expect(await relay.exited).toEqual({ code: 0, signal: null });
    const cache = join(home, 'cache', 'mcp-relay', 'node-compile-cache');
    // @types/node is the floor's (20), which has no enableCompileCache.
    if (typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function') {
      expect(readdirSync(cache).length).toBeGreaterThan(0);
    } else {
      expect(existsSync(cache)).toBe(false);
    }
    expect(readdirSync(tmp)).toEqual([]);
  });
});
