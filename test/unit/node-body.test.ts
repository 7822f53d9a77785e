/**
 * Compressed answers through the node:http client (node-body.ts): asked for on remote hosts only,
 * decoded whenever a server sends them, streamed through the decoder, and reported when corrupt.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, constants, createGzip, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeHttpFetch, type NodeHttpOptions } from '../../src/http/node-http.js';

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** A loopback server; `seen` collects each request's accept-encoding, `connections` counts sockets. */
async function origin(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Array<string | undefined> = [];
  let connections = 0;
  const server = createServer((req, res) => {
    seen.push(req.headers['accept-encoding']);
    handle(req, res);
  }).on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stops.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, seen, connections: () => connections };
}

function fetcher(opts?: NodeHttpOptions) {
  const f = createNodeHttpFetch(opts);
  stops.push(() => f.close());
  return f;
}

/** Text that compresses, with multi-byte characters. */
const TEXT = Array.from({ length: 40_000 }, (_, i) => `line ${i}: héllo 日本 ${randomBytes(4).toString('hex')}\n`).join('');

const ENCODERS: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };

describe('compressed answers', () => {
  it('are asked for only off loopback by default, and when told to', async () => {
    const s = await origin((_req, res) => res.end('ok'));
    await (await fetcher()(s.url, { method: 'POST', body: '{}' })).text();
    await (await fetcher({ compress: true })(s.url, { method: 'POST', body: '{}' })).text();
    await (await fetcher({ compress: true })(s.url, { method: 'POST', body: '{}', headers: { 'Accept-Encoding': 'identity' } })).text();
    expect(s.seen).toEqual([undefined, 'gzip, deflate, br', 'identity']);
  });

  for (const [coding, encode] of Object.entries(ENCODERS)) {
    it(`${coding}: decoded intact, in chunks`, async () => {
      const packed = encode(Buffer.from(TEXT));
      const s = await origin((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': coding });
        for (let i = 0; i < packed.length; i += 1000) res.write(packed.subarray(i, i + 1000));
        res.end();
      });
      const res = await fetcher({ compress: true })(s.url, { method: 'POST', body: '{}' });
      expect(await res.text()).toBe(TEXT);
    });
  }

  it('a server that compresses without being asked is still understood', async () => {
    const s = await origin((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('unasked')));
    expect(await (await fetcher()(s.url, { method: 'GET' })).text()).toBe('unasked');
    expect(s.seen).toEqual([undefined]);
  });

  it('streams through the decoder: the first event is read before the server writes the second', async () => {
    let second: () => void = () => {};
    const s = await origin((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      const gz = createGzip();
      gz.pipe(res);
      gz.write('data: one\n\n');
      gz.flush(constants.Z_SYNC_FLUSH);
      second = () => gz.end('data: two\n\n');
    });
    const res = await fetcher({ compress: true })(s.url, { method: 'GET' });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString()).toBe('data: one\n\n');
    second();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value!).toString();
    expect(rest).toBe('data: two\n\n');
  });

  it("a corrupt compressed body fails the read with zlib's code, not a hang", async () => {
    const s = await origin((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(Buffer.from('this is not gzip at all')));
    const res = await fetcher()(s.url, { method: 'GET' });
    const err = (await res.text().catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toMatch(/^Z_/);
  });

  it('cancelling a compressed body that has fully arrived keeps the connection for the next request', async () => {
    const s = await origin((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('done')));
    const f = fetcher();
    for (let i = 0; i < 3; i++) {
      const res = await f(s.url, { method: 'POST', body: '{}' });
      // Wait until the whole body has arrived, as a 202 or a finished answer has.
      await new Promise((r) => setImmediate(r));
      await res.body!.cancel();
    }
    expect(s.connections()).toBe(1);
  });
});
