/**
 * Hostile-world cases the relay got wrong until this suite found them; each test failed before
 * its fix (see docs/reliability.md, "Found by this suite and fixed"). Same rig as the others:
 * the built relay, real servers and sockets.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeFaults, echoRpcServer, faultProxy, on, type FaultProxy } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { browserEnv, browserLaunches, closeDemos, demo, readStoreJson } from '../helpers/oauth.js';
import { connectRelay, INIT, killAll, RELAY_BIN, relayEnv, tempHome } from '../helpers/relay.js';
import type { DemoServer } from '../../src/demo/server.js';

/** How long the test host waits for an answer before giving up itself. */
const HOST_TIMEOUT_MS = 3_000;
const servers: TestServer[] = [];
const children: Array<{ kill(signal: NodeJS.Signals): boolean }> = [];

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await killAll();
  await closeFaults();
  await closeDemos();
  for (const s of servers.splice(0)) await s.close();
});

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

const echo = (t: string) => ({ name: 'echo', arguments: { text: t } });

async function demoWithTokenProxy(opts: Parameters<typeof demo>[0] = {}): Promise<{ d: DemoServer; p: FaultProxy }> {
  const p = await faultProxy();
  const d = await demo({ ...opts, metadataOverrides: { ...(opts.metadataOverrides ?? {}), token_endpoint: `${p.origin}/token` } });
  p.setTarget(d.issuer);
  return { d, p };
}

describe('regressions: the store', () => {
  // Guards: a credential store that cannot be read must not stop a relay to a server that needs
  // no login. AuthCoordinator.authorization() (src/auth/coordinator.ts) loads the tokens for the
  // first request through readTokensOrWarn() (src/store/open.ts), which turns a STORE_IO error
  // (here ENOTDIR: the store root lies under a regular file) into one warning, "credential store
  // unusable, continuing without stored login", and no tokens. A server that then asked for a
  // login would get the store's own error from the login path.
  it('MCP_RELAY_HOME under a regular file does not stop a relay to a server that needs no login', async () => {
    const s = await startTestServer({ kind: 'stateful' });
    servers.push(s);
    const home = await tempHome();
    await writeFile(join(home, 'not-a-dir'), 'a regular file');
    const { client, stderr } = await connectRelay([s.url], { home, env: { MCP_RELAY_HOME: join(home, 'not-a-dir', 'store') } });
    expect(text(await client.callTool(echo('no store needed')))).toBe('no store needed');
    expect(stderr()).toMatch(/ENOTDIR/);
  });
});

describe('regressions: the network', () => {
  // Guards: a burst of host messages must not open one socket each. MCP traffic goes through
  // createMcpFetch() (src/http/fetch.ts): node:http agents from createNodeHttpFetch()
  // (src/http/node-http.ts) holding at most MAX_CONNECTIONS (128) sockets per origin, or, with a
  // proxy variable set, undici's EnvHttpProxyAgent with the same limit; excess requests wait in
  // the pool. Without the limit, 10,000 pings written at once opened a socket each and ~9,000
  // failed with EMFILE under a 1024-descriptor limit (common in containers and CI).
  it('10,000 requests written at once under a 1024 file-descriptor limit: all answered with results', async () => {
    const s = await echoRpcServer();
    await floodUnderFdLimit([s.url], 10_000);
  });

  // The same for a legacy HTTP+SSE server: its POSTs go through the web fetch the SDK's transport
  // needs, createLegacyFetch() (src/http/fetch.ts), undici's fetch over an Agent with the same
  // MAX_CONNECTIONS limit, not Node's unpooled global fetch.
  it('3,000 requests at once to a legacy SSE server under a 1024 file-descriptor limit: all answered', async () => {
    const s = await startTestServer({ kind: 'sse' });
    servers.push(s);
    await floodUnderFdLimit([s.url, '--transport', 'sse'], 3_000);
  });
});

