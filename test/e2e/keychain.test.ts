/**
 * --credential-store against a real Secret Service: gnome-keyring-daemon on a private D-Bus
 * session bus (test/helpers/keyring.ts), the built relay as child processes, the demo
 * authorization + MCP server in-process. What the keychain holds is read back through the
 * library from the test; what the store directory holds is read as files.
 *
 * Without gnome-keyring these tests skip with the reason, except under
 * MCP_RELAY_KEYCHAIN_TESTS=required (CI), where they fail.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { serverKey } from '../../src/store/paths.js';
import { CredentialStore } from '../../src/store/store.js';
import { browserEnv, browserLaunches, closeDemos, demo, editTokens, storeDir } from '../helpers/oauth.js';
import { keychainEntry, keyringMissing, startKeyring, type Keyring } from '../helpers/keyring.js';
import { connectRelay, killAll, RELAY_BIN, relayEnv, tempHome } from '../helpers/relay.js';

const missing = keyringMissing();
if (missing) console.warn(`skipping the OS keychain tests: ${missing}`);

let keyring: Keyring;
beforeAll(async () => {
  if (!missing) keyring = await startKeyring();
});
afterAll(async () => {
  await keyring?.stop();
});
afterEach(async () => {
  await killAll();
  await closeDemos();
});

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

/** Every file under `dir`, concatenated: what a thief with the store directory would get. */
async function everything(dir: string): Promise<string> {
  let all = '';
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) all += await readFile(join(e.parentPath, e.name), 'utf8');
  }
  return all;
}

