/**
 * The node:http client for MCP traffic against real loopback servers that record what they saw:
 * connections opened, requests received, bytes of each body. No timing assertions: the server
 * waits for the test (and the test for the server) through promises.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { getEventListeners, once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedCert } from '../helpers/faults.js';
import { createNodeHttpFetch, type HttpFetch, type HttpResponse } from '../../src/http/node-http.js';

/** Compile-time check: the web fetch satisfies HttpFetch, so callers can take either. */
const webFetch: HttpFetch = (u, i) => fetch(u, i as RequestInit);

interface Recorder {
  url: string;
  server: Server;
  connections: number;
  requests: number;
  /** Server-side sockets in the order they connected. */
  sockets: Socket[];
  close(): Promise<void>;
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse, rec: Recorder) => void): Promise<Recorder> {
  const server = createServer();
  const rec: Recorder = {
    url: '',
    server,
    connections: 0,
    requests: 0,
    sockets: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket) => {
    rec.connections++;
    rec.sockets.push(socket);
  });
  server.on('request', (req, res) => {
    rec.requests++;
    handler(req, res, rec);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  rec.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(() => rec.close());
  return rec;
}

function client(opts?: { maxSockets?: number }) {
  const f = createNodeHttpFetch(opts);
  cleanups.push(() => f.close());
  return f;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A promise plus its resolver, for the test and the server to wait on each other. */
function gate<T = void>() {
  let open!: (v: T) => void;
  const opened = new Promise<T>((r) => (open = r));
  return { open, opened };
}

const closed = (socket: Socket) => new Promise<void>((r) => (socket.destroyed ? r() : socket.once('close', () => r())));
const decode = (v: Uint8Array | undefined) => Buffer.from(v ?? new Uint8Array()).toString('utf8');

describe('response head', () => {
  it('exposes status, statusText, ok and case-insensitive headers with repeated fields joined', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/missing') return res.writeHead(404, 'Nope').end();
      if (req.url === '/bare') return res.writeHead(200, '').end();
      res.setHeader('X-Multi', ['a', 'b']);
      res.setHeader('Content-Type', 'application/json');
      res.writeHead(201, 'Made It').end('{}');
    });
    const f = client();
    for (const get of [f, webFetch]) {
      const r = await get(`${s.url}/`, { method: 'GET' });
      expect([r.status, r.statusText, r.ok]).toEqual([201, 'Made It', true]);
      expect(r.headers.get('content-type')).toBe('application/json');
      expect(r.headers.get('CONTENT-TYPE')).toBe('application/json');
      expect(r.headers.get('x-multi')).toBe('a, b');
      expect(r.headers.get('x-absent')).toBeNull();
      await r.text();
    }
    const missing = await f(`${s.url}/missing`, { method: 'GET' });
    expect([missing.status, missing.statusText, missing.ok]).toEqual([404, 'Nope', false]);
    const bare = await f(`${s.url}/bare`, { method: 'GET' });
    expect(bare.statusText).toBe('');
    // An empty body still has a body object; it just ends.
    expect(bare.body).not.toBeNull();
    expect(await bare.body!.getReader().read()).toEqual({ done: true, value: undefined });
  });
});

