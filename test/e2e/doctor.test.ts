/**
 * `mcp-relay doctor` as shipped: the built CLI spawned against real servers on 127.0.0.1 (an SDK
 * server, the OAuth demo server with good and hostile metadata, TLS gateways with an unknown CA or
 * demanding a client certificate, a dead port). Each report must name the real cause: the test
 * asserts on the step that failed and its detail and advice, from `--json`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { defaultStoreRoot, serverKey } from '../../src/store/paths.js';
import { CredentialStore } from '../../src/store/store.js';
import { closeFaults, faultProxy, recordingProxy, selfSignedCert } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { startModernServer, type ModernServer } from '../helpers/modern-server.js';
import { browserEnv, closeDemos, demo, readStoreJson } from '../helpers/oauth.js';
import { RELAY_BIN, relayEnv, tempHome } from '../helpers/relay.js';
import { makeTestCa, type TestCa } from '../helpers/tls-ca.js';

interface Step {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  advice?: string;
}
interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  report: { server: string; ok: boolean; steps: Step[] } | undefined;
}

function doctor(home: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RELAY_BIN, 'doctor', ...args], { env: relayEnv(home, env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let report: Run['report'];
      try {
        report = JSON.parse(stdout) as Run['report'];
      } catch {
        report = undefined;
      }
      resolve({ code, stdout, stderr, report });
    });
  });
}

function stepOf(run: Run, name: string): Step {
  const s = run.report?.steps.find((x) => x.name === name);
  if (!s) throw new Error(`no step ${name} in ${run.stdout} ${run.stderr}`);
  return s;
}

function failed(run: Run): string[] {
  return (run.report?.steps ?? []).filter((s) => s.status === 'fail').map((s) => s.name);
}

const servers: Array<TestServer | ModernServer> = [];
afterEach(async () => {
  await closeFaults();
  await closeDemos();
  for (const s of servers.splice(0)) await s.close();
});

let ca: TestCa;
beforeAll(async () => {
  ca = makeTestCa(await mkdtemp(join(tmpdir(), 'mcp-relay-doctor-ca-')));
});

async function sdkServer(): Promise<TestServer> {
  const s = await startTestServer({ kind: 'stateful' });
  servers.push(s);
  return s;
}

describe('mcp-relay doctor', () => {
  it('a healthy server without OAuth: every step passes, exit 0, the text report says so', async () => {
    const s = await sdkServer();
    const home = await tempHome();
    const run = await doctor(home, [s.url, '--json']);
    expect(run.code).toBe(0);
    expect(failed(run)).toEqual([]);
    expect(run.report?.ok).toBe(true);
    expect(stepOf(run, 'tcp').status).toBe('ok');
    expect(stepOf(run, 'http').status).toBe('ok');
    expect(stepOf(run, 'protocol')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/MCP 2025-\d\d-\d\d over Streamable HTTP/) });
    expect(stepOf(run, 'clock').status).toBe('ok');
    // What the server saw: the relay's own server/discover probe, then an initialize.
    const methods = s.requests.map((r) => (r.body as { method?: string } | undefined)?.method);
    expect(methods.slice(0, 2)).toEqual(['server/discover', 'initialize']);
    const text = await doctor(home, [s.url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/\[ok {2}\] protocol/);
    expect(text.stdout).toContain('No step failed.');
  });

  it('the OAuth demo server: metadata with PKCE S256, dynamic registration offered, and no stored login is a warning', async () => {
    const d = await demo();
    const home = await tempHome();
    const run = await doctor(home, [d.url, '--json']);
    expect(run.code).toBe(0);
    expect(stepOf(run, 'http')).toMatchObject({ status: 'ok', detail: expect.stringContaining('HTTP 401') });
    expect(stepOf(run, 'metadata')).toMatchObject({ status: 'ok', detail: expect.stringContaining('S256') });
    expect(stepOf(run, 'metadata').detail).toContain(`issuer ${d.issuer}`);
    expect(stepOf(run, 'registration')).toMatchObject({ status: 'ok', detail: expect.stringContaining('dynamic registration') });
    expect(stepOf(run, 'login')).toMatchObject({ status: 'warn', advice: expect.stringContaining('mcp-relay login') });
    // Never starts a login: nothing registered, no authorization asked for.
    expect(d.counters.registrations).toBe(0);
  });

  it('a stored login: expiry and scopes are shown, never the access or refresh token', async () => {
    const d = await demo();
    const home = await tempHome();
    const secrets = { access: 'SECRET-DOCTOR-ACCESS-4711', refresh: 'SECRET-DOCTOR-REFRESH-4712' };
    const store = new CredentialStore(defaultStoreRoot(relayEnv(home)), silentLogger());
    const server = store.server(serverKey({ serverUrl: d.url }));
    const now = Date.now();
    await server.writeServer({ url: d.url, created_at: now, last_used_at: now });
    await server.writeTokens({
      access_token: secrets.access,
      token_type: 'Bearer',
      refresh_token: secrets.refresh,
      scope: 'mcp:tools',
      expires_at: now + 3_600_000,
      obtained_at: now,
      grant: 'authorization_code',
    });
    for (const args of [[d.url, '--json'], [d.url]]) {
      const run = await doctor(home, args);
      expect(run.stdout + run.stderr).not.toContain(secrets.access);
      expect(run.stdout + run.stderr).not.toContain(secrets.refresh);
      if (run.report) {
        expect(stepOf(run, 'login')).toMatchObject({
          status: 'ok',
          detail: expect.stringMatching(/valid until .*refresh token is stored.*scopes "mcp:tools"/),
        });
      } else {
        expect(run.stdout).toMatch(/login .*scopes "mcp:tools"/);
      }
    }
  });

  it('an authorization server whose issuer does not match: the metadata step fails naming the issuer, exit 1', async () => {
    const d = await demo({ metadataOverrides: { issuer: 'https://evil.example' } });
    const run = await doctor(await tempHome(), [d.url, '--json']);
    expect(run.code).toBe(1);
    expect(failed(run)).toEqual(['metadata']);
    expect(stepOf(run, 'metadata').detail).toMatch(/"issuer".*https:\/\/evil\.example/);
    expect(stepOf(run, 'metadata').advice).toContain('RFC 8414');
  });

  it('an authorization server without PKCE S256: the metadata step fails and says S256 is required', async () => {
    const d = await demo({ metadataOverrides: { code_challenge_methods_supported: ['plain'] } });
    const run = await doctor(await tempHome(), [d.url, '--json']);
    expect(run.code).toBe(1);
    expect(failed(run)).toEqual(['metadata']);
    expect(stepOf(run, 'metadata').advice).toContain('"S256"');
  });

  it('a TLS server with an unknown CA: the tls step fails with the chain and advises --tls-ca; NODE_EXTRA_CA_CERTS makes it pass', async () => {
    const s = await sdkServer();
    const cert = selfSignedCert(await mkdtemp(join(tmpdir(), 'mcp-relay-doctor-tls-')));
    const g = await faultProxy({ target: `http://127.0.0.1:${s.port}`, tls: { key: cert.key, cert: cert.cert } });
    const url = `${g.origin}/mcp`;
    const home = await tempHome();
    const run = await doctor(home, [url, '--json']);
    expect(run.code).toBe(1);
    expect(failed(run)).toEqual(['tls']);
    expect(stepOf(run, 'tls').detail).toMatch(/not trusted .*chain: 127\.0\.0\.1/);
    expect(stepOf(run, 'tls').advice).toMatch(/--tls-ca FILE or set NODE_EXTRA_CA_CERTS/);
    const trusted = await doctor(home, [url, '--json'], { NODE_EXTRA_CA_CERTS: cert.certFile });
    expect(trusted.code).toBe(0);
    expect(stepOf(trusted, 'tls')).toMatchObject({ status: 'ok', detail: expect.stringContaining('NODE_EXTRA_CA_CERTS') });
  });

  it('a gateway that requires a client certificate: without one the tls step says so; with --tls-cert/--tls-key it is accepted', async () => {
    const s = await sdkServer();
    const g = await faultProxy({ target: `http://127.0.0.1:${s.port}`, tls: { ...ca.server, clientCa: ca.ca } });
    const url = `${g.origin}/mcp`;
    const home = await tempHome();
    const without = await doctor(home, [url, '--json', '--tls-ca', ca.caFile]);
    expect(without.code).toBe(1);
    expect(failed(without)).toEqual(['tls']);
    expect(stepOf(without, 'tls').advice).toContain('requires a client certificate');
    const withCert = await doctor(home, [url, '--json', '--tls-ca', ca.caFile, '--tls-cert', ca.client.certFile, '--tls-key', ca.client.keyFile]);
    expect(withCert.code).toBe(0);
    expect(stepOf(withCert, 'tls').detail).toContain('client certificate accepted');
  });

  it('a dead port: the tcp step fails with ECONNREFUSED and the later steps are skipped, not failed', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const run = await doctor(await tempHome(), [`http://127.0.0.1:${port}/mcp`, '--json']);
    expect(run.code).toBe(1);
    expect(failed(run)).toEqual(['tcp']);
    expect(stepOf(run, 'tcp').detail).toContain('ECONNREFUSED');
    expect(stepOf(run, 'tcp').advice).toContain(`nothing listens on port ${port}`);
    expect(stepOf(run, 'http').status).toBe('skip');
  });

  it('a 2026-07-28 server: the protocol step names the revision from server/discover, and nothing else is sent', async () => {
    const m = await startModernServer();
    servers.push(m);
    const run = await doctor(await tempHome(), [m.url, '--json']);
    expect(run.code).toBe(0);
    expect(stepOf(run, 'protocol')).toMatchObject({ status: 'ok', detail: expect.stringContaining('2026-07-28') });
    expect(m.methods()).toEqual(['server/discover']);
  });

  it('a server behind a login, with a stored login: the probe carries the stored token, which is never printed', async () => {
    const token = 'SECRET-DOCTOR-BEARER-0815';
    const m = await startModernServer({ bearer: { token } });
    servers.push(m);
    const home = await tempHome();
    const store = new CredentialStore(defaultStoreRoot(relayEnv(home)), silentLogger());
    const now = Date.now();
    await store
      .server(serverKey({ serverUrl: m.url }))
      .writeTokens({ access_token: token, token_type: 'Bearer', scope: 'mcp', expires_at: now + 3_600_000, obtained_at: now });
    const run = await doctor(home, [m.url, '--json']);
    expect(stepOf(run, 'protocol')).toMatchObject({ status: 'ok', detail: expect.stringContaining('2026-07-28') });
    expect(m.requests.some((r) => r.headers.authorization === `Bearer ${token}`)).toBe(true);
    expect(run.stdout + run.stderr).not.toContain(token);
  });

  it('HTTP_PROXY with credentials: the proxy step names it without the password, and the MCP POST went through it', async () => {
    const s = await sdkServer();
    const proxy = await recordingProxy();
    const withCreds = proxy.url.replace('http://', 'http://doctor:SECRET-PROXY-PASS@');
    const run = await doctor(await tempHome(), [s.url, '--json'], { HTTP_PROXY: withCreds });
    expect(stepOf(run, 'proxy').detail).toContain(`requests go through http://${new URL(proxy.url).host}/`);
    expect(run.stdout + run.stderr).not.toContain('SECRET-PROXY-PASS');
    // The recording proxy refuses every tunnel (502): the report blames the HTTP step, not the network.
    expect(proxy.attempts).toContain(`CONNECT ${new URL(s.url).host}`);
    expect(failed(run)).toEqual(['http']);
    expect(stepOf(run, 'http').detail).toMatch(/Proxy response \(502\)/);
  });

  it('--login after a report without a stored login: logs in through the login command, and stdout stays one JSON object', async () => {
    const d = await demo({ autoApprove: true });
    const home = await tempHome();
    const run = await doctor(home, [d.url, '--json', '--login'], browserEnv(home));
    expect(run.code).toBe(0);
    expect(stepOf(run, 'login').status).toBe('warn');
    expect(d.counters.registrations).toBe(1);
    const tokens = await readStoreJson<{ access_token: string; refresh_token?: string }>(home, d.url, 'tokens.json');
    expect(tokens?.access_token).toBeTruthy();
    expect(run.stdout + run.stderr).not.toContain(tokens!.access_token);
    const again = await doctor(home, [d.url, '--json']);
    expect(stepOf(again, 'login')).toMatchObject({ status: 'ok', detail: expect.stringContaining('valid until') });
    expect(again.stdout + again.stderr).not.toContain(tokens!.access_token);
  });

  it('bad usage exits 2', async () => {
    const run = await doctor(await tempHome(), ['not a url']);
    expect(run.code).toBe(2);
  });
});
