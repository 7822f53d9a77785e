/**
 * Machine-to-machine login through the built relay (--client-credentials): the real in-process
 * authorization server + protected MCP server, relays as child processes whose $BROWSER records
 * every launch (there must be none), real files and locks. Assertions are on what the
 * authorization server counted and what the store and the logs hold.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StaticClient } from '../../src/demo/server.js';
import { browserEnv, browserLaunches, closeDemos, demo, storeDir } from '../helpers/oauth.js';
import { connectRelay, INIT, killAll, RELAY_BIN, relayEnv, spawnRelay, tempHome } from '../helpers/relay.js';

const SECRET = 'svc-secret-4b1e07c2d9';
const CLIENT = 'svc-ci';
/** The demo's default token_endpoint_auth_methods_supported, plus private_key_jwt. */
const WITH_PRIVATE_KEY_JWT = { token_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt'] };
/** Any compact JWS (a client assertion or a JWT access token). */
const JWT = /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;

afterEach(async () => {
  await killAll();
  await closeDemos();
});

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

const secretArgs = (url: string) => [url, '--client-credentials', '--client-id', CLIENT, '--client-secret', 'env:SVC_SECRET'];

/** Relay env: the recording browser (a launch would be a failure) and the secret in a variable. */
function env(home: string): Record<string, string> {
  return { ...browserEnv(home, 'record-only'), SVC_SECRET: SECRET };
}

function dirOf(home: string, url: string): string {
  return storeDir(home, url, { clientId: CLIENT });
}

async function storedTokens(home: string, url: string): Promise<Record<string, unknown> | undefined> {
  const file = join(dirOf(home, url), 'tokens.json');
  return existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>) : undefined;
}

function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function jwks(publicKey: KeyObject, kid: string): StaticClient['jwks'] {
  return { keys: [{ ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid }] };
}

async function keyFile(home: string, privateKey: KeyObject): Promise<string> {
  const file = join(home, 'client-key.pem');
  await writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });
  return file;
}

