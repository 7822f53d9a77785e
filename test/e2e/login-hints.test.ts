/**
 * What the user is told during a login, where they look: the host's tool errors and JSON-RPC
 * errors (open the URL, or finish over SSH with the login command that works on this machine,
 * `npx -y mcp-relay login …` for a relay started through npx), the stderr of a second relay
 * waiting on the same login, and of a relay that takes over the login of one that was killed.
 * The demo OAuth server, built relays as children, a browser that only records (or none).
 */
import { existsSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { browserEnv, browserLaunches, closeDemos, demo, readStoreJson, storeDir } from '../helpers/oauth.js';
import { INIT, killAll, spawnRelay, tempHome, type RawRelay } from '../helpers/relay.js';

afterEach(async () => {
  await killAll();
  await closeDemos();
});

const REPO = resolve(import.meta.dirname, '../..');

type Answer = { id: number; result?: { isError?: boolean; content?: Array<{ text: string }> }; error?: { message: string } };

/** Start a host during a login that is never finished; return the tool error and a JSON-RPC error it gets. */
async function errorsDuringLogin(relay: RawRelay): Promise<{ tool: string; rpc: string }> {
  relay.send(INIT(1));
  await relay.waitFor((m) => m.id === 1);
  relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } });
  relay.send({ jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'demo://hello' } });
  const tool = (await relay.waitFor((m) => m.id === 2)) as unknown as Answer;
  const rpc = (await relay.waitFor((m) => m.id === 3)) as unknown as Answer;
  expect(tool.result?.isError).toBe(true);
  return { tool: tool.result!.content!.map((c) => c.text).join(''), rpc: rpc.error!.message };
}

async function waitForPending(home: string, url: string): Promise<{ authorization_url: string; redirect_uri: string; pid: number }> {
  await expect.poll(() => existsSync(join(storeDir(home, url), 'pending.json')), { timeout: 15_000 }).toBe(true);
  return (await readStoreJson(home, url, 'pending.json')) as { authorization_url: string; redirect_uri: string; pid: number };
}

describe('login hints in the host', () => {
  it('the tool error and the JSON-RPC error say to open the URL, and how to finish over SSH: `mcp-relay login <url>`', async () => {
    const d = await demo();
    const home = await tempHome();
    const relay = spawnRelay([d.url, '--login-wait', '1'], { home, env: browserEnv(home, 'record-only') });
    const { tool, rpc } = await errorsDuringLogin(relay);
    const url = browserLaunches(home)[0]!;
    for (const text of [tool, rpc]) {
      expect(text).toContain(`open ${url} in a browser`);
      expect(text).toContain(`paste it into \`mcp-relay login ${d.url}\``);
      expect(text).not.toContain('npx');
    }
  });

  it.each([
    ['installed in the npx cache (…/_npx/<hash>/node_modules/mcp-relay)', 'path'],
    ['run by npx (npm_command=exec, npm_lifecycle_event=npx)', 'env'],
  ] as const)('a relay %s says `npx -y mcp-relay login <url>`', async (_how, how) => {
    const d = await demo();
    const home = await tempHome();
    let bin: string | undefined;
    let env = browserEnv(home, 'record-only');
    if (how === 'path') {
      // npm's layout for `npx -y mcp-relay`: the package under the npx cache, run from there.
      const pkg = join(home, '.npm', '_npx', '0123456789abcdef', 'node_modules', 'mcp-relay');
      await mkdir(join(pkg, '..'), { recursive: true });
      await symlink(REPO, pkg, 'dir');
      bin = join(pkg, 'bin', 'mcp-relay.js');
    } else {
      // What npx puts in the environment of the command it runs.
      env = { ...env, npm_command: 'exec', npm_lifecycle_event: 'npx' };
    }
    const relay = spawnRelay([d.url, '--login-wait', '1'], { home, env, ...(bin ? { bin } : {}) });
    const { tool, rpc } = await errorsDuringLogin(relay);
    for (const text of [tool, rpc]) expect(text).toContain(`\`npx -y mcp-relay login ${d.url}\``);
  });
});

describe('login hints on stderr', () => {
  it('a second relay waiting on the same login logs the URL too, and says who owns the login', async () => {
    const d = await demo();
    const home = await tempHome();
    const first = spawnRelay([d.url], { home, env: browserEnv(home, 'record-only') });
    first.send(INIT(1));
    const pending = await waitForPending(home, d.url);
    const second = spawnRelay([d.url], { home, env: browserEnv(home, 'record-only') });
    second.send(INIT(1));
    await expect.poll(() => second.stderr(), { timeout: 15_000 }).toContain(pending.authorization_url);
    expect(second.stderr()).toContain(`Another mcp-relay process (pid ${pending.pid}) started this login`);
    expect(second.stderr()).toContain(`mcp-relay login ${d.url}`);
    // One tab: the second relay opened none.
    expect(browserLaunches(home)).toHaveLength(1);
  });

  it('the browser reached the callback of a relay that was killed: the relay taking over says so, offers the URL again, and the reloaded page finishes the login', async () => {
    const d = await demo();
    const home = await tempHome();
    const first = spawnRelay([d.url, '--no-browser'], { home });
    first.send(INIT(1));
    const pending = await waitForPending(home, d.url);
    first.child.kill('SIGKILL');
    await first.exited;
    // The user approves; the browser's redirect to the dead relay's callback fails to load.
    const res = await fetch(pending.authorization_url, { redirect: 'manual' });
    const redirected = new URL(res.headers.get('location')!, pending.authorization_url).href;
    await expect(fetch(redirected)).rejects.toThrow();

    const next = spawnRelay([d.url, '--no-browser'], { home });
    next.send(INIT(1));
    await expect.poll(() => next.stderr(), { timeout: 15_000 }).toContain('took it over');
    const err = next.stderr();
    expect(err).toContain(`The mcp-relay process that started this login (pid ${pending.pid}) is no longer running`);
    expect(err).toContain(`If your browser already ended on an address starting with ${pending.redirect_uri} that failed to load`);
    expect(err).toContain('reload that page now');
    await expect.poll(() => next.stderr(), { timeout: 10_000 }).toContain(pending.authorization_url);
    // The user reloads the page that failed: it reaches the new owner, which finishes the login.
    expect((await fetch(redirected)).ok).toBe(true);
    const init = (await next.waitFor((m) => m.id === 1)) as { result?: { serverInfo?: { name?: string } } };
    expect(init.result?.serverInfo?.name).not.toBe('mcp-relay');
    expect(d.counters.authorizeRequests).toBe(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
  });
});