function cli(home: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RELAY_BIN, ...args], { env: relayEnv(home, env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A relay that has logged in (a list needs the login), then closed. */
async function loggedIn(home: string, url: string, env: Record<string, string>, args: string[]): Promise<void> {
  const r = await connectRelay([url, ...args], { home, env });
  await r.client.listTools();
  await r.transport.close();
}

async function entrySecrets(file: string): Promise<Record<string, string> | undefined> {
  const raw = await keychainEntry(keyring, file);
  return raw === null ? undefined : (JSON.parse(raw) as { secrets: Record<string, string> }).secrets;
}

describe.skipIf(missing !== undefined)('secrets in the OS keychain (gnome-keyring on a private D-Bus)', () => {
  it('login keeps the tokens in the keychain and not in the store files; status names the backend; logout deletes the entries', async () => {
    const d = await demo();
    const home = await tempHome();
    const env = { ...browserEnv(home), ...keyring.env };
    const relay = await connectRelay([d.url, '--credential-store', 'keychain'], { home, env });
    expect(text(await relay.client.callTool({ name: 'echo', arguments: { text: 'in keychain' } }))).toBe('in keychain');
    await relay.transport.close();

    const dir = storeDir(home, d.url);
    const tokens = await entrySecrets(join(dir, 'tokens.json'));
    const client = await entrySecrets(join(dir, 'client.json'));
    expect(tokens?.access_token).toBeTruthy();
    expect(tokens?.refresh_token).toBeTruthy();
    // The demo registers a public client (no secret): client.json needs no keychain entry then.
    expect(client).toBeUndefined();
    const files = await everything(join(home, 'store'));
    for (const secret of [tokens!.access_token!, tokens!.refresh_token!]) expect(files).not.toContain(secret);
    const onDisk = JSON.parse(await readFile(join(dir, 'tokens.json'), 'utf8')) as Record<string, unknown>;
    expect(onDisk.secrets).toMatchObject({ store: 'keychain' });
    expect(onDisk.expires_at).toBeGreaterThan(Date.now());

    // A second relay (default auto) reads the login from the keychain: no new login.
    const warm = await connectRelay([d.url], { home, env });
    expect(text(await warm.client.callTool({ name: 'echo', arguments: { text: 'warm' } }))).toBe('warm');
    await warm.transport.close();
    expect(browserLaunches(home)).toHaveLength(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(1);

    const status = await cli(home, ['status', '--json'], keyring.env);
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout) as { servers: Array<{ secrets_in: string; tokens: unknown }> };
    expect(doc.servers[0]!.secrets_in).toBe('keychain');
    expect(doc.servers[0]!.tokens).toMatchObject({ refresh_token: true, expired: false });
    // Where that keychain cannot be reached, status still lists the login and says why it cannot show more.
    const away = await cli(home, ['status', '--json'], { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/mcp-relay-test-bus' });
    expect(away.code).toBe(0);
    const awayDoc = JSON.parse(away.stdout) as { servers: Array<{ secrets_in: string; secrets_unreadable: string; tokens: unknown }> };
    expect(awayDoc.servers[0]).toMatchObject({ secrets_in: 'keychain', tokens: null });
    expect(awayDoc.servers[0]!.secrets_unreadable).toMatch(/D-Bus session bus cannot be reached/);
    const human = await cli(home, ['status'], keyring.env);
    expect(human.stdout).toMatch(/secrets in +the OS keychain/);
    for (const secret of [tokens!.access_token!, tokens!.refresh_token!]) expect(status.stdout + human.stdout + status.stderr).not.toContain(secret);

    const logout = await cli(home, ['logout', d.url], keyring.env);
    expect(logout.code).toBe(0);
    expect(await keychainEntry(keyring, join(dir, 'tokens.json'))).toBeNull();
    expect(await keychainEntry(keyring, join(dir, 'client.json'))).toBeNull();
  });

  it('six relays with an expired access token in the keychain: one refresh, zero invalid_grant', async () => {
    const d = await demo({ rotateRefreshTokens: true });
    const home = await tempHome();
    const env = { ...browserEnv(home), ...keyring.env };
    await loggedIn(home, d.url, env, ['--credential-store', 'keychain']);
    d.expireAccessTokens();
    await editTokens(home, d.url, (t) => (t.expires_at = Date.now() - 1_000));
    const relays = await Promise.all(Array.from({ length: 6 }, () => connectRelay([d.url, '--credential-store', 'keychain'], { home, env })));
    const answers = await Promise.all(relays.map((r, i) => r.client.callTool({ name: 'echo', arguments: { text: `r${i}` } })));
    expect(answers.map(text)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(d.counters.invalidGrant).toBe(0);
    expect(browserLaunches(home)).toHaveLength(1);
    // The rotated refresh token went to the keychain too.
    const files = await everything(join(home, 'store'));
    const tokens = await entrySecrets(join(storeDir(home, d.url), 'tokens.json'));
    expect(files).not.toContain(tokens!.refresh_token!);
  });

  it('an entry deleted from the keychain is no login: the relay logs in again instead of failing', async () => {
    const d = await demo();
    const home = await tempHome();
    const env = { ...browserEnv(home), ...keyring.env };
    await loggedIn(home, d.url, env, ['--credential-store', 'keychain']);
    const { AsyncEntry } = await import('@napi-rs/keyring');
    const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
    process.env.DBUS_SESSION_BUS_ADDRESS = keyring.env.DBUS_SESSION_BUS_ADDRESS;
    try {
      await new AsyncEntry('mcp-relay', join(storeDir(home, d.url), 'tokens.json'), { linux: { store: 'secret-service' } }).deletePassword();
    } finally {
      if (saved === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = saved;
    }
    const again = await connectRelay([d.url, '--credential-store', 'keychain'], { home, env });
    expect(text(await again.client.callTool({ name: 'echo', arguments: { text: 'again' } }))).toBe('again');
    expect(d.counters.tokenRequests.authorization_code).toBe(2);
    expect(again.stderr()).toMatch(/entry holding the secrets of .*tokens\.json is gone/);
  });

  it('a file-store relay never loads the keychain library; a keychain one does', async () => {
    const d = await demo();
    const home = await tempHome();
    const env = { ...browserEnv(home), ...keyring.env };
    const maps = async (pid: number | undefined) => readFile(`/proc/${pid}/maps`, 'utf8');
    const file = await connectRelay([d.url, '--credential-store', 'file'], { home, env });
    await file.client.callTool({ name: 'echo', arguments: { text: 'f' } });
    expect(await maps(file.pid)).not.toMatch(/keyring/);
    await file.transport.close();
    // The login above is in the files; a refresh in keychain mode moves it to the keychain.
    d.expireAccessTokens();
    const kc = await connectRelay([d.url, '--credential-store', 'keychain'], { home, env });
    await kc.client.callTool({ name: 'echo', arguments: { text: 'k' } });
    expect(await maps(kc.pid)).toMatch(/keyring/);
    expect((await entrySecrets(join(storeDir(home, d.url), 'tokens.json')))?.access_token).toBeTruthy();
  });
});

describe.skipIf(missing !== undefined)('the store classes in this process', () => {
  it('a client secret goes to the keychain too; the file keeps the rest; clearing removes the entry', async () => {
    const home = await tempHome();
    const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
    // The library in this process finds the bus through the environment, as a relay's does.
    process.env.DBUS_SESSION_BUS_ADDRESS = keyring.env.DBUS_SESSION_BUS_ADDRESS;
    try {
      const store = new CredentialStore(join(home, 'store'), silentLogger(), { credentialStore: 'keychain', env: { ...process.env, ...keyring.env } });
      const server = store.server(serverKey({ serverUrl: 'https://mcp.example.com/mcp' }));
      const secret = 'SECRET-CLIENT-KEYCHAIN-1';
      await server.withLock(() =>
        server.writeClient({ client_id: 'c1', client_secret: secret, redirect_uris: ['http://127.0.0.1:1/cb'], kind: 'dynamic', registered_at: 1 }),
      );
      const file = join(server.dir, 'client.json');
      expect(await readFile(file, 'utf8')).not.toContain(secret);
      expect((await entrySecrets(file))?.client_secret).toBe(secret);
      expect((await server.readClient())?.client_secret).toBe(secret);
      await server.withLock(() => server.clearClient());
      expect(await keychainEntry(keyring, file)).toBeNull();
      expect(await server.readClient()).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = saved;
    }
  });
});

describe.skipIf(missing !== undefined)('a writer killed between the keychain entry and the file', () => {
  it('readers take the newer entry (its rotated refresh token), not the secrets the file last named', async () => {
    const home = await tempHome();
    const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
    process.env.DBUS_SESSION_BUS_ADDRESS = keyring.env.DBUS_SESSION_BUS_ADDRESS;
    try {
      const store = new CredentialStore(join(home, 'store'), silentLogger(), { credentialStore: 'keychain', env: { ...process.env, ...keyring.env } });
      const server = store.server(serverKey({ serverUrl: 'https://mcp.example.com/mcp' }));
      const old = { access_token: 'AT-1', refresh_token: 'RT-1', token_type: 'Bearer', expires_at: Date.now() - 1_000, obtained_at: 1 };
      await server.withLock(() => server.writeTokens(old));
      expect((await server.readTokens())?.refresh_token).toBe('RT-1');
      // What a refresh that died after its keychain write leaves: a newer entry, the old file.
      const file = join(server.dir, 'tokens.json');
      const { AsyncEntry } = await import('@napi-rs/keyring');
      await new AsyncEntry('mcp-relay', file, { linux: { store: 'secret-service' } }).setPassword(
        JSON.stringify({ version: 'written-by-a-dead-process', secrets: { access_token: 'AT-2', refresh_token: 'RT-2' } }),
      );
      const read = await server.readTokens();
      expect(read).toMatchObject({ access_token: 'AT-2', refresh_token: 'RT-2', expires_at: old.expires_at });
    } finally {
      if (saved === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = saved;
    }
  });
});

describe('no usable keychain (a D-Bus address that leads nowhere)', () => {
  const nowhere = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/mcp-relay-test-bus' };

  it('auto falls back to the 0600 files and says so once in the log', async () => {
    const d = await demo();
    const home = await tempHome();
    const relay = await connectRelay([d.url], { home, env: { ...browserEnv(home), ...nowhere } });
    expect(text(await relay.client.callTool({ name: 'echo', arguments: { text: 'files' } }))).toBe('files');
    const onDisk = JSON.parse(await readFile(join(storeDir(home, d.url), 'tokens.json'), 'utf8')) as Record<string, unknown>;
    expect(onDisk.access_token).toBeTruthy();
    expect(onDisk.secrets).toBeUndefined();
    expect(relay.stderr().match(/OS keychain not usable/g)).toHaveLength(1);
    expect(relay.stderr()).toMatch(/D-Bus session bus cannot be reached/);
    // The probe ran in a child process: this relay never mapped the native library.
    expect(await readFile(`/proc/${relay.pid}/maps`, 'utf8')).not.toMatch(/keyring/);
  });

  it('keychain mode refuses with a coded error that says how to fix it, and stores nothing', async () => {
    const d = await demo();
    const home = await tempHome();
    const run = await cli(home, ['login', d.url, '--credential-store', 'keychain'], { ...browserEnv(home), ...nowhere });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--credential-store keychain: no usable OS keychain here: the D-Bus session bus cannot be reached/);
    expect(run.stderr).toMatch(/--credential-store auto/);
    expect(d.counters.tokenRequests.authorization_code).toBe(0);
  });
});

describe.skipIf(missing !== undefined)('a keychain that hangs', () => {
  it('a bus that accepts but never answers does not hang the relay: auto falls back to files after the probe timeout', async () => {
    const d = await demo();
    const home = await tempHome();
    process.kill(keyring.busPid, 'SIGSTOP');
    try {
      // --login-wait above the probe timeout: the call gets the server's answer, not the login shield's.
      const relay = await connectRelay([d.url, '--login-wait', '60'], { home, env: { ...browserEnv(home), ...keyring.env } });
      expect(text(await relay.client.callTool({ name: 'echo', arguments: { text: 'hung' } }))).toBe('hung');
      expect(relay.stderr()).toMatch(/the keychain did not answer within/);
    } finally {
      process.kill(keyring.busPid, 'SIGCONT');
    }
  });
});