function cli(home: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RELAY_BIN, ...args], { env: relayEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('--client-credentials through the relay', () => {
  it('client_secret_basic with the secret from env:NAME: one token request, no browser, registration or pending login', async () => {
    const d = await demo({
      registrationEnabled: false,
      staticClients: [{ client_id: CLIENT, client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic' }],
    });
    const home = await tempHome();
    const { client, pid } = await connectRelay(secretArgs(d.url), { home, env: env(home) });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'machine' } }))).toBe('machine');
    expect(d.counters.tokenRequests.client_credentials).toBe(1);
    expect(d.counters.tokenRequests.authorization_code).toBe(0);
    expect(d.counters.authorizeRequests).toBe(0);
    expect(browserLaunches(home)).toHaveLength(0);
    expect(existsSync(join(dirOf(home, d.url), 'pending.json'))).toBe(false);
    const tokens = (await storedTokens(home, d.url))!;
    expect(tokens).toMatchObject({ grant: 'client_credentials', resource: d.url, scope: 'mcp:tools' });
    expect(tokens.refresh_token).toBeUndefined();
    // The secret came from the environment: it is not on the relay's command line for `ps` to show.
    if (process.platform === 'linux') {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      expect(cmdline).toContain('env:SVC_SECRET');
      expect(cmdline).not.toContain(SECRET);
    }
  });

  it('client_secret_post when the authorization server advertises only that (this client may not use Basic)', async () => {
    const d = await demo({
      metadataOverrides: { token_endpoint_auth_methods_supported: ['client_secret_post'] },
      staticClients: [{ client_id: CLIENT, client_secret: SECRET, token_endpoint_auth_method: 'client_secret_post' }],
    });
    const home = await tempHome();
    await writeFile(join(home, 'secret.txt'), `${SECRET}\n`, { mode: 0o600 });
    const args = [d.url, '--client-credentials', '--client-id', CLIENT, '--client-secret', `@${join(home, 'secret.txt')}`];
    const { client } = await connectRelay(args, { home, env: env(home) });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'post' } }))).toBe('post');
    expect(d.counters.tokenRequests.client_credentials).toBe(1);
    expect(browserLaunches(home)).toHaveLength(0);
  });

  it('private_key_jwt from --client-key-file is accepted, and `status` shows the grant', async () => {
    const { privateKey, publicKey } = keyPair();
    const d = await demo({
      metadataOverrides: WITH_PRIVATE_KEY_JWT,
      staticClients: [{ client_id: CLIENT, jwks: jwks(publicKey, 'ci-key-1'), token_endpoint_auth_method: 'private_key_jwt' }],
    });
    const home = await tempHome();
    const file = await keyFile(home, privateKey);
    const args = [d.url, '--client-credentials', '--client-id', CLIENT, '--client-key-file', file, '--client-key-id', 'ci-key-1'];
    const { client, transport } = await connectRelay(args, { home, env: env(home) });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'signed' } }))).toBe('signed');
    expect(d.counters.tokenRequests.client_credentials).toBe(1);
    expect(browserLaunches(home)).toHaveLength(0);
    await transport.close();
    const json = await cli(home, ['status', '--json']);
    expect(json.code).toBe(0);
    const server = (JSON.parse(json.stdout) as { servers: Array<{ url: string; tokens: { grant: string; refresh_token: boolean } }> }).servers.find(
      (s) => s.url === d.url,
    )!;
    expect(server.tokens).toMatchObject({ grant: 'client_credentials', refresh_token: false });
    const human = await cli(home, ['status', d.url]);
    expect(human.stdout).toMatch(/grant\s+client credentials/);
    const access = (await storedTokens(home, d.url))!.access_token as string;
    expect(json.stdout + human.stdout).not.toContain(access);
  });

  it('an assertion signed with a key the server does not know: AUTH_FAILED naming invalid_client, no browser, nothing stored', async () => {
    const d = await demo({ metadataOverrides: WITH_PRIVATE_KEY_JWT, staticClients: [{ client_id: CLIENT, jwks: jwks(keyPair().publicKey, 'ci-key-1') }] });
    const home = await tempHome();
    const file = await keyFile(home, keyPair().privateKey);
    const relay = spawnRelay([d.url, '--client-credentials', '--client-id', CLIENT, '--client-key-file', file, '--client-key-id', 'ci-key-1'], {
      home,
      env: env(home),
    });
    relay.send(INIT(1));
    const answer = (await relay.waitFor((m) => m.id === 1)) as { error?: { message: string; data?: { relay?: { code: string } } } };
    expect(answer.error?.data?.relay?.code).toBe('AUTH_FAILED');
    expect(answer.error?.message).toMatch(/"invalid_client".*--client-key-file/);
    expect(d.counters.tokenRequests.client_credentials).toBe(1);
    expect(d.counters.authorizeRequests).toBe(0);
    expect(browserLaunches(home)).toHaveLength(0);
    expect(await storedTokens(home, d.url)).toBeUndefined();
    expect(existsSync(join(dirOf(home, d.url), 'pending.json'))).toBe(false);
  });

  it('a token the server expired: the next call gets a new one with the same grant (on 401), still no browser', async () => {
    const d = await demo({ staticClients: [{ client_id: CLIENT, client_secret: SECRET }] });
    const home = await tempHome();
    const { client } = await connectRelay(secretArgs(d.url), { home, env: env(home) });
    await client.listTools();
    const first = (await storedTokens(home, d.url))!.access_token;
    d.expireAccessTokens();
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'renewed' } }))).toBe('renewed');
    expect(d.counters.tokenRequests.client_credentials).toBe(2);
    expect((await storedTokens(home, d.url))!.access_token).not.toBe(first);
    expect(browserLaunches(home)).toHaveLength(0);
  });

  it('renews before expiry, without waiting for a 401', async () => {
    const d = await demo({ staticClients: [{ client_id: CLIENT, client_secret: SECRET }] });
    const home = await tempHome();
    (await connectRelay(secretArgs(d.url), { home, env: env(home) })).transport.close();
    const unauthorizedBefore = d.counters.unauthorized401;
    // The stored token is within the renewal margin, though the server still accepts it.
    const file = join(dirOf(home, d.url), 'tokens.json');
    const t = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...t, obtained_at: Date.now() - 3_600_000, expires_at: Date.now() + 10_000 }), { mode: 0o600 });
    const { client } = await connectRelay(secretArgs(d.url), { home, env: env(home) });
    await client.listTools();
    expect(d.counters.tokenRequests.client_credentials).toBe(2);
    expect(d.counters.unauthorized401).toBe(unauthorizedBefore);
  });

  it('a 403 insufficient_scope asks again with the union of scopes, still without a browser', async () => {
    const d = await demo({ requiredScopeForTool: { admin_report: 'mcp:admin' }, staticClients: [{ client_id: CLIENT, client_secret: SECRET }] });
    const home = await tempHome();
    const { client } = await connectRelay(secretArgs(d.url), { home, env: env(home) });
    const result = await client.callTool({ name: 'admin_report', arguments: {} });
    expect(result.isError).not.toBe(true);
    expect(d.counters.insufficientScope403).toBe(1);
    expect(d.counters.tokenRequests.client_credentials).toBe(2);
    expect(((await storedTokens(home, d.url))!.scope as string).split(' ')).toEqual(expect.arrayContaining(['mcp:tools', 'mcp:admin']));
    expect(browserLaunches(home)).toHaveLength(0);
  });

  it('four relays started at once on an empty store share one token: exactly one token request', async () => {
    const d = await demo({ staticClients: [{ client_id: CLIENT, client_secret: SECRET }] });
    const home = await tempHome();
    const relays = await Promise.all(Array.from({ length: 4 }, () => connectRelay(secretArgs(d.url), { home, env: env(home) })));
    const answers = await Promise.all(relays.map((r, i) => r.client.callTool({ name: 'echo', arguments: { text: `m${i}` } })));
    expect(answers.map(text)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(d.counters.tokenRequests.client_credentials).toBe(1);
    expect(browserLaunches(home)).toHaveLength(0);
  });

  it('never writes the secret, an assertion or a token to stderr or --log-file, even at --debug', async () => {
    const { privateKey, publicKey } = keyPair();
    const d = await demo({
      metadataOverrides: WITH_PRIVATE_KEY_JWT,
      staticClients: [{ client_id: CLIENT, client_secret: SECRET, jwks: jwks(publicKey, 'k1') }],
    });
    const home = await tempHome();
    const logFile = join(home, 'relay.log');
    const withSecret = await connectRelay([...secretArgs(d.url), '--debug', '--log-file', logFile], { home, env: env(home) });
    await withSecret.client.listTools();
    const secretToken = (await storedTokens(home, d.url))!.access_token as string;
    await withSecret.transport.close();
    // A second relay signs assertions; expiring the tokens makes it fetch (and log) once more.
    d.expireAccessTokens();
    const file = await keyFile(home, privateKey);
    const signed = await connectRelay(
      [d.url, '--client-credentials', '--client-id', CLIENT, '--client-key-file', file, '--client-key-id', 'k1', '--debug', '--log-file', logFile],
      { home, env: env(home) },
    );
    await signed.client.listTools();
    const signedToken = (await storedTokens(home, d.url))!.access_token as string;
    await signed.transport.close();
    expect(d.counters.tokenRequests.client_credentials).toBe(2);
    const logs = withSecret.stderr() + signed.stderr() + readFileSync(logFile, 'utf8');
    expect(logs).toContain('"level":20');
    expect(logs).toContain('client credentials grant');
    for (const secret of [SECRET, secretToken, signedToken]) expect(logs).not.toContain(secret);
    expect(logs).not.toMatch(JWT);
    expect(logs).not.toContain('PRIVATE KEY');
  });

  it('without a secret or key file it refuses to start (exit 2) instead of falling back to a browser', async () => {
    const d = await demo({ staticClients: [{ client_id: CLIENT, client_secret: SECRET }] });
    const home = await tempHome();
    const relay = spawnRelay([d.url, '--client-credentials', '--client-id', CLIENT], { home, env: env(home) });
    expect((await relay.exited).code).toBe(2);
    expect(relay.stderr()).toMatch(/--client-credentials needs a credential/);
    expect(browserLaunches(home)).toHaveLength(0);
  });
});
