import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRelayError, type RelayError } from '../../src/errors.js';
import { serverKey } from '../../src/store/paths.js';
import { CredentialStore, LAYOUT_VERSION, type PendingLogin, type StoredClient, type StoredTokens } from '../../src/store/store.js';

const URL_A = 'https://mcp.example.com/mcp';
const KEY_A = serverKey({ serverUrl: URL_A });
const KEY_B = serverKey({ serverUrl: 'https://other.example.com/mcp' });

const TOKENS: StoredTokens = {
  access_token: 'at-secret-1',
  token_type: 'Bearer',
  refresh_token: 'rt-secret-1',
  scope: 'read write',
  expires_at: 1_900_000_000_000,
  issuer: 'https://as.example.com',
  resource: 'https://mcp.example.com/mcp',
  obtained_at: 1_800_000_000_000,
};
const CLIENT: StoredClient = {
  client_id: 'client-1',
  client_secret: 'cs-secret',
  redirect_uris: ['http://127.0.0.1:33418/callback'],
  token_endpoint_auth_method: 'client_secret_post',
  issuer: 'https://as.example.com',
  kind: 'dynamic',
  registered_at: 1_800_000_000_000,
  client_name: 'mcp-relay',
  registration_client_uri: 'https://as.example.com/register/client-1',
};
const PENDING: PendingLogin = {
  state: 'st',
  code_verifier: 'cv',
  redirect_uri: 'http://127.0.0.1:33418/callback',
  authorization_url: 'https://as.example.com/authorize?state=st',
  pid: process.pid,
  created_at: 1,
  expires_at: 2,
};

function capturingLogger(): { log: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

let tmp: string;
let root: string;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'mcp-relay-store-'));
  root = join(tmp, 'home');
});
afterEach(async () => {
  await chmod(join(root, 'servers', KEY_A), 0o700).catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
});

