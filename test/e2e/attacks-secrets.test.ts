/**
 * Where secrets must never show up, after real logins and refreshes against the demo OAuth
 * server: logs at the most verbose level, what the host reads on stdout, `mcp-relay status`,
 * process arguments; and how they rest on disk (0600 files in 0700 directories, never written
 * through a planted symlink).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { browserEnv, browserLaunches, closeDemos, demo, readStoreJson, storeDir } from '../helpers/oauth.js';
import { connectRelay, INIT, killAll, RELAY_BIN, relayEnv, spawnRelay, tempHome } from '../helpers/relay.js';

afterEach(async () => {
  await killAll();
  await closeDemos();
});

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

const CALL = (id: number, t: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: t } } });

interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** Run a CLI command to completion (status, logout). */
function cli(home: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RELAY_BIN, ...args], { env: relayEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('secrets never leak', () => {
  it('not in --log-level trace logs (stderr and --log-file), not on stdout, not in `status`: tokens, code, verifier, client secret', async () => {
    const d = await demo({ metadataOverrides: { token_endpoint_auth_methods_supported: ['client_secret_post'] } });
    const home = await tempHome();
    const logFile = join(home, 'relay.log');
    const relay = spawnRelay([d.url, '--log-level', 'trace', '--log-file', logFile], { home, env: browserEnv(home, 'record-only') });
    relay.send(INIT(1));
    relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    relay.send(CALL(2, 'first'));
    await expect.poll(() => existsSync(join(storeDir(home, d.url), 'pending.json')), { timeout: 15_000 }).toBe(true);
    const pending = (await readStoreJson<{ authorization_url: string; code_verifier: string }>(home, d.url, 'pending.json'))!;
    // Play the user's browser, so the test knows the authorization code.
    const callback = new URL((await fetch(pending.authorization_url, { redirect: 'manual' })).headers.get('location')!);
    const code = callback.searchParams.get('code')!;
    await (await fetch(callback)).text();
    await relay.waitFor((m) => m.id === 2);
    const first = (await readStoreJson<Tokens>(home, d.url, 'tokens.json'))!;
    d.expireAccessTokens();
    relay.send(CALL(3, 'after refresh'));
    expect(JSON.stringify(await relay.waitFor((m) => m.id === 3))).toContain('after refresh');
    const second = (await readStoreJson<Tokens>(home, d.url, 'tokens.json'))!;
    expect(second.access_token).not.toBe(first.access_token);
    const client = (await readStoreJson<{ client_secret: string }>(home, d.url, 'client.json'))!;
    expect(client.client_secret).toBeTruthy();
    relay.child.stdin.end();
    expect((await relay.exited).code).toBe(0);

    const status = await cli(home, ['status']);
    const statusJson = await cli(home, ['status', '--json']);
    expect(status.code).toBe(0);
    expect(status.out).toContain(d.url);
    const logs = relay.stderr() + readFileSync(logFile, 'utf8');
    expect(logs).toContain('"level":20'); // the most verbose levels were on (nothing logs at trace yet)
    const secrets = { code, verifier: pending.code_verifier, clientSecret: client.client_secret, ...prefix('first', first), ...prefix('second', second) };
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length, name).toBeGreaterThanOrEqual(8);
      expect(logs.includes(secret), `${name} in the logs`).toBe(false);
      expect(relay.lines.join('\n').includes(secret), `${name} on stdout`).toBe(false);
      expect(status.out.includes(secret), `${name} in status`).toBe(false);
      expect(statusJson.out.includes(secret), `${name} in status --json`).toBe(false);
    }
  });

  it('--client-secret env:NAME keeps the secret out of the process arguments of the relay and of the browser it launches', async () => {
    const secret = 'S3CRET-static-client-7f1c2a';
    const d = await demo({ registrationEnabled: false, staticClients: [{ client_id: 'static-1', client_secret: secret }] });
    const home = await tempHome();
    const logFile = join(home, 'relay.log');
    const { client, pid, stderr } = await connectRelay(
      [d.url, '--client-id', 'static-1', '--client-secret', 'env:MY_SECRET', '--debug', '--log-file', logFile],
      {
        home,
        env: { ...browserEnv(home), MY_SECRET: secret },
      },
    );
    // The login worked, so the token endpoint got the secret from the environment.
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'static' } }))).toBe('static');
    expect(d.counters.tokenRequests.authorization_code).toBe(1);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain('env:MY_SECRET');
    expect(cmdline.join(' ')).not.toContain(secret);
    expect(browserLaunches(home)).toHaveLength(1);
    expect(browserLaunches(home)[0]).not.toContain(secret);
    expect(stderr() + readFileSync(logFile, 'utf8')).not.toContain(secret);
    expect(existsSync(join(storeDir(home, d.url, { clientId: 'static-1' }), 'client.json'))).toBe(false);
  });
});

