/**
 * DPoP (RFC 9449) through the built relay against a real authorization server that binds tokens
 * (oidc-provider 9: DPoP, resource indicators, dynamic registration, JWT access tokens with
 * cnf.jkt) and a real MCP server that accepts nothing but DPoP-bound tokens with valid proofs
 * (test/helpers/dpop-as.ts, dpop-mcp.ts). The browser is the fixture behind $BROWSER. Every assertion is
 * on what the two servers counted.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startDpopAs, type DpopAs } from '../helpers/dpop-as.js';
import { startDpopMcpServer, type DpopMcpServer } from '../helpers/dpop-mcp.js';
import { browserEnv, browserLaunches, editTokens, readStoreJson, storeDir } from '../helpers/oauth.js';
import { connectRelay, killAll, RELAY_BIN, relayEnv, tempHome } from '../helpers/relay.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await killAll();
  for (const c of closers.splice(0)) await c();
});

/** How many relay processes share one login in the refresh test. */
const RELAYS = 6;
/** Requests one relay sends in the jti test, and how many at a time. */
const REQUESTS = 1000;
const IN_FLIGHT = 25;

async function servers(
  opts: { asNonce?: boolean; mcpNonce?: boolean; kind?: 'stateful' | 'sse'; machineClient?: { id: string; secret: string } } = {},
): Promise<{ as: DpopAs; mcp: DpopMcpServer }> {
  let mcp: DpopMcpServer | undefined;
  const as = await startDpopAs({ resource: () => mcp!.url, requireNonce: opts.asNonce, machineClient: opts.machineClient });
  closers.push(() => as.close());
  mcp = await startDpopMcpServer({ as: () => as, requireNonce: opts.mcpNonce, kind: opts.kind });
  closers.push(() => mcp!.close());
  return { as, mcp };
}

/** `mcp-relay status` of the store in `home`. */
async function status(home: string): Promise<string> {
  return (await promisify(execFile)(process.execPath, [RELAY_BIN, 'status'], { env: relayEnv(home) })).stdout;
}

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

interface StoredDpopTokens {
  token_type: string;
  expires_at: number;
  refresh_token?: string;
  dpop_key?: { alg: string; jwk: Record<string, string> };
}