describe('CredentialStore files', () => {
  it('round-trips every file with 0700 directories and 0600 files, and writes layout.json', async () => {
    const s = new CredentialStore(root, capturingLogger().log).server(KEY_A);
    await s.writeServer({ url: URL_A, created_at: 1, last_used_at: 2, transport: 'http' });
    await s.writeClient(CLIENT);
    await s.writeTokens(TOKENS);
    await s.writeDiscovery({ resource_metadata: { resource: URL_A }, authorization_server_url: 'https://as.example.com', fetched_at: 3 });
    await s.writePending(PENDING);

    expect(await s.readServer()).toEqual({ url: URL_A, created_at: 1, last_used_at: 2, transport: 'http' });
    expect(await s.readClient()).toEqual(CLIENT); // extra registration fields kept
    expect(await s.readTokens()).toEqual(TOKENS);
    expect(await s.readDiscovery()).toEqual({ resource_metadata: { resource: URL_A }, authorization_server_url: 'https://as.example.com', fetched_at: 3 });
    expect(await s.readPending()).toEqual(PENDING);

    for (const d of [root, join(root, 'servers'), s.dir]) expect(await mode(d)).toBe(0o700);
    const files = (await readdir(s.dir)).sort();
    expect(files).toEqual(['client.json', 'discovery.json', 'pending.json', 'server.json', 'tokens.json']);
    for (const f of files) expect(await mode(join(s.dir, f))).toBe(0o600);
    expect(JSON.parse(await readFile(join(root, 'layout.json'), 'utf8'))).toEqual({ version: LAYOUT_VERSION });
    expect(await mode(join(root, 'layout.json'))).toBe(0o600);
  });

  it('sees no files in an empty store, and reading creates nothing', async () => {
    const store = new CredentialStore(root, capturingLogger().log);
    const s = store.server(KEY_A);
    expect(await s.readTokens()).toBeUndefined();
    expect(await s.readClient()).toBeUndefined();
    expect(await store.list()).toEqual([]);
    await expect(stat(root)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('clears tokens, client and pending login', async () => {
    const s = new CredentialStore(root, capturingLogger().log).server(KEY_A);
    await s.writeTokens(TOKENS);
    await s.writeClient(CLIENT);
    await s.writePending(PENDING);
    await s.clearTokens();
    await s.clearClient();
    await s.clearPending();
    await s.clearPending(); // already gone is fine
    expect([await s.readTokens(), await s.readClient(), await s.readPending()]).toEqual([undefined, undefined, undefined]);
  });

  it('refuses to write data a reader would reject, and writes nothing', async () => {
    const s = new CredentialStore(root, capturingLogger().log).server(KEY_A);
    const err = await s.writeTokens({ ...TOKENS, expires_at: 'soon' as unknown as number }).catch((e: unknown) => e);
    expect(isRelayError(err, 'STORE_IO')).toBe(true);
    expect((err as RelayError).message).toContain('"expires_at" in tokens.json');
    expect(await s.readTokens()).toBeUndefined();
  });

  it('moves a corrupt tokens.json aside, warns, and carries on as logged out', async () => {
    const { log, lines } = capturingLogger();
    const s = new CredentialStore(root, log).server(KEY_A);
    await s.writeTokens(TOKENS);
    await writeFile(join(s.dir, 'tokens.json'), JSON.stringify({ ...TOKENS, token_type: 42 }));
    expect(await s.readTokens()).toBeUndefined();
    expect((await readdir(s.dir)).some((n) => n.startsWith('tokens.json.corrupt-'))).toBe(true);
    expect(lines.some((l) => l.level === 40 && l.msg.includes('"token_type" in tokens.json'))).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('at-secret-1');
    await s.writeTokens(TOKENS);
    expect(await s.readTokens()).toEqual(TOKENS);
  });

  it('does not follow a symlink planted at tokens.json to another file', async () => {
    const s = new CredentialStore(root, capturingLogger().log).server(KEY_A);
    await s.writeServer({ url: URL_A, created_at: 1, last_used_at: 1 });
    const victim = join(tmp, 'victim');
    await writeFile(victim, 'do not touch');
    await symlink(victim, join(s.dir, 'tokens.json'));
    await s.writeTokens(TOKENS);
    expect(await readFile(victim, 'utf8')).toBe('do not touch');
    expect((await lstat(join(s.dir, 'tokens.json'))).isSymbolicLink()).toBe(false);
    expect(await s.readTokens()).toEqual(TOKENS);
  });

  it('recreates the store when it is deleted while running', async () => {
    const s = new CredentialStore(root, capturingLogger().log).server(KEY_A);
    await s.writeTokens(TOKENS);
    await rm(root, { recursive: true, force: true });
    expect(await s.readTokens()).toBeUndefined();
    await s.writeTokens({ ...TOKENS, access_token: 'at-secret-2' });
    expect((await s.readTokens())?.access_token).toBe('at-secret-2');
    expect(await mode(s.dir)).toBe(0o700);
  });

  it('fails a write to a store it cannot write with STORE_IO naming the path, and leaves the old tokens', async () => {
    const s = new CredentialStore(root, capturingLogger().log).server(KEY_A);
    await s.writeTokens(TOKENS);
    let blocked: string;
    if (process.getuid?.() === 0) {
      // root ignores directory permissions: make the server directory impossible to use instead.
      await rm(s.dir, { recursive: true });
      await writeFile(s.dir, 'not a directory');
      blocked = s.dir;
    } else {
      await chmod(s.dir, 0o500);
      blocked = join(s.dir, 'tokens.json');
    }
    const err = await s.writeTokens({ ...TOKENS, access_token: 'at-secret-2' }).catch((e: unknown) => e);
    expect(isRelayError(err, 'STORE_IO')).toBe(true);
    expect((err as RelayError).message).toContain(blocked);
    expect((err as RelayError).message).toMatch(/EACCES|EEXIST|ENOTDIR/);
    expect((err as RelayError).message).not.toContain('at-secret');
    if (process.getuid?.() !== 0) expect((await s.readTokens())?.access_token).toBe('at-secret-1');
  });

  it('touch() updates last_used_at only, and never throws', async () => {
    const s = new CredentialStore(root, capturingLogger().log).server(KEY_A);
    await s.touch(5); // no server.json: nothing to update, nothing created
    expect(await s.readServer()).toBeUndefined();
    await s.writeServer({ url: URL_A, created_at: 1, last_used_at: 1, resource: URL_A });
    await s.touch(99);
    expect(await s.readServer()).toEqual({ url: URL_A, created_at: 1, last_used_at: 99, resource: URL_A });
    await rm(s.dir, { recursive: true });
    await writeFile(s.dir, 'blocked');
    await expect(s.touch(100)).resolves.toBeUndefined();
  });
});

describe('CredentialStore layout.json', () => {
  it('refuses a store written by a newer layout, for reads and writes, and changes nothing', async () => {
    const s1 = new CredentialStore(root, capturingLogger().log).server(KEY_A);
    await s1.writeTokens(TOKENS);
    await writeFile(join(root, 'layout.json'), JSON.stringify({ version: LAYOUT_VERSION + 1 }));
    const store = new CredentialStore(root, capturingLogger().log);
    const s = store.server(KEY_A);
    for (const op of [() => s.readTokens(), () => s.writeTokens({ ...TOKENS, access_token: 'x' }), () => store.list(), () => s.removeAll()]) {
      const err = await op().catch((e: unknown) => e);
      expect(isRelayError(err, 'STORE_IO')).toBe(true);
      expect((err as RelayError).message).toContain(`layout version ${LAYOUT_VERSION + 1}`);
    }
    expect(JSON.parse(await readFile(join(s.dir, 'tokens.json'), 'utf8'))).toEqual(TOKENS);
    expect(JSON.parse(await readFile(join(root, 'layout.json'), 'utf8'))).toEqual({ version: LAYOUT_VERSION + 1 });
  });

  it('keeps an existing current layout and replaces a corrupt one on the next write', async () => {
    const { log, lines } = capturingLogger();
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'layout.json'), '{"version":');
    const s = new CredentialStore(root, log).server(KEY_A);
    await s.writeTokens(TOKENS);
    expect(JSON.parse(await readFile(join(root, 'layout.json'), 'utf8'))).toEqual({ version: LAYOUT_VERSION });
    expect((await readdir(root)).some((n) => n.startsWith('layout.json.corrupt-'))).toBe(true);
    expect(lines.some((l) => l.level === 40 && l.msg.includes('layout.json'))).toBe(true);
    // A second store instance (another process) accepts it as is.
    expect(await new CredentialStore(root, log).server(KEY_A).readTokens()).toEqual(TOKENS);
  });
});

describe('CredentialStore.list and removeAll', () => {
  it('lists server directories with their server.json, skipping anything that is not a server key', async () => {
    const store = new CredentialStore(root, capturingLogger().log);
    await store.server(KEY_A).writeServer({ url: URL_A, created_at: 1, last_used_at: 2 });
    await store.server(KEY_B).writeTokens(TOKENS); // no server.json
    await mkdir(join(root, 'servers', 'not-a-key'));
    const listed = await store.list();
    expect(listed).toEqual(
      [
        { key: KEY_A, dir: join(root, 'servers', KEY_A), server: { url: URL_A, created_at: 1, last_used_at: 2 } },
        { key: KEY_B, dir: join(root, 'servers', KEY_B) },
      ].sort((a, b) => a.key.localeCompare(b.key)),
    );
    expect(JSON.stringify(listed)).not.toContain('secret');
  });

  it('refuses a key that is not a server key (no path can escape the store)', () => {
    const store = new CredentialStore(root, capturingLogger().log);
    for (const bad of ['../../etc', KEY_A.toUpperCase(), `${KEY_A}/x`, '']) {
      let err: unknown;
      try {
        store.server(bad);
      } catch (e) {
        err = e;
      }
      expect(isRelayError(err, 'BAD_CONFIG')).toBe(true);
    }
  });

  it('removeAll deletes every file of one server, also under its lock, and leaves other servers alone', async () => {
    const store = new CredentialStore(root, capturingLogger().log);
    const a = store.server(KEY_A);
    const b = store.server(KEY_B);
    await a.writeServer({ url: URL_A, created_at: 1, last_used_at: 1 });
    await a.writeTokens(TOKENS);
    await writeFile(join(a.dir, 'tokens.json.corrupt-2025-01-01T00-00-00.000Z'), 'old');
    await b.writeTokens(TOKENS);

    await a.withLock(async () => {
      await a.removeAll();
      expect(await readdir(a.dir)).toEqual(['lock']);
    });
    expect(await a.readTokens()).toBeUndefined();
    await a.removeAll(); // unlocked now: the directory itself goes
    await expect(stat(a.dir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await b.readTokens()).toEqual(TOKENS);
    expect((await store.list()).map((l) => l.key)).toEqual([KEY_B]);
  });

  it('withLock creates the server directory and holds its lock while running', async () => {
    const s = new CredentialStore(root, capturingLogger().log).server(KEY_A);
    const inside = await s.withLock(async () => (await stat(join(s.dir, 'lock'))).isDirectory());
    expect(inside).toBe(true);
    expect(await readdir(s.dir)).toEqual([]);
    expect(await mode(s.dir)).toBe(0o700);
  });
});
