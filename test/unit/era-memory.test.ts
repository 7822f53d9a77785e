/**
 * remote.json through a real store: a verdict is recalled while fresh, not after its lifetime or
 * with a clock set back, and a broken file only costs a probe.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { ERA_RECORD_TTL_MS, storeEraMemory } from '../../src/remote/era-memory.js';
import { serverKey } from '../../src/store/paths.js';
import { CredentialStore } from '../../src/store/store.js';

const T0 = 1_800_000_000_000;
const dirs: string[] = [];

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function server() {
  const root = await mkdtemp(join(tmpdir(), 'era-memory-'));
  dirs.push(root);
  return new CredentialStore(root, silentLogger()).server(serverKey({ serverUrl: 'https://mcp.example.com/mcp' }));
}

describe('storeEraMemory', () => {
  it('recalls a verdict until its lifetime ends', async () => {
    const s = await server();
    let now = T0;
    const memory = storeEraMemory(s, silentLogger(), () => now);
    expect(await memory.recall()).toBeUndefined();
    await memory.remember({ era: 'legacy', transport: 'sse' });
    expect(await s.readRemote()).toEqual({ era: 'legacy', transport: 'sse', checked_at: T0 });
    now = T0 + ERA_RECORD_TTL_MS - 1;
    expect(await memory.recall()).toEqual({ era: 'legacy', transport: 'sse' });
    now = T0 + ERA_RECORD_TTL_MS;
    expect(await memory.recall()).toBeUndefined();
    now = T0 - 1; // a clock set back
    expect(await memory.recall()).toBeUndefined();
  });

  it('a damaged remote.json is no record (and is set aside by the store)', async () => {
    const s = await server();
    const memory = storeEraMemory(s, silentLogger(), () => T0);
    await memory.remember({ era: 'modern', transport: 'http' });
    await writeFile(join(s.dir, 'remote.json'), '{"era":"future","transport":"http","checked_at":1}');
    expect(await memory.recall()).toBeUndefined();
  });
});