describe('request body', () => {
  it('arrives byte-exact with a content-length, no chunking and no accept-encoding', async () => {
    const seen: Array<{ bytes: Buffer; headers: IncomingMessage['headers'] }> = [];
    const s = await serve(async (req, res) => {
      seen.push({ bytes: await readBody(req), headers: req.headers });
      res.end('ok');
    });
    const f = client();
    const text = 'héllo ✓ 𝄞 {"jsonrpc":"2.0"}';
    const bytes = new Uint8Array([0, 1, 0xff, 0xfe, 0x80, 10, 13, 0xc3]); // not valid UTF-8: must not be re-encoded
    for (const body of [text, bytes]) {
      const r = await f(s.url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': '1' }, body });
      expect(await r.text()).toBe('ok');
    }
    expect(seen[0]!.bytes.equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(seen[0]!.headers['content-length']).toBe(String(Buffer.byteLength(text)));
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[1]!.bytes.equals(Buffer.from(bytes))).toBe(true);
    expect(seen[1]!.headers['content-length']).toBe('8');
    for (const { headers } of seen) {
      expect(headers['transfer-encoding']).toBeUndefined();
      expect(headers['accept-encoding']).toBeUndefined();
    }
  });
});

describe('response body', () => {
  it('streams: the first chunk is readable before the server writes the second', async () => {
    const second = gate();
    const s = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first');
      await second.opened;
      res.end('second');
    });
    const r = await client()(s.url, { method: 'GET' });
    const reader = r.body!.getReader();
    let got = '';
    while (got.length < 'first'.length) {
      const chunk = await reader.read();
      expect(chunk.done).toBe(false);
      expect(Buffer.isBuffer(chunk.value)).toBe(true); // Node's chunk itself, not a copy
      got += decode(chunk.value);
    }
    expect(got).toBe('first');
    second.open();
    for (let c = await reader.read(); !c.done; c = await reader.read()) got += decode(c.value);
    expect(got).toBe('firstsecond');
    expect(await reader.read()).toEqual({ done: true, value: undefined });
  });

  it('backpressure: a reader that stops reading stops the server from sending the rest', async () => {
    const TOTAL = 64 * 1024 * 1024;
    const CHUNK = 64 * 1024;
    let written = 0;
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': TOTAL });
      const pump = () => {
        while (written < TOTAL) {
          written += CHUNK;
          if (!res.write(Buffer.alloc(CHUNK))) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const r = await client()(s.url, { method: 'GET' });
    const reader = r.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    // Let the server write until it is held back (its count stops moving for a while).
    for (let idle = 0, last = -1; idle < 200 && written < TOTAL; ) {
      await new Promise((done) => setImmediate(done));
      idle = written === last ? idle + 1 : 0;
      last = written;
    }
    expect(written).toBeLessThan(TOTAL / 2);
    await reader.cancel();
    await closed(s.sockets[0]!);
  });

  it('text(), json() and arrayBuffer() read the whole body; a second read is refused', async () => {
    const s = await serve((_req, res) => {
      res.write('{"a":[1,');
      res.end('"ü"]}');
    });
    const f = client();
    expect(await (await f(s.url, { method: 'GET' })).json()).toEqual({ a: [1, 'ü'] });
    const r = await f(s.url, { method: 'GET' });
    expect(await r.text()).toBe('{"a":[1,"ü"]}');
    await expect(r.text()).rejects.toBeInstanceOf(TypeError);
    const ab = await (await f(s.url, { method: 'GET' })).arrayBuffer();
    expect(ab).toBeInstanceOf(ArrayBuffer);
    expect(Buffer.from(ab).equals(Buffer.from('{"a":[1,"ü"]}'))).toBe(true);
  });

  it('a 5 MiB body arrives intact', async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': payload.length });
      for (let i = 0; i < payload.length; i += 300_000) res.write(payload.subarray(i, i + 300_000));
      res.end();
    });
    const r = await client()(s.url, { method: 'GET' });
    expect(Buffer.from(await r.arrayBuffer()).equals(payload)).toBe(true);
  });

  it('cancel() ends the body (read() gives done), is idempotent, and the socket is not reused', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200);
      res.write('partial'); // never ends
    });
    const f = client();
    const r = await f(s.url, { method: 'GET' });
    const reader = r.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    await r.body!.cancel();
    expect(await reader.read()).toEqual({ done: true, value: undefined });
    await closed(s.sockets[0]!);
    const again = await f(s.url, { method: 'GET' });
    await again.body!.cancel();
    expect(s.connections).toBe(2);
  });

  it('cancel() of a body that has fully arrived (a 202 with no content) keeps the connection for the next request', async () => {
    const s = await serve((_req, res) => res.writeHead(202, { 'content-length': 0 }).end());
    const f = client();
    for (let i = 0; i < 3; i++) {
      const r = await f(s.url, { method: 'POST', body: '{}' });
      expect(r.status).toBe(202);
      await r.body!.cancel();
    }
    expect(s.requests).toBe(3);
    expect(s.connections).toBe(1);
  });
});

describe('aborts', () => {
  it('an already aborted signal rejects with its reason and sends nothing', async () => {
    const s = await serve((_req, res) => res.end('ok'));
    const f = client();
    const reason = new DOMException('gone', 'AbortError');
    await expect(f(s.url, { method: 'GET', signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(await (await f(s.url, { method: 'GET' })).text()).toBe('ok');
    expect(s.requests).toBe(1);
  });

  it('abort before headers rejects with the exact reason (AbortError and TimeoutError) and closes the request', async () => {
    const arrived = [gate(), gate()];
    const s = await serve((_req) => arrived[s.requests - 1]!.open()); // never answers
    const f = client();
    const abortError = new DOMException('host cancelled', 'AbortError');
    const timeoutError = new DOMException('too slow', 'TimeoutError');
    for (const [i, reason] of [abortError, timeoutError].entries()) {
      const ac = new AbortController();
      const pending = f(s.url, { method: 'POST', body: '{}', signal: ac.signal });
      await arrived[i]!.opened;
      ac.abort(reason);
      const err = await pending.catch((e: unknown) => e);
      expect(err).toBe(reason);
      expect((err as Error).name).toBe(i === 0 ? 'AbortError' : 'TimeoutError');
      await closed(s.sockets[i]!);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    }
  });

  it('AbortSignal.timeout() rejects with the signal’s TimeoutError', async () => {
    const s = await serve(() => {}); // never answers
    const signal = AbortSignal.timeout(20);
    const err = await client()(s.url, { method: 'GET', signal }).catch((e: unknown) => e);
    expect(err).toBe(signal.reason);
    expect((err as Error).name).toBe('TimeoutError');
  });

  it('abort mid-body makes a pending and a later read() reject with the reason', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200);
      res.write('one'); // then holds the body open
    });
    const ac = new AbortController();
    const r = await client()(s.url, { method: 'GET', signal: ac.signal });
    const reader = r.body!.getReader();
    expect(decode((await reader.read()).value)).toBe('one');
    const pending = reader.read();
    const reason = new DOMException('stop', 'AbortError');
    ac.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await expect(reader.read()).rejects.toBe(reason);
    await closed(s.sockets[0]!);
  });
});

