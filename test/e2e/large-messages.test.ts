/**
 * Large answers take the relay's byte path (sse-bytes.ts + json-bytes.ts: framed as bytes, the id
 * found by a scan, the bytes written to stdout as they came). These drive the built relay against
 * a scripted server that writes answers byte by byte the way real servers may: odd chunk sizes,
 * the id last, strings full of escapes, JSON bodies, pretty-printed JSON, data split over several
 * lines, and broken or cut-off large events. The host must get every answer intact, each on one
 * line, and never a line it cannot parse.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { INIT, killAll, spawnRelay, tempHome, type RawRelay } from '../helpers/relay.js';

const servers: Array<{ server: Server; sockets: Set<Socket> }> = [];
afterEach(async () => {
  await killAll();
  for (const { server, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

/** A text of about `n` characters holding everything JSON has to escape, plus multi-byte UTF-8. */
function tricky(n: number): string {
  const unit = 'plain "quoted" back\\slash \\" tab\t newline\n cr\r unicode é日本🎉 \u2028\u2029 nul\u0000 end. ';
  return unit.repeat(Math.ceil(n / unit.length));
}

const TEXT = tricky(1024 * 1024);
const answer = (id: unknown, text = TEXT) => ({ result: { content: [{ type: 'text', text }] }, jsonrpc: '2.0', id });

/** Write `bytes` in chunks of an awkward size, so lines and UTF-8 sequences straddle chunks. */
function dribble(res: ServerResponse, bytes: Buffer, size = 7777): void {
  for (let i = 0; i < bytes.length; i += size) res.write(bytes.subarray(i, i + size));
}

type Script = (msg: { id: unknown; params: { name: string } }, res: ServerResponse, req: IncomingMessage) => void;

const SCRIPTS: Record<string, Script> = {
  'sse-big': (msg, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    dribble(res, Buffer.from(`event: message\nid: 1\ndata: ${JSON.stringify(answer(msg.id))}\n\n`));
    res.end();
  },
  'json-big': (msg, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    dribble(res, Buffer.from(JSON.stringify(answer(msg.id))));
    res.end();
  },
  'json-pretty': (msg, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer(msg.id), null, 2));
  },
  'sse-multiline': (msg, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // The same JSON pretty-printed, one data line per line of JSON (joined with LF by the reader).
    const lines = JSON.stringify(answer(msg.id), null, 1).split('\n');
    res.end(`${lines.map((l) => `data: ${l}`).join('\n')}\n\n`);
  },
  'sse-notify-then-answer': (msg, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const note = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: TEXT } };
    dribble(res, Buffer.from(`data: ${JSON.stringify(note)}\n\ndata: ${JSON.stringify(answer(msg.id, 'small'))}\n\n`));
    res.end();
  },
  'sse-gzip': (msg, res) => {
    // Compressed although the relay (on loopback) did not ask: still understood.
    res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
    dribble(res, gzipSync(`event: message\nid: 1\ndata: ${JSON.stringify(answer(msg.id))}\n\n`));
    res.end();
  },
  'sse-flood': (msg, res) => {
    // 48 notifications of 512 KiB, then the answer, written as fast as the relay takes them.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = 'z'.repeat(512 * 1024);
    let i = 0;
    const more = () => {
      while (i < 48) {
        const note = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: { i, chunk } } };
        i++;
        if (!res.write(`data: ${JSON.stringify(note)}\n\n`)) return void res.once('drain', more);
      }
      res.end(`data: ${JSON.stringify(answer(msg.id, 'after the flood'))}\n\n`);
    };
    floodStarted();
    more();
  },
  'sse-cut-off': (msg, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = Buffer.from(`data: ${JSON.stringify(answer(msg.id))}\n\n`);
    res.write(event.subarray(0, event.length >> 1), () => res.destroy());
  },
  'sse-broken-json': (msg, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // A large event that is not one JSON value: the brackets do not match.
    const broken = `{"jsonrpc":"2.0","id":${JSON.stringify(msg.id)},"result":{"content":[{"type":"text","text":${JSON.stringify(TEXT)}}]]}`;
    res.end(`data: ${broken}\n\n`);
  },
};

let floodStarted: () => void = () => {};

