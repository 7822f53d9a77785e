import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { createSseParser, type SseEvent } from '../../src/http/sse-bytes.js';

interface Seen {
  event: string | undefined;
  data: string;
  id: string | undefined;
}

/** Run the byte parser over `chunks`; events as strings, plus retries and the final last event ID. */
function bytesParse(chunks: Buffer[], maxLine = 1 << 20) {
  const events: Seen[] = [];
  const raw: SseEvent[] = [];
  const retries: number[] = [];
  const oversized: number[] = [];
  const p = createSseParser(
    {
      onEvent: (e) => {
        raw.push(e);
        events.push({ event: e.event, data: Buffer.concat(e.data).toString('utf8'), id: e.id });
      },
      onRetry: (ms) => retries.push(ms),
      onOversized: (n) => oversized.push(n),
    },
    maxLine,
  );
  for (const c of chunks) p.feed(c);
  return { events, raw, retries, oversized, lastEventId: p.lastEventId };
}

/** The reference: eventsource-parser fed the same stream as text. */
function referenceParse(chunks: Buffer[]) {
  const events: Seen[] = [];
  const retries: number[] = [];
  const decoder = new TextDecoder();
  // eventsource-parser reports each event's own id; the spec's last event ID carries over.
  let lastId: string | undefined;
  const p = createParser({
    onEvent: (e) => {
      if (e.id !== undefined) lastId = e.id;
      events.push({ event: e.event, data: e.data, id: lastId });
    },
    onRetry: (ms) => retries.push(ms),
  });
  for (const c of chunks) p.feed(decoder.decode(c, { stream: true }));
  return { events, retries };
}

/** Split `buf` at pseudo-random points (deterministic for a seed). */
function chunked(buf: Buffer, seed: number): Buffer[] {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = 1 + Math.floor(rand() * 9);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

const STREAMS: Record<string, string> = {
  'LF line ends': 'event: message\nid: 1\ndata: {"a":1}\n\nid: 2\ndata: {"b":2}\n\n',
  'CRLF line ends': 'id: 7\r\ndata: one\r\n\r\ndata: two\r\n\r\n',
  'lone CR line ends': 'data: cr\r\rdata: again\r\r: end\n',
  'mixed line ends': 'data: a\r\ndata: b\rdata: c\n\r\n',
  'multi-line data joined with LF': 'data: first\ndata: second\ndata:third\n\n',
  'no space after colon, two spaces kept': 'data:x\n\ndata:  y\n\n',
  'comments and unknown fields': ': keep-alive\nfoo: bar\ndata: z\n: more\n\n',
  'field without colon': 'data\n\ndata\ndata\n\n',
  'retry with digits only': 'retry: 1500\nretry: 15x\nretry: -1\ndata: r\n\n',
  'id with NULL ignored': 'id: good\ndata: 1\n\nid: b\u0000d\ndata: 2\n\n',
  'empty id resets': 'id: 5\ndata: 1\n\nid\ndata: 2\n\n',
  'custom event type': 'event: endpoint\ndata: /messages?x=1\n\nevent: message\ndata: m\n\n',
  'utf-8 multibyte data': 'data: {"text":"héllo — 日本語 🎉"}\n\n',
  'BOM at start': '\ufeffdata: bom\n\n',
  'priming event with empty data': 'id: p1\ndata:\n\ndata: real\n\n',
  'unterminated last event is dropped': 'data: complete\n\ndata: partial',
};

describe('createSseParser', () => {
  for (const [name, text] of Object.entries(STREAMS)) {
    it(`matches eventsource-parser: ${name}`, () => {
      const whole = Buffer.from(text);
      const expected = referenceParse([whole]);
      for (const chunks of [[whole], chunked(whole, 1), chunked(whole, 42), [...whole].map((b) => Buffer.from([b]))]) {
        const got = bytesParse(chunks);
        expect(got.events).toEqual(expected.events);
        expect(got.retries).toEqual(expected.retries);
      }
    });
  }

  it('reports whether data came from one line (safe for stdio) or several', () => {
    const { raw } = bytesParse([Buffer.from('data: {"x":1}\n\ndata: {"y":\ndata: 2}\n\n')]);
    expect(raw.map((e) => e.dataLines)).toEqual([1, 2]);
    expect(Buffer.concat(raw[1]!.data).toString()).toBe('{"y":\n2}');
  });

  it('keeps the last event ID of complete events only', () => {
    expect(bytesParse([Buffer.from('id: a\ndata: 1\n\nid: b\ndata: 2\n')]).lastEventId).toBe('a');
    // An id-only event counts at its blank line even though nothing is dispatched.
    expect(bytesParse([Buffer.from('id: a\ndata: 1\n\nid: c\n\n')]).lastEventId).toBe('c');
  });

  it('frames a multi-MiB line arriving in 64 KiB chunks without losing a byte', () => {
    const payload = Buffer.alloc(8 * 1024 * 1024 + 3, 'A');
    const stream = Buffer.concat([Buffer.from('id: 9\ndata: '), payload, Buffer.from('\n\n')]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 65536) chunks.push(stream.subarray(i, i + 65536));
    const { raw } = bytesParse(chunks, 16 * 1024 * 1024);
    expect(raw).toHaveLength(1);
    expect(Buffer.concat(raw[0]!.data).equals(payload)).toBe(true);
    expect(raw[0]!.dataBytes).toBe(payload.length);
    // Handed over as the network chunks, not copied into one buffer.
    expect(raw[0]!.data.length).toBe(chunks.length);
    expect(raw[0]!.data[1]!.buffer).toBe(chunks[1]!.buffer);
    expect(raw[0]!.id).toBe('9');
  });

  it('drops a line over the limit and its event, then carries on', () => {
    const long = 'x'.repeat(100);
    const { events, oversized } = bytesParse(chunked(Buffer.from(`id: 1\ndata: ${long}\n\ndata: after\n\n`), 3), 50);
    expect(oversized).toHaveLength(1);
    expect(events.map((e) => e.data)).toEqual(['after']);
    // The same when the long line arrives whole in one chunk.
    const whole = bytesParse([Buffer.from(`data: ${long}\ndata: tail\n\ndata: next\n\n`)], 50);
    expect(whole.events.map((e) => e.data)).toEqual(['next']);
  });

  it('accepts Uint8Array chunks (web streams) as well as Buffers', () => {
    const bytes = new TextEncoder().encode('data: u8\n\n');
    const { events } = bytesParse([bytes as unknown as Buffer]);
    expect(events.map((e) => e.data)).toEqual(['u8']);
  });
});