describe('DPoP-bound logins through the relay', () => {
  it('logs in with a DPoP-bound token and sends a verified proof with every request, on every method', async () => {
    const { as, mcp } = await servers();
    const home = await tempHome();
    const r = await connectRelay([mcp.url], { home, env: browserEnv(home) });
    expect(text(await r.client.callTool({ name: 'echo', arguments: { text: 'bound' } }))).toBe('bound');
    // The GET stream and the DELETE at the end carry proofs too (RFC 9449 §7.1: every request).
    await vi.waitFor(() => expect(mcp.counters.verified.GET).toBeGreaterThanOrEqual(1));
    await r.transport.close();
    await vi.waitFor(() => expect(mcp.counters.verified.DELETE).toBe(1));
    expect(mcp.counters.failures).toEqual([]);
    expect(mcp.counters.repeatedJti).toBe(0);
    expect(mcp.counters.verified.POST).toBeGreaterThanOrEqual(3);
    expect(as.counters.grants.authorization_code).toBe(1);
    expect(as.counters.registrations).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
    const tokens = await readStoreJson<StoredDpopTokens>(home, mcp.url, 'tokens.json');
    expect(tokens!.token_type).toBe('DPoP');
    expect(tokens!.dpop_key!.alg).toBe('ES256');
    // status says the login is bound, and never shows the key.
    const shown = await status(home);
    expect(shown).toContain('DPoP-bound');
    expect(shown).not.toContain(tokens!.dpop_key!.jwk.d!);
  });

  it('signs the legacy HTTP+SSE transport too: the GET stream and every POST, nonce retry included', async () => {
    const { as, mcp } = await servers({ kind: 'sse', mcpNonce: true });
    const home = await tempHome();
    const r = await connectRelay([mcp.url, '--transport', 'sse'], { home, env: browserEnv(home) });
    expect(text(await r.client.callTool({ name: 'echo', arguments: { text: 'legacy' } }))).toBe('legacy');
    mcp.rotateNonce();
    expect(text(await r.client.callTool({ name: 'echo', arguments: { text: 'again' } }))).toBe('again');
    expect(mcp.counters.verified.GET).toBeGreaterThanOrEqual(1);
    expect(mcp.counters.verified.POST).toBeGreaterThanOrEqual(3);
    expect(mcp.counters.failures).toEqual([]);
    expect(mcp.counters.repeatedJti).toBe(0);
    expect(as.counters.logins).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
  });

  it('a Bearer login meets a server that takes only DPoP: one new, bound login instead of refreshing unbound tokens', async () => {
    const { as, mcp } = await servers();
    const home = await tempHome();
    // An earlier login without DPoP (as before the server turned it on): unbound tokens with a refresh token.
    await promisify(execFile)(process.execPath, [RELAY_BIN, 'login', mcp.url, '--dpop', 'never'], { env: relayEnv(home, browserEnv(home)) });
    const unbound = await readStoreJson<StoredDpopTokens>(home, mcp.url, 'tokens.json');
    expect(unbound!.token_type).toBe('Bearer');
    expect(unbound!.refresh_token).toBeDefined();
    const r = await connectRelay([mcp.url], { home, env: browserEnv(home) });
    expect(text(await r.client.callTool({ name: 'echo', arguments: { text: 'rebound' } }))).toBe('rebound');
    expect(as.counters.grants.refresh_token).toBeUndefined();
    expect(as.counters.grants.authorization_code).toBe(2);
    expect(browserLaunches(home)).toHaveLength(2);
    expect((await readStoreJson<StoredDpopTokens>(home, mcp.url, 'tokens.json'))!.token_type).toBe('DPoP');
    expect(mcp.counters.failures).toEqual([]);
  });

  it('binds client credentials tokens too, with the AS nonce answered, and never opens a browser', async () => {
    const machineClient = { id: 'dpop-machine', secret: 'dpop-machine-secret' };
    const { as, mcp } = await servers({ machineClient, asNonce: true, mcpNonce: true });
    const home = await tempHome();
    const args = [mcp.url, '--client-credentials', '--client-id', machineClient.id, '--client-secret', 'env:DPOP_MACHINE_SECRET'];
    const relays = await Promise.all(
      [0, 1, 2].map(() => connectRelay(args, { home, env: { ...browserEnv(home), DPOP_MACHINE_SECRET: machineClient.secret } })),
    );
    const answers = await Promise.all(relays.map((r, i) => r.client.callTool({ name: 'echo', arguments: { text: `m${i}` } })));
    expect(answers.map(text)).toEqual(['m0', 'm1', 'm2']);
    expect(as.counters.grants.client_credentials).toBe(1);
    expect(as.counters.nonceErrors).toBe(1);
    expect(browserLaunches(home)).toHaveLength(0);
    const tokens = JSON.parse(await readFile(join(storeDir(home, mcp.url, { clientId: machineClient.id }), 'tokens.json'), 'utf8')) as StoredDpopTokens;
    expect(tokens.token_type).toBe('DPoP');
    expect(mcp.counters.failures).toEqual([]);
    expect(mcp.counters.repeatedJti).toBe(0);
  });

  it(`${RELAYS} relays sharing one DPoP-bound login make one refresh, each proving the stored key`, async () => {
    const { as, mcp } = await servers();
    const home = await tempHome();
    const first = await connectRelay([mcp.url], { home, env: browserEnv(home) });
    await first.client.listTools();
    await first.transport.close();
    const before = await readStoreJson<StoredDpopTokens>(home, mcp.url, 'tokens.json');
    // Due for renewal (inside the refresh margin) but not expired: every relay wants to refresh.
    await editTokens(home, mcp.url, (t) => {
      t.obtained_at = Date.now() - 3_600_000;
      t.expires_at = Date.now() + 20_000;
    });
    const relays = await Promise.all(Array.from({ length: RELAYS }, () => connectRelay([mcp.url], { home, env: browserEnv(home) })));
    const answers = await Promise.all(relays.map((r, i) => r.client.callTool({ name: 'echo', arguments: { text: `relay ${i}` } })));
    expect(answers.map(text)).toEqual(relays.map((_, i) => `relay ${i}`));
    expect(as.counters.grants.refresh_token).toBe(1);
    expect(as.counters.grants.authorization_code).toBe(1);
    expect(as.counters.registrations).toBe(1);
    expect(as.counters.grantErrors).toEqual([]);
    expect(browserLaunches(home)).toHaveLength(1);
    expect(mcp.counters.failures).toEqual([]);
    expect(mcp.counters.repeatedJti).toBe(0);
    // The refresh kept the key the login generated (a new key only with a new login).
    const after = await readStoreJson<StoredDpopTokens>(home, mcp.url, 'tokens.json');
    expect(after!.dpop_key).toEqual(before!.dpop_key);
    expect(after!.token_type).toBe('DPoP');
    expect(after!.refresh_token).not.toBe(before!.refresh_token);
  });

  it(`no jti repeats across ${REQUESTS} requests, and every proof verifies`, async () => {
    const { mcp } = await servers();
    const home = await tempHome();
    const r = await connectRelay([mcp.url], { home, env: browserEnv(home) });
    await r.client.listTools();
    const seenBefore = mcp.counters.jtis.size;
    for (let sent = 0; sent < REQUESTS; sent += IN_FLIGHT) {
      await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => r.client.callTool({ name: 'echo', arguments: { text: String(sent + i) } })));
    }
    expect(mcp.counters.jtis.size - seenBefore).toBeGreaterThanOrEqual(REQUESTS);
    expect(mcp.counters.repeatedJti).toBe(0);
    expect(mcp.counters.failures).toEqual([]);
  });

  it('answers use_dpop_nonce from the token endpoint and the MCP server with one retry each, never with a login', async () => {
    const { as, mcp } = await servers({ asNonce: true, mcpNonce: true });
    const home = await tempHome();
    const r = await connectRelay([mcp.url], { home, env: browserEnv(home) });
    expect(text(await r.client.callTool({ name: 'echo', arguments: { text: 'one' } }))).toBe('one');
    // RFC 9449 §8: the code exchange was asked for a nonce and sent again with it.
    expect(as.counters.nonceErrors).toBe(1);
    expect(as.counters.grants.authorization_code).toBe(1);
    // (The relay may already hold the server's nonce from the 401 before the login, §9.)
    const challenged = mcp.counters.nonceChallenges;
    // RFC 9449 §9: the server moves to a new nonce; the next request is refused once, then sent with it.
    mcp.rotateNonce();
    expect(text(await r.client.callTool({ name: 'echo', arguments: { text: 'two' } }))).toBe('two');
    // (The GET stream, if it reconnects meanwhile, is challenged once as well.)
    expect(mcp.counters.nonceChallenges).toBeGreaterThan(challenged);
    await r.transport.close();
    // A new process has no AS nonce yet: its refresh is asked for one, and succeeds on the retry.
    await editTokens(home, mcp.url, (t) => {
      t.obtained_at = Date.now() - 3_600_000;
      t.expires_at = Date.now() + 20_000;
    });
    const again = await connectRelay([mcp.url], { home, env: browserEnv(home) });
    expect(text(await again.client.callTool({ name: 'echo', arguments: { text: 'three' } }))).toBe('three');
    expect(as.counters.grants.refresh_token).toBe(1);
    expect(as.counters.nonceErrors).toBe(2);
    // No nonce was ever taken for a dead token: one registration, one login, one browser tab.
    expect(as.counters.registrations).toBe(1);
    expect(as.counters.logins).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
    expect(as.counters.grantErrors).toEqual([]);
    expect(mcp.counters.failures).toEqual([]);
    expect(mcp.counters.repeatedJti).toBe(0);
  });
});