async function scriptedServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const msg = JSON.parse(Buffer.concat(parts).toString()) as { id?: unknown; method?: string; params: { name: string } };
      if (msg.id === undefined) return void res.writeHead(202).end();
      const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (msg.method === 'initialize') {
        return json({
          jsonrpc: '2.0',
          id: msg.id,
          result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'scripted', version: '1' } },
        });
      }
      const script = msg.method === 'tools/call' ? SCRIPTS[msg.params.name] : undefined;
      if (!script) return json({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } });
      script(msg as { id: unknown; params: { name: string } }, res, req);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push({ server, sockets });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

async function started(): Promise<RawRelay> {
  const relay = spawnRelay([await scriptedServer()], { home: await tempHome() });
  relay.send(INIT(0));
  await relay.waitFor((m) => m.id === 0);
  relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return relay;
}

const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
type Answer = { id: number; result?: { content: Array<{ text: string }> }; error?: { message: string } };

/** Every line the relay wrote is one JSON value (the host's parser would choke on anything else). */
function expectEveryLineParses(relay: RawRelay): void {
  for (const line of relay.lines) expect(() => JSON.parse(line)).not.toThrow();
}

describe('large answers on the byte path', () => {
  for (const name of ['sse-big', 'json-big', 'json-pretty', 'sse-multiline', 'sse-gzip']) {
    it(`${name}: a 1 MiB answer full of escapes and multi-byte text arrives intact on one line`, async () => {
      const relay = await started();
      relay.send(call(7, name));
      const got = (await relay.waitFor((m) => m.id === 7)) as Answer;
      expect(got.error).toBeUndefined();
      expect(got.result!.content[0]!.text === TEXT).toBe(true);
      expectEveryLineParses(relay);
    });
  }

  it('a large notification before the answer: both arrive, in order, intact', async () => {
    const relay = await started();
    relay.send(call(8, 'sse-notify-then-answer'));
    await relay.waitFor((m) => m.id === 8);
    const messages = relay.lines.map((l) => JSON.parse(l) as { id?: number; method?: string; params?: { data: string } });
    const note = messages.findIndex((m) => m.method === 'notifications/message');
    expect(note).toBeGreaterThan(-1);
    expect(messages[note]!.params!.data === TEXT).toBe(true);
    expect(messages.findIndex((m) => m.id === 8)).toBeGreaterThan(note);
  });

  it('a host that stops reading stdout during a flood loses nothing: every message arrives, in order, when it reads again', async () => {
    const relay = await started();
    const flooding = new Promise<void>((resolve) => (floodStarted = resolve));
    relay.child.stdout.pause();
    relay.send(call(11, 'sse-flood'));
    await flooding;
    // The host is busy for a while: the relay stops taking the server's stream meanwhile.
    await new Promise((r) => setTimeout(r, 300));
    relay.child.stdout.resume();
    const got = (await relay.waitFor((m) => m.id === 11)) as Answer;
    expect(got.result!.content[0]!.text).toBe('after the flood');
    const order = relay.lines
      .map((l) => JSON.parse(l) as { method?: string; params?: { data: { i: number; chunk: string } } })
      .filter((m) => m.method === 'notifications/message')
      .map((m) => (m.params!.data.chunk.length === 512 * 1024 ? m.params!.data.i : -1));
    expect(order).toEqual(Array.from({ length: 48 }, (_, i) => i));
  });

  it('a large answer cut off mid-line: the host gets an error answer, never the broken half', async () => {
    const relay = await started();
    relay.send(call(9, 'sse-cut-off'));
    const got = (await relay.waitFor((m) => m.id === 9)) as Answer;
    expect(got.result).toBeUndefined();
    expect(got.error!.message).toMatch(/before answering this request/);
    expectEveryLineParses(relay);
  });

  it('a large event that is not valid JSON is dropped with a warning, and the request still gets an answer', async () => {
    const relay = await started();
    relay.send(call(10, 'sse-broken-json'));
    const got = (await relay.waitFor((m) => m.id === 10)) as Answer;
    expect(got.error!.message).toMatch(/closed the stream before answering/);
    // stderr is another pipe: the warning may land just after the answer.
    await expect.poll(() => relay.stderr(), { timeout: 10_000 }).toMatch(/not JSON; ignored/);
    expectEveryLineParses(relay);
  });
});