/** Start the relay under `ulimit -n 1024`, write `N` pings at once after initialize, expect N results. */
async function floodUnderFdLimit(args: string[], N: number): Promise<void> {
  {
    const home = await tempHome();
    const child = spawn('/bin/sh', ['-c', 'ulimit -n 1024 && exec "$0" "$@"', process.execPath, RELAY_BIN, ...args], {
      env: relayEnv(home),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    let lines = 0;
    let errors = 0;
    let firstError = '';
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines += 1;
        if (line.includes('"error"')) {
          errors += 1;
          firstError ||= line;
        }
      }
    });
    const flood = [JSON.stringify(INIT(0)), JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })];
    for (let id = 1; id <= N; id++) flood.push(JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }));
    child.stdin.write(`${flood.join('\n')}\n`);
    const deadline = Date.now() + 40_000;
    while (lines < N + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect({ lines, errors, firstError, stderr: stderr.slice(-500) }).toEqual({ lines: N + 1, errors: 0, firstError: '', stderr: expect.any(String) });
  }
}

describe('regressions: answers that never come', () => {
  // Guards: every host request gets exactly one answer, even when the server's HTTP answer holds
  // none. In StreamableHttpRemote (src/remote/v2025/streamable.ts), exchange() throws a
  // REMOTE_PROTOCOL RelayError for a request met with HTTP 202 (202 is only for notifications and
  // responses, MCP 2025-11-25 transports), and readAnswer() throws one when an application/json
  // body holds no response with the request's id. Relay.forward() (src/relay/relay.ts) answers
  // the host's request with that error (-32000) at once, instead of leaving it to the host's
  // timeout.
  it.each([
    ['HTTP 202 with no body', { status: 202, headers: {}, body: '' }],
    [
      'a JSON body answering another id',
      { status: 200, headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":"not-yours","result":{}}' },
    ],
    [
      'a JSON body holding only a notification',
      {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}',
      },
    ],
  ])("a request met with %s is answered with an error by the relay, not left to the host's timeout", async (_name, response) => {
    const s = await startTestServer({ kind: 'stateful' });
    servers.push(s);
    const p = await faultProxy({ target: `http://127.0.0.1:${s.port}` });
    const { client } = await connectRelay([`${p.origin}/mcp`], { home: await tempHome() });
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'respond', ...response } });
    const outcome = await client.callTool(echo('lost'), undefined, { timeout: HOST_TIMEOUT_MS }).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    expect(outcome).not.toContain('Request timed out');
    expect(outcome).toMatch(/^MCP error -3200\d: /);
    expect(text(await client.callTool(echo('next')))).toBe('next');
  });
});