describe('network errors', () => {
  it('a dead port rejects with ECONNREFUSED', async () => {
    const s = await serve(() => {});
    const dead = s.url;
    await s.close();
    const ac = new AbortController();
    const err = await client()(dead, { method: 'GET', signal: ac.signal }).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('a server that destroys the socket mid-body makes read() reject with a coded error', async () => {
    const wrote = gate();
    const s = await serve((req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write('only-part');
      wrote.opened.then(() => req.socket.destroy());
    });
    const r = await client()(s.url, { method: 'GET' });
    const reader = r.body!.getReader();
    expect(decode((await reader.read()).value)).toBe('only-part');
    const next = reader.read();
    wrote.open();
    const err = await next.catch((e: unknown) => e);
    expect(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE']).toContain((err as NodeJS.ErrnoException).code);
  });

  it('rejects protocols other than http: and https:', async () => {
    const err = await client()('ftp://127.0.0.1/x', { method: 'GET' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as NodeJS.ErrnoException).code).toBe('ERR_INVALID_PROTOCOL');
  });
});

describe('connection pool', () => {
  it('sequential requests reuse one keep-alive connection', async () => {
    const s = await serve((_req, res) => res.end('x'));
    const f = client();
    for (let i = 0; i < 5; i++) expect(await (await f(s.url, { method: 'GET' })).text()).toBe('x');
    expect(s.requests).toBe(5);
    expect(s.connections).toBe(1);
  });

  it('300 concurrent requests with maxSockets 8 open at most 8 connections and all succeed', async () => {
    const s = await serve(async (req, res) => res.end(await readBody(req)));
    const f = client({ maxSockets: 8 });
    const texts = await Promise.all(Array.from({ length: 300 }, async (_, i) => (await f(s.url, { method: 'POST', body: `#${i}` })).text()));
    expect(texts).toEqual(Array.from({ length: 300 }, (_, i) => `#${i}`));
    expect(s.connections).toBeLessThanOrEqual(8);
    expect(s.requests).toBe(300);
  });

  it('a request aborted while queued for a socket rejects at once and does not take a slot', async () => {
    const release = gate();
    const s = await serve(async (req, res) => {
      if (req.url === '/slow') await release.opened;
      res.end(req.url);
    });
    const f = client({ maxSockets: 1 });
    const slow = f(`${s.url}/slow`, { method: 'GET' });
    const ac = new AbortController();
    const queued = f(`${s.url}/queued`, { method: 'GET', signal: ac.signal });
    const reason = new DOMException('gave up', 'TimeoutError');
    ac.abort(reason);
    await expect(queued).rejects.toBe(reason); // while /slow still holds the only socket
    release.open();
    expect(await (await slow).text()).toBe('/slow');
    expect(await (await f(`${s.url}/next`, { method: 'GET' })).text()).toBe('/next');
    expect(s.requests).toBe(2);
    expect(s.connections).toBe(1);
  });

  it('close() destroys the pooled sockets', async () => {
    const s = await serve((_req, res) => res.end('x'));
    const f = client();
    await (await f(s.url, { method: 'GET' })).text();
    expect(s.sockets[0]!.destroyed).toBe(false);
    f.close();
    await closed(s.sockets[0]!);
  });
});

describe('stale keep-alive sockets', () => {
  /** Drops the second request on the first connection without answering, as a server that closed an idle socket does. */
  async function dropSecondOnFirst(answer: (res: ServerResponse) => void = (res) => res.end('fine')) {
    const bodies: string[] = [];
    const perSocket = new Map<Socket, number>();
    const s = await serve(async (req, res, rec) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      bodies.push((await readBody(req)).toString());
      if (req.socket === rec.sockets[0] && n === 2) req.socket.destroy();
      else answer(res);
    });
    return { s, bodies };
  }

  it('a request that fails on a reused socket before any response is retried once on a fresh connection', async () => {
    const { s, bodies } = await dropSecondOnFirst();
    const f = client();
    expect(await (await f(s.url, { method: 'POST', body: 'one' })).text()).toBe('fine');
    const r = await f(s.url, { method: 'POST', body: 'twö' });
    expect(await r.text()).toBe('fine');
    expect(s.connections).toBe(2);
    expect(bodies).toEqual(['one', 'twö', 'twö']);
  });

  it('a request whose retry fails too is reported, not retried again', async () => {
    const s = await serve((req, res, rec) => (rec.requests === 1 ? res.end('first') : req.socket.destroy()));
    const f = client();
    expect(await (await f(s.url, { method: 'POST', body: 'one' })).text()).toBe('first');
    const err = await f(s.url, { method: 'POST', body: 'two' }).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(s.requests).toBe(3);
  });

  it('a failure on a fresh socket is not retried', async () => {
    const s = await serve((req) => req.socket.destroy());
    const err = await client()(s.url, { method: 'POST', body: 'x' }).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(s.requests).toBe(1);
  });

  it('a reused socket that breaks after the response started is not retried', async () => {
    const s = await serve((req, res, rec) => {
      if (rec.requests === 1) return res.end('first');
      res.writeHead(200, { 'content-length': 100 });
      res.write('part', () => req.socket.destroy());
    });
    const f = client();
    await (await f(s.url, { method: 'GET' })).text();
    const r = await f(s.url, { method: 'GET' });
    const err = await r.text().catch((e: unknown) => e);
    expect(typeof (err as NodeJS.ErrnoException).code).toBe('string');
    expect(s.requests).toBe(2);
    expect(s.connections).toBe(1);
  });
});

describe('a long-lived signal shared by many requests', () => {
  it('1,000 sequential requests leave no abort listener behind and raise no MaxListenersExceededWarning', async () => {
    const s = await serve((_req, res) => res.end('x'));
    const f = client();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const ac = new AbortController();
    let most = 0;
    for (let i = 0; i < 1000; i++) {
      const r: HttpResponse = await f(s.url, { method: 'GET', signal: ac.signal });
      most = Math.max(most, getEventListeners(ac.signal, 'abort').length);
      if (i % 2) await r.text();
      else await r.body!.cancel();
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    }
    expect(most).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});

describe('https', () => {
  /** An https server on 127.0.0.1 with a throwaway self-signed certificate, and the certificate's path. */
  async function serveTls() {
    const dir = await mkdtemp(join(tmpdir(), 'node-http-tls-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const tls = selfSignedCert(dir);
    const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => res.end(`tls ${req.method}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return { dir, certFile: tls.certFile, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/` };
  }

  it('verifies certificates: an untrusted self-signed one rejects with its TLS code', async () => {
    const { url } = await serveTls();
    const err = await client()(url, { method: 'GET' }).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('trusts a certificate named by NODE_EXTRA_CA_CERTS with no option of its own (child process)', async () => {
    const { dir, certFile, url } = await serveTls();
    // NODE_EXTRA_CA_CERTS is read once at process start, so the module runs in a child node.
    for (const name of ['node-http', 'node-body']) {
      const source = await readFile(new URL(`../../src/http/${name}.ts`, import.meta.url), 'utf8');
      const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      await writeFile(join(dir, `${name}.mjs`), js.replaceAll("from './node-body.js'", "from './node-body.mjs'"));
    }
    const script = `import { createNodeHttpFetch } from './node-http.mjs';
const f = createNodeHttpFetch();
try { const r = await f(process.argv[2], { method: 'POST', body: '{}' }); console.log(JSON.stringify({ status: r.status, text: await r.text() })); }
catch (e) { console.log(JSON.stringify({ code: e.code })); }
f.close();`;
    await writeFile(join(dir, 'child.mjs'), script);
    const run = async (env: NodeJS.ProcessEnv) => {
      const child: ChildProcess = spawn(process.execPath, [join(dir, 'child.mjs'), url], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      cleanups.push(() => child.exitCode === null && child.kill());
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      await once(child, 'exit');
      return JSON.parse(out) as unknown;
    };
    const { NODE_EXTRA_CA_CERTS: _, ...env } = process.env;
    expect(await run(env)).toEqual({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(await run({ ...env, NODE_EXTRA_CA_CERTS: certFile })).toEqual({ status: 200, text: 'tls POST' });
  });
});