function prefix(name: string, t: Tokens): Record<string, string> {
  return { [`${name} access_token`]: t.access_token, [`${name} refresh_token`]: t.refresh_token };
}

describe('secrets at rest', () => {
  it('after a real login and refresh, every store file is 0600 and every store directory 0700', async () => {
    const d = await demo();
    const home = await tempHome();
    const { client } = await connectRelay([d.url], { home, env: browserEnv(home) });
    d.expireAccessTokens();
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'x' } }))).toBe('x');
    const root = join(home, 'store');
    const files: string[] = [];
    const dirs: string[] = [root];
    for (let i = 0; i < dirs.length; i++) {
      for (const e of await readdir(dirs[i]!, { withFileTypes: true })) {
        const path = join(dirs[i]!, e.name);
        if (e.name === 'lock') continue; // proper-lockfile's lock directory: empty, and inside a 0700 directory
        if (e.isDirectory()) dirs.push(path);
        else files.push(path);
      }
    }
    expect(files.map((f) => f.slice(root.length))).toEqual(
      expect.arrayContaining([expect.stringMatching(/tokens\.json$/), expect.stringMatching(/client\.json$/)]),
    );
    for (const dir of dirs) expect(((await stat(dir)).mode & 0o777).toString(8), dir).toBe('700');
    for (const file of files) {
      expect((await lstat(file)).isFile(), file).toBe(true);
      expect(((await stat(file)).mode & 0o777).toString(8), file).toBe('600');
    }
  });

  it('symlinks planted in place of the store files are never written through, at login or at refresh', async () => {
    const d = await demo();
    const home = await tempHome();
    const dir = storeDir(home, d.url);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const names = ['tokens.json', 'client.json', 'pending.json', 'discovery.json', 'server.json', 'cache.json'];
    const victims = new Map<string, string>();
    for (const name of names) {
      const victim = join(home, `victim-${name}`);
      await writeFile(victim, `precious ${name}\n`, { mode: 0o644 });
      await symlink(victim, join(dir, name));
      victims.set(name, victim);
    }
    const { client } = await connectRelay([d.url], { home, env: browserEnv(home) });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'logged in' } }))).toBe('logged in');
    // Plant the link again where the live tokens are, then make the relay refresh.
    await rm(join(dir, 'tokens.json'));
    await symlink(victims.get('tokens.json')!, join(dir, 'tokens.json'));
    d.expireAccessTokens();
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'refreshed' } }))).toBe('refreshed');
    for (const [name, victim] of victims) {
      expect(await readFile(victim, 'utf8'), name).toBe(`precious ${name}\n`);
      expect(((await stat(victim)).mode & 0o777).toString(8), name).toBe('644');
    }
    expect((await lstat(join(dir, 'tokens.json'))).isFile()).toBe(true);
    expect((await readStoreJson<{ access_token: string }>(home, d.url, 'tokens.json'))?.access_token).toBeTruthy();
  });
});