describe('regressions: the host', () => {
  // Guards: a host that pipes stderr and never reads it (MCP 2025-11-25 transports, stdio: the
  // client may "capture, forward, or ignore" stderr) must not freeze the relay. createLogger()
  // (src/log.ts) writes through stderrWriter() (src/stderr.ts): when fd 2 is a pipe or socket it
  // is opened as a non-blocking net.Socket, and lines are dropped (and counted, reported once the
  // backlog drains) while more than MAX_BACKLOG_BYTES (1 MiB) wait; terminals and files keep the
  // synchronous write. At exit, runProxy (src/cli/proxy.ts) waits for log.flush() and
  // drainStderr() at most LOG_FLUSH_MAX_MS (1 s) each, so the relay exits although nobody reads.
  it('a host that pipes stderr and never reads it: the relay keeps answering every request, and exits 0 when stdin closes', async () => {
    const s = await echoRpcServer();
    const url = s.url;
    await s.close(); // nothing listens: every request fails and the relay logs a warning for each
    const child = spawn(process.execPath, [RELAY_BIN, url], { env: relayEnv(await tempHome()), stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let lines = 0;
    child.stdout.on('data', (d: Buffer) => {
      for (const c of d) if (c === 0x0a) lines += 1;
    });
    const N = 2_000;
    const msgs = [JSON.stringify(INIT(0))];
    for (let id = 1; id <= N; id++) msgs.push(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: echo('x'.repeat(100)) }));
    child.stdin.write(`${msgs.join('\n')}\n`);
    const deadline = Date.now() + 20_000;
    while (lines < N + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(lines).toBe(N + 1);
    child.stdin.end();
    expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running after 5 s'), 5_000))])).toBe(0);
  });
});

describe('regressions: the authorization server', () => {
  // Guards: a short outage of the token endpoint must not fail the request that needed a
  // refresh. AuthCoordinator (src/auth/coordinator.ts) runs refreshTokens() through
  // withTokenRetry() (src/auth/retry.ts): only 5xx, temporarily_unavailable, resets and timeouts
  // are retried, at most TOKEN_RETRY_ATTEMPTS (3), waiting as Retry-After says (capped at
  // MAX_RETRY_AFTER_MS) and never past the lock's stale time, keeping the stored tokens; a dead
  // grant (invalid_grant) is not retried. Here the second token request, one second later, succeeds.
  it('a token endpoint that blips once (503 temporarily_unavailable, Retry-After: 1): the request that needed the refresh still succeeds', async () => {
    const { d, p } = await demoWithTokenProxy();
    const home = await tempHome();
    const { client } = await connectRelay([d.url], { home, env: browserEnv(home) });
    await client.listTools();
    p.inject({
      match: on.path('/token'),
      action: {
        kind: 'respond',
        status: 503,
        headers: { 'content-type': 'application/json', 'retry-after': '1' },
        body: '{"error":"temporarily_unavailable"}',
      },
    });
    d.expireAccessTokens();
    expect(text(await client.callTool(echo('through the blip')))).toBe('through the blip');
    expect(p.seen.filter((r) => r.path === '/token' && r.body.includes('grant_type=refresh_token'))).toHaveLength(2);
    expect(d.counters.tokenRequests.refresh_token).toBe(1);
    expect(browserLaunches(home)).toHaveLength(1);
  });
});

describe('regressions: secrets in error messages', () => {
  // Guards: an error page that repeats the request (debug pages, some WAFs) must not hand the
  // refresh token, client secret or bearer token to the host (its logs, the model's context).
  // For the token endpoint, classify() (src/auth/tokens.ts) drops the raw body the SDK appends to
  // its error ("Raw body: …", withoutRawBody()). For the MCP server, httpError()
  // (src/http/http-error.ts) keeps up to 200 characters of the body, so the backstop matters:
  // Relay.answerError() (src/relay/relay.ts) passes every message to the host through scrub()
  // (src/log.ts: query/form `name=value`, JSON `"name": "value"`, `Bearer …`/`Basic …` and
  // `authorization: …` patterns), and the logger scrubs every string it writes to stderr.
  it("a token endpoint whose error page repeats the request: the host's error names the failure but not the refresh token or client secret", async () => {
    const { d, p } = await demoWithTokenProxy({ metadataOverrides: { token_endpoint_auth_methods_supported: ['client_secret_post'] } });
    const home = await tempHome();
    const { client, stderr } = await connectRelay([d.url], { home, env: browserEnv(home) });
    await client.listTools();
    const tokens = (await readStoreJson<{ refresh_token: string }>(home, d.url, 'tokens.json'))!;
    const secret = (await readStoreJson<{ client_secret: string }>(home, d.url, 'client.json'))!.client_secret;
    // Lasts through the relay's retries of a failed refresh (3 attempts).
    p.inject({ match: on.path('/token'), action: { kind: 'echo-request', status: 400 }, times: 3 });
    d.expireAccessTokens();
    const failure = await client.callTool(echo('x')).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/refreshing the access token failed/);
    expect(p.seen.at(-1)!.body).toContain(tokens.refresh_token); // the page really did repeat it
    expect(failure).not.toContain(tokens.refresh_token);
    expect(failure).not.toContain(secret);
    expect(stderr()).not.toContain(tokens.refresh_token);
    expect(stderr()).not.toContain(secret);
  });

  it("an MCP server whose 500 page repeats the request headers: the host's error does not carry the Authorization value", async () => {
    const s = await startTestServer({ kind: 'stateful' });
    servers.push(s);
    const p = await faultProxy({ target: `http://127.0.0.1:${s.port}` });
    const token = 'static-bearer-5ecret-9c41d7';
    const { client, stderr } = await connectRelay([`${p.origin}/mcp`, '--header', 'Authorization: Bearer ${API_TOKEN}'], {
      home: await tempHome(),
      env: { API_TOKEN: token },
    });
    p.inject({ match: on.rpc('tools/call'), action: { kind: 'echo-request', status: 500 } });
    const failure = await client.callTool(echo('x')).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/HTTP 500/);
    expect(failure).not.toContain(token);
    expect(stderr()).not.toContain(token);
  });
});
