/**
 * `mcp-relay status` and `mcp-relay logout` as shipped: the built CLI as a child process, a store
 * filled with the real store classes, and a real RFC 7009 revocation endpoint on 127.0.0.1 that
 * records what it was sent. Secrets are recognisable strings that must never be printed.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { serverKey } from '../../src/store/paths.js';
import { CredentialStore, type StoredClient } from '../../src/store/store.js';
import { killAll, RELAY_BIN, relayEnv, tempHome } from '../helpers/relay.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const URL_A = 'https://a.example.com/mcp';
const URL_B = 'https://b.example.com/mcp';
const URL_C = 'https://c.example.com/mcp';
const ISSUER = 'https://as.example.com';

/** Every secret written to the store; none may ever appear in any output. */
const SECRETS = {
  accessA: 'SECRET-ACCESS-A-123',
  refreshA: 'SECRET-REFRESH-A-456',
  clientA: 'SECRET-CLIENT-A-789',
  accessB: 'SECRET-ACCESS-B-123',
  refreshB: 'SECRET-REFRESH-B-456',
  clientB: 'SECRET-CLIENT-B-789',
  accessC: 'SECRET-ACCESS-C-123',
  state: 'SECRET-STATE-C-000',
  verifier: 'SECRET-VERIFIER-C-000',
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ReturnType<typeof spawn>>();

function cli(home: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RELAY_BIN, ...args], { env: relayEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

function expectNoSecrets(...runs: Run[]): void {
  for (const r of runs) {
    for (const secret of Object.values(SECRETS)) {
      expect(r.stdout).not.toContain(secret);
      expect(r.stderr).not.toContain(secret);
    }
  }
}

interface Revocation {
  path: string;
  authorization: string | undefined;
  form: Record<string, string>;
}

/** A revocation endpoint that records each request and answers with `status`. */
async function revocationServer(status = 200): Promise<{ url: string; seen: Revocation[]; server: Server }> {
  const seen: Revocation[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', authorization: req.headers.authorization, form: Object.fromEntries(new URLSearchParams(body)) });
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '' : JSON.stringify({ error: 'temporarily_unavailable' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.add(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/revoke`, seen, server };
}

const servers = new Set<Server>();

function client(id: string, secret: string | undefined, method: string, kind: StoredClient['kind'] = 'dynamic'): StoredClient {
  return {
    client_id: id,
    ...(secret ? { client_secret: secret } : {}),
    token_endpoint_auth_method: method,
    redirect_uris: ['http://127.0.0.1:33418/callback'],
    issuer: ISSUER,
    kind,
    registered_at: Date.now() - HOUR,
  };
}

/**
 * Three servers: A (valid for 12 more minutes, confidential client, post auth), B (expired
 * 3 h ago, basic auth), C (no expiry, public client, a login in progress by this process).
 * `revocation` puts a revocation endpoint into A's and B's cached metadata.
 */
async function populate(home: string, revocation?: { a?: string; b?: string }): Promise<CredentialStore> {
  const store = new CredentialStore(join(home, 'store'), silentLogger());
  const now = Date.now();
  const meta = (endpoint: string | undefined) => ({
    fetched_at: now,
    authorization_server_url: ISSUER,
    authorization_server_metadata: { issuer: ISSUER, token_endpoint: `${ISSUER}/token`, ...(endpoint ? { revocation_endpoint: endpoint } : {}) },
  });
  const a = store.server(serverKey({ serverUrl: URL_A }));
  await a.writeServer({ url: URL_A, created_at: now - 2 * HOUR, last_used_at: now - 5 * MIN });
  await a.writeClient(client('client-a', SECRETS.clientA, 'client_secret_post'));
  await a.writeTokens({
    access_token: SECRETS.accessA,
    token_type: 'Bearer',
    refresh_token: SECRETS.refreshA,
    scope: 'mcp:tools read',
    expires_at: now + 12 * MIN + 20_000,
    issuer: ISSUER,
    obtained_at: now - 48 * MIN,
  });
  await a.writeDiscovery(meta(revocation?.a));
  const b = store.server(serverKey({ serverUrl: URL_B }));
  await b.writeServer({ url: URL_B, created_at: now - 9 * HOUR, last_used_at: now - 4 * HOUR });
  await b.writeClient(client('client-b', SECRETS.clientB, 'client_secret_basic'));
  await b.writeTokens({
    access_token: SECRETS.accessB,
    token_type: 'Bearer',
    refresh_token: SECRETS.refreshB,
    expires_at: now - 3 * HOUR,
    issuer: ISSUER,
    obtained_at: now - 4 * HOUR,
  });
  await b.writeDiscovery(meta(revocation?.b));
  const c = store.server(serverKey({ serverUrl: URL_C }));
  await c.writeServer({ url: URL_C, created_at: now - HOUR, last_used_at: now - HOUR });
  await c.writeClient(client('client-c', undefined, 'none'));
  await c.writeTokens({ access_token: SECRETS.accessC, token_type: 'Bearer', obtained_at: now - HOUR });
  await c.writePending({
    state: SECRETS.state,
    code_verifier: SECRETS.verifier,
    redirect_uri: 'http://127.0.0.1:33418/callback',
    authorization_url: `${ISSUER}/authorize?state=${SECRETS.state}`,
    pid: process.pid,
    created_at: now - 2 * MIN,
    expires_at: now + 3 * MIN,
  });
  return store;
}

async function serverDirs(home: string): Promise<string[]> {
  return (await readdir(join(home, 'store', 'servers')).catch(() => [])).sort();
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

let home: string;
beforeEach(async () => {
  home = await tempHome();
});
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  for (const s of servers) s.close();
  servers.clear();
  await killAll();
});

describe('mcp-relay status', () => {
  it('lists every stored server with client, expiry as time and "in 12 min", refresh yes/no, scope and pending login, and no secret', async () => {
    await populate(home);
    const r = await cli(home, ['status']);
    expect(r.code).toBe(0);
    for (const url of [URL_A, URL_B, URL_C]) expect(r.stdout).toContain(url);
    expect(r.stdout).toContain(join(home, 'store'));
    expect(r.stdout).toMatch(/expires in 12 min \(\d{4}-\d\d-\d\dT[\d:.]+Z\)/);
    expect(r.stdout).toContain('expired 3 h ago');
    expect(r.stdout).toContain(serverKey({ serverUrl: URL_A }));
    expect(r.stdout).toContain('client-a (dynamic registration)');
    expect(r.stdout).toContain('mcp:tools read');
    expect(r.stdout).toMatch(/refresh token\s+yes/);
    expect(r.stdout).toMatch(/refresh token\s+no/);
    expect(r.stdout).toMatch(/last used\s+5 min ago/);
    expect(r.stdout).toContain(`pid ${process.pid}, running`);
    expectNoSecrets(r);
  });

  it('--json prints one document with all servers and only secret-free fields', async () => {
    await populate(home);
    const r = await cli(home, ['status', '--json']);
    expect(r.code).toBe(0);
    // biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON output is probed field by field below; each expect() checks the shape
    const doc = JSON.parse(r.stdout) as { store: string; servers: Array<Record<string, any>> };
    expect(doc.store).toBe(join(home, 'store'));
    expect(doc.servers.map((s) => s.url).sort()).toEqual([URL_A, URL_B, URL_C]);
    const a = doc.servers.find((s) => s.url === URL_A)!;
    expect(a.key).toBe(serverKey({ serverUrl: URL_A }));
    expect(a.client).toMatchObject({ client_id: 'client-a', kind: 'dynamic' });
    expect(a.tokens).toMatchObject({ refresh_token: true, expired: false, scope: 'mcp:tools read' });
    expect(a.tokens.expires_in_seconds).toBeGreaterThan(11 * 60);
    expect(a.issuer).toBe(ISSUER);
    expect(doc.servers.find((s) => s.url === URL_B)!.tokens).toMatchObject({ expired: true, refresh_token: true });
    expect(doc.servers.find((s) => s.url === URL_C)!.pending_login).toMatchObject({ pid: process.pid, running: true, expired: false });
    expectNoSecrets(r);
  });

  it('status <url> shows only that server', async () => {
    await populate(home);
    const [text, json] = await Promise.all([cli(home, ['status', URL_B]), cli(home, ['status', 'HTTPS://B.example.com:443/mcp', '--json'])]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(URL_B);
    expect(text.stdout).not.toContain(URL_A);
    expect(text.stdout).not.toContain(URL_C);
    expect((JSON.parse(json.stdout) as { servers: Array<{ url: string }> }).servers.map((s) => s.url)).toEqual([URL_B]);
    expectNoSecrets(text, json);
  });

  it('an empty store says where it is and that nothing is stored (exit 0); an unknown URL exits 1', async () => {
    const [empty, json, unknown] = await Promise.all([
      cli(home, ['status']),
      cli(home, ['status', '--json']),
      cli(home, ['status', 'https://nowhere.example.com/mcp']),
    ]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('Nothing is stored');
    expect(empty.stdout).toContain(join(home, 'store'));
    expect(JSON.parse(json.stdout)).toEqual({ store: join(home, 'store'), servers: [] });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('nothing is stored for https://nowhere.example.com/mcp');
  });
});

describe('mcp-relay logout', () => {
  it('revokes the refresh then the access token (RFC 7009, token_type_hint, client auth) and deletes only that server', async () => {
    const rev = await revocationServer();
    await populate(home, { a: rev.url });
    const r = await cli(home, ['logout', URL_A]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Logged out of ${URL_A}: tokens revoked at the authorization server, local credentials deleted`);
    expect(rev.seen.map((s) => [s.form.token, s.form.token_type_hint])).toEqual([
      [SECRETS.refreshA, 'refresh_token'],
      [SECRETS.accessA, 'access_token'],
    ]);
    // client_secret_post, as registered.
    for (const s of rev.seen) expect(s.form).toMatchObject({ client_id: 'client-a', client_secret: SECRETS.clientA });
    expect(await exists(join(home, 'store', 'servers', serverKey({ serverUrl: URL_A })))).toBe(false);
    expect(await serverDirs(home)).toEqual([serverKey({ serverUrl: URL_B }), serverKey({ serverUrl: URL_C })].sort());
    const after = JSON.parse((await cli(home, ['status', '--json'])).stdout) as { servers: Array<{ url: string }> };
    expect(after.servers.map((s) => s.url).sort()).toEqual([URL_B, URL_C]);
    expectNoSecrets(r);
  });

  it('--all empties the store, with client_secret_basic where registered and a note where the server cannot revoke', async () => {
    const rev = await revocationServer();
    await populate(home, { a: rev.url, b: rev.url });
    const r = await cli(home, ['logout', '--all', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { results: Array<{ url: string; revocation: string; deleted: boolean }> };
    expect(doc.results.map((x) => [x.url, x.revocation, x.deleted]).sort()).toEqual([
      [URL_A, 'revoked', true],
      [URL_B, 'revoked', true],
      [URL_C, 'unsupported', true],
    ]);
    const basic = rev.seen.filter((s) => s.form.token === SECRETS.refreshB || s.form.token === SECRETS.accessB);
    expect(basic).toHaveLength(2);
    for (const s of basic) {
      expect(s.authorization).toBe(`Basic ${Buffer.from(`client-b:${SECRETS.clientB}`).toString('base64')}`);
      expect(s.form.client_secret).toBeUndefined();
    }
    expect(await serverDirs(home)).toEqual([]);
    const status = await cli(home, ['status']);
    expect(status.stdout).toContain('Nothing is logged in');
    expectNoSecrets(r, status);
    // Nothing left to do is exit 1.
    expect((await cli(home, ['logout', '--all'])).code).toBe(1);
  });

  it('an unknown server exits 1, says nothing was stored, points to `mcp-relay status` and leaves the store alone', async () => {
    await populate(home);
    const before = await serverDirs(home);
    const r = await cli(home, ['logout', 'https://nowhere.example.com/mcp']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nothing is stored for https://nowhere.example.com/mcp');
    expect(r.stderr).toContain('mcp-relay status');
    expect(await serverDirs(home)).toEqual(before);
  });

  it('a revocation endpoint answering 503 still deletes the local files, exits 0 and warns', async () => {
    const rev = await revocationServer(503);
    await populate(home, { a: rev.url });
    const r = await cli(home, ['logout', URL_A]);
    expect(r.code).toBe(0);
    expect(rev.seen).toHaveLength(2);
    expect(r.stderr).toContain('HTTP 503');
    expect(r.stderr).toContain('temporarily_unavailable');
    expect(r.stdout).toContain('revoking the tokens at the authorization server failed');
    expect(r.stdout).toContain('local credentials deleted');
    expect(await exists(join(home, 'store', 'servers', serverKey({ serverUrl: URL_A })))).toBe(false);
    expectNoSecrets(r);
  });

  it('finds a login made with --client-id only under the same key (as the relay computes it), and hints at it otherwise', async () => {
    const store = new CredentialStore(join(home, 'store'), silentLogger());
    const key = serverKey({ serverUrl: URL_A, clientId: 'static-1' });
    await store.server(key).writeServer({ url: URL_A, created_at: Date.now(), last_used_at: Date.now() });
    const plain = await cli(home, ['logout', URL_A]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(key);
    const withId = await cli(home, ['logout', URL_A, '--client-id', 'static-1']);
    expect(withId.code).toBe(0);
    expect(withId.stdout).toContain(`Logged out of ${URL_A}: no tokens were stored`);
    // A directory without server.json (URL unknown) is listed by key and can be logged out by key.
    const orphan = serverKey({ serverUrl: URL_B });
    await store.server(orphan).writeClient(client('client-b', SECRETS.clientB, 'client_secret_basic'));
    expect((await cli(home, ['status'])).stdout).toContain(`(unknown)\n  key            ${orphan}`);
    const byKey = await cli(home, ['logout', orphan]);
    expect(byKey.code).toBe(0);
    expect(byKey.stdout).toContain(`Logged out of server ${orphan} (URL unknown)`);
    expect(await serverDirs(home)).toEqual([]);
  });

  it('bad input exits 2, and the help documents the exit codes', async () => {
    const [none, both, notUrl, help] = await Promise.all([
      cli(home, ['logout']),
      cli(home, ['logout', URL_A, '--all']),
      cli(home, ['status', 'not a url']),
      cli(home, ['logout', '--help']),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--all');
    expect(both.code).toBe(2);
    expect(notUrl.code).toBe(2);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:\n\s+0 .*\n\s+1 .*\n\s+2 /);
  });
});
