import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import getPort from 'get-port';
import {
  PREFERRED_PORT_MAX,
  PREFERRED_PORT_MIN,
  bindAnyCallbackServer,
  bindCallbackServer,
  preferredCallbackPort,
  type CallbackServer,
} from '../../src/auth/callback.js';
import { RelayError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';

/** A real pino logger whose lines we can read (to wait for events and to check for leaks). */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

const servers: CallbackServer[] = [];
const rawServers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(rawServers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function bind(opts: { port?: number; log?: ReturnType<typeof silentLogger>; host?: string } = {}): Promise<CallbackServer> {
  const s = await bindCallbackServer({ port: opts.port ?? 0, log: opts.log ?? silentLogger(), ...(opts.host ? { host: opts.host } : {}) });
  if (!s) throw new Error('expected to bind');
  servers.push(s);
  return s;
}

function occupy(host: string, port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, host, () => {
      rawServers.push(srv);
      resolve(srv);
    });
  });
}

/** A GET with full control of the headers (fetch would not let us forge Host). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const callbackUrl = (s: CallbackServer, q: Record<string, string>) => `${s.redirectUri}?${new URLSearchParams(q).toString()}`;

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

describe('preferredCallbackPort', () => {
  it('is stable per server key and stays inside 33418–49151', () => {
    const keys = Array.from({ length: 200 }, (_, i) => `${i.toString(16).padStart(4, '0')}deadbeefcafe${i}`);
    const ports = keys.map(preferredCallbackPort);
    expect(keys.map(preferredCallbackPort)).toEqual(ports);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(PREFERRED_PORT_MIN);
      expect(p).toBeLessThanOrEqual(PREFERRED_PORT_MAX);
    }
    expect(new Set(ports).size).toBeGreaterThan(150); // spread out, not one port for everyone
  });
});

describe('binding', () => {
  it('a second bind of a port that is already held resolves undefined', async () => {
    const first = await bind();
    const second = await bindCallbackServer({ port: first.port, log: silentLogger() });
    expect(second).toBeUndefined();
  });

  it('refuses a non-loopback host', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.2', 'example.com', '10.0.0.1', '']) {
      const err = await bindCallbackServer({ host, port: 0, log: silentLogger() }).catch((e: unknown) => e);
      expect(err, host).toBeInstanceOf(RelayError);
      expect((err as RelayError).code).toBe('BAD_CONFIG');
    }
  });

  it('maps localhost to 127.0.0.1 for the bind and keeps "localhost" in the redirect URI', async () => {
    const s = await bind({ host: 'localhost' });
    expect(s.host).toBe('127.0.0.1');
    expect(s.redirectUri).toBe(`http://localhost:${s.port}/callback`);
  });

  it('listens on loopback only: the same port on a non-loopback address is still free', async () => {
    const s = await bind();
    expect(s.host).toBe('127.0.0.1');
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    // If we were bound to 0.0.0.0 this bind would fail with EADDRINUSE.
    const other = await occupy(external ?? '127.0.0.2', s.port);
    expect(other.address()).toMatchObject({ port: s.port });
  });

  it('bindAnyCallbackServer retries when the picked port was taken before the bind (lost race)', async () => {
    const taken = await occupy('127.0.0.1');
    const takenPort = (taken.address() as { port: number }).port;
    const picked: number[] = [];
    const s = await bindAnyCallbackServer({
      log: silentLogger(),
      pickPort: async (o) => {
        const p = picked.length === 0 ? takenPort : await getPort(o);
        picked.push(p);
        return p;
      },
    });
    servers.push(s);
    expect(picked[0]).toBe(takenPort);
    expect(picked.length).toBeGreaterThanOrEqual(2);
    expect(s.port).not.toBe(takenPort);
    expect((await fetch(`http://127.0.0.1:${s.port}/nope`)).status).toBe(404); // really ours, really listening
  });

  it('bindAnyCallbackServer never returns an excluded port, even a free one the OS hands out', async () => {
    const excluded = await getPort({ host: '127.0.0.1' }); // free right now
    const picked: number[] = [];
    const s = await bindAnyCallbackServer({
      log: silentLogger(),
      exclude: [excluded],
      pickPort: async (o) => {
        const p = picked.length === 0 ? excluded : await getPort(o); // as if the OS handed it out
        picked.push(p);
        return p;
      },
    });
    servers.push(s);
    expect(picked[0]).toBe(excluded);
    expect(s.port).not.toBe(excluded);
    expect(s.redirectUri).toBe(`http://127.0.0.1:${s.port}/callback`);
  });
});

describe('callback handling', () => {
  it('a valid redirect resolves with code, state and iss, shows success, and releases the port', async () => {
    const s = await bind();
    const waiting = s.waitForCallback('state-123', { timeoutMs: 20_000 });
    const res = await fetch(callbackUrl(s, { code: 'the-code', state: 'state-123', iss: 'https://as.example' }));
    const body = await res.text();
    expect(res.status).toBe(200);
    expect(body).toContain('You can close this tab and return to your app.');
    expect(body).toContain('<html lang="en">');
    expect(body).toContain('<main');
    expect(body).not.toMatch(/<script|<link|<img|src=|href=/i); // no scripts, no external assets
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'; style-src 'unsafe-inline'");
    await expect(waiting).resolves.toEqual({ code: 'the-code', state: 'state-123', iss: 'https://as.example' });
    // The listener closes itself after the response (no close() call here): the port frees up.
    let again: CallbackServer | undefined;
    while (!again) {
      again = await bindCallbackServer({ port: s.port, log: silentLogger() });
      if (!again) await new Promise((r) => setTimeout(r, 10));
    }
    servers.push(again);
    expect(again.port).toBe(s.port);
  });

  it('a stale tab (wrong state) gets 400 and does not kill the good flow', async () => {
    const s = await bind();
    const waiting = s.waitForCallback('good-state', { timeoutMs: 20_000 });
    const stale = await fetch(callbackUrl(s, { code: 'old-code', state: 'old-state' }));
    expect(stale.status).toBe(400);
    expect(await stale.text()).toContain('stale or was not started by this relay');
    const good = await fetch(callbackUrl(s, { code: 'new-code', state: 'good-state' }));
    expect(good.status).toBe(200);
    await expect(waiting).resolves.toMatchObject({ code: 'new-code', state: 'good-state' });
  });

  it('missing code or a repeated parameter gets 400 and the flow keeps waiting', async () => {
    const s = await bind();
    const waiting = s.waitForCallback('st', { timeoutMs: 20_000 });
    expect((await fetch(callbackUrl(s, { state: 'st' }))).status).toBe(400);
    expect((await fetch(`${s.redirectUri}?code=a&code=b&state=st`)).status).toBe(400);
    expect((await fetch(callbackUrl(s, { code: 'c' }))).status).toBe(400); // code without state
    await fetch(callbackUrl(s, { code: 'real', state: 'st' }));
    await expect(waiting).resolves.toMatchObject({ code: 'real' });
  });

  it('error=access_denied rejects AUTH_FAILED and the page escapes the description', async () => {
    const s = await bind();
    const waiting = s.waitForCallback('st', { timeoutMs: 20_000 });
    const settled = waiting.catch((e: unknown) => e);
    const res = await fetch(callbackUrl(s, { error: 'access_denied', error_description: '<script>alert(1)</script> user said no', state: 'st' }));
    const body = await res.text();
    expect(body).not.toContain('<script>');
    expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(body).toContain('access_denied');
    const err = await settled;
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('AUTH_FAILED');
    expect((err as RelayError).message).toContain('authorization server returned error "access_denied"');
    await s.close();
    const again = await bindCallbackServer({ port: s.port, log: silentLogger() });
    expect(again?.port).toBe(s.port);
    if (again) servers.push(again);
  });

  it('a forged Host header (DNS rebinding) gets 400 and never completes the flow', async () => {
    const s = await bind();
    const waiting = s.waitForCallback('st', { timeoutMs: 20_000 });
    const forged = await rawGet(s.port, `/callback?code=forged&state=st`, { Host: `evil.example:${s.port}` });
    expect(forged.status).toBe(400);
    const wrongPort = await rawGet(s.port, `/callback?code=forged&state=st`, { Host: '127.0.0.1' });
    expect(wrongPort.status).toBe(400);
    await fetch(callbackUrl(s, { code: 'genuine', state: 'st' }));
    await expect(waiting).resolves.toMatchObject({ code: 'genuine' });
  });

  it('a request carrying an Origin header gets 403 and never completes the flow', async () => {
    const s = await bind();
    const waiting = s.waitForCallback('st', { timeoutMs: 20_000 });
    const res = await rawGet(s.port, `/callback?code=xorigin&state=st`, { Host: `127.0.0.1:${s.port}`, Origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    await fetch(callbackUrl(s, { code: 'genuine', state: 'st' }));
    await expect(waiting).resolves.toMatchObject({ code: 'genuine' });
  });

  it('other paths and methods get 404', async () => {
    const s = await bind();
    const waiting = s.waitForCallback('st', { timeoutMs: 20_000 });
    expect((await fetch(`http://127.0.0.1:${s.port}/other?code=c&state=st`)).status).toBe(404);
    expect((await fetch(callbackUrl(s, { code: 'c', state: 'st' }), { method: 'POST' })).status).toBe(404);
    await fetch(callbackUrl(s, { code: 'ok', state: 'st' }));
    await expect(waiting).resolves.toMatchObject({ code: 'ok' });
  });

  it('a redirect that arrives before waitForCallback is held, answered once, and later hits see "already finished"', async () => {
    const { log, lines } = capturingLogger();
    const s = await bind({ log });
    const held = (n: number) => lines.filter((l) => l.includes('holding an authorization response')).length >= n;
    const first = fetch(callbackUrl(s, { code: 'first', state: 'st' }));
    await until(() => held(1));
    const second = fetch(callbackUrl(s, { code: 'second', state: 'st' }));
    await until(() => held(2));
    const result = await s.waitForCallback('st', { timeoutMs: 20_000 });
    expect(result.code).toBe('first');
    expect(await (await first).text()).toContain('You can close this tab');
    expect(await (await second).text()).toContain('Login already finished');
  });

  it('times out with AUTH_TIMEOUT naming the retry command, and releases the port', async () => {
    const s = await bind();
    const err = await s.waitForCallback('st', { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('AUTH_TIMEOUT');
    expect((err as RelayError).message).toContain('mcp-relay login');
    const again = await bindCallbackServer({ port: s.port, log: silentLogger() });
    expect(again?.port).toBe(s.port);
    if (again) servers.push(again);
  });

  it('an abort signal rejects the waiter and releases the port', async () => {
    const s = await bind();
    const ac = new AbortController();
    const waiting = s.waitForCallback('st', { timeoutMs: 20_000, signal: ac.signal }).catch((e: unknown) => e);
    ac.abort(new RelayError('SHUTTING_DOWN', 'relay is closing'));
    const err = await waiting;
    expect((err as RelayError).code).toBe('SHUTTING_DOWN');
    const again = await bindCallbackServer({ port: s.port, log: silentLogger() });
    expect(again?.port).toBe(s.port);
    if (again) servers.push(again);
  });

  it('never logs the code or the state', async () => {
    const { log, lines } = capturingLogger();
    const s = await bind({ log });
    const waiting = s.waitForCallback('secret-state-value', { timeoutMs: 20_000 });
    await fetch(callbackUrl(s, { code: 'stale-code-value', state: 'stale-state-value' }));
    await rawGet(s.port, '/callback?code=forged-code-value&state=secret-state-value', { Host: `evil.example:${s.port}` });
    await fetch(callbackUrl(s, { code: 'secret-code-value', state: 'secret-state-value' }));
    await waiting;
    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const secret of ['secret-state-value', 'secret-code-value', 'stale-code-value', 'stale-state-value', 'forged-code-value']) {
      expect(all).not.toContain(secret);
    }
  });
});
