import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import {
  asMessage,
  errorResponse,
  INVALID_REQUEST,
  isNotification,
  isRequest,
  isResponse,
  PARSE_ERROR,
  type JsonRpcMessage,
} from '../../src/jsonrpc/messages.js';
import { StdioHost, type StdioHostOptions } from '../../src/relay/stdio.js';

/** Let stream events scheduled on nextTick / microtasks run. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function harness(opts?: StdioHostOptions) {
  const input = new PassThrough();
  const output = new PassThrough();
  const received: { msg: JsonRpcMessage; raw: string }[] = [];
  let closes = 0;
  let onClose: () => void = () => {};
  const closed = new Promise<void>((resolve) => (onClose = resolve));
  const host = new StdioHost(
    input,
    output,
    {
      message: (msg, raw) => received.push({ msg, raw }),
      close: () => {
        closes++;
        onClose();
      },
    },
    silentLogger(),
    opts,
  );
  host.start();
  let text = '';
  return {
    input,
    output,
    host,
    received,
    closed,
    closes: () => closes,
    /** Everything written to the host so far (the output side is paused, so reads are synchronous). */
    written(): string {
      let chunk: Buffer | null;
      while ((chunk = output.read() as Buffer | null) !== null) text += chunk.toString('utf8');
      return text;
    },
    /** The written lines parsed; fails if any line is not JSON. */
    lines(): JsonRpcMessage[] {
      const all = this.written();
      expect(all === '' || all.endsWith('\n')).toBe(true);
      return all
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as JsonRpcMessage);
    },
    /** End stdin and wait for the close event: every chunk written before has been handled. */
    async finish() {
      input.end();
      await closed;
    },
  };
}

const ping = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' });

describe('StdioHost reading', () => {
  it('joins a message split across chunks, and hands over the raw line', async () => {
    const h = harness();
    const line = ping(1);
    h.input.write(line.slice(0, 7));
    await tick();
    h.input.write(line.slice(7, 20));
    await tick();
    expect(h.received).toEqual([]);
    h.input.write(`${line.slice(20)}\n`);
    await h.finish();
    expect(h.received).toEqual([{ msg: { jsonrpc: '2.0', id: 1, method: 'ping' }, raw: line }]);
  });

  it('splits several messages in one chunk, in order', async () => {
    const h = harness();
    h.input.write(`${ping(1)}\n${ping(2)}\n${ping(3)}\n${ping(4).slice(0, 5)}`);
    h.input.write(`${ping(4).slice(5)}\n`);
    await h.finish();
    expect(h.received.map((r) => r.msg.id)).toEqual([1, 2, 3, 4]);
    expect(h.written()).toBe('');
  });

  it('accepts CRLF line endings and strips the CR from the raw text', async () => {
    const h = harness();
    h.input.write(`${ping(1)}\r\n${ping(2)}\r`);
    h.input.write(`\n`);
    await h.finish();
    expect(h.received).toEqual([
      { msg: { jsonrpc: '2.0', id: 1, method: 'ping' }, raw: ping(1) },
      { msg: { jsonrpc: '2.0', id: 2, method: 'ping' }, raw: ping(2) },
    ]);
  });

  it('ignores blank and whitespace-only lines without answering', async () => {
    const h = harness();
    h.input.write(`\n\r\n   \n\t\n${ping(1)}\n\n`);
    await h.finish();
    expect(h.received.map((r) => r.msg.id)).toEqual([1]);
    expect(h.written()).toBe('');
  });

  it('decodes a multi-byte character split across chunks', async () => {
    const h = harness();
    const line = Buffer.from(`${JSON.stringify({ jsonrpc: '2.0', method: 'note', params: { text: 'é€😀' } })}\n`);
    const cut = line.indexOf(Buffer.from('€')) + 1; // inside the 3-byte sequence
    h.input.write(line.subarray(0, cut));
    await tick();
    h.input.write(line.subarray(cut));
    await h.finish();
    expect(h.received[0]!.msg.params).toEqual({ text: 'é€😀' });
    expect(h.written()).toBe('');
  });

  it('answers a line that is not JSON with -32700 and id null, and carries on', async () => {
    const h = harness();
    h.input.write(`{"jsonrpc":"2.0","id":1,"method":\n${ping(2)}\n`);
    await h.finish();
    const [answer, ...rest] = h.lines();
    expect(rest).toEqual([]);
    expect(answer).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: PARSE_ERROR } });
    expect(answer!.error!.message).toMatch(/not valid JSON/);
    expect(h.received.map((r) => r.msg.id)).toEqual([2]);
  });

  it('answers a line that is not valid UTF-8 with -32700', async () => {
    const h = harness();
    h.input.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"x","params":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]));
    h.input.write(`${ping(2)}\n`);
    await h.finish();
    const answers = h.lines();
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ id: null, error: { code: PARSE_ERROR } });
    expect(answers[0]!.error!.message).toMatch(/UTF-8/);
    expect(h.received.map((r) => r.msg.id)).toEqual([2]);
  });

  it.each([['42'], ['"text"'], ['null'], ['true'], ['[]'], [`[${ping(1)}]`], ['{"jsonrpc":"1.0","method":"x"}'], ['{}']])(
    'answers valid JSON that is not a JSON-RPC 2.0 object (%s) with -32600 and id null',
    async (line) => {
      const h = harness();
      h.input.write(`${line}\n`);
      await h.finish();
      expect(h.received).toEqual([]);
      const answers = h.lines();
      expect(answers).toHaveLength(1);
      expect(answers[0]).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: INVALID_REQUEST } });
    },
  );

  it('answers -32600 with the request id when one can be read, so the host request does not hang', async () => {
    const h = harness();
    h.input.write('{"id":7,"method":"tools/list"}\n{"jsonrpc":"2.0 ","id":"abc","method":"x"}\n');
    await h.finish();
    expect(h.lines().map((a) => [a.id, a.error?.code])).toEqual([
      [7, INVALID_REQUEST],
      ['abc', INVALID_REQUEST],
    ]);
  });

  it('answers -32600 with id null for a response-shaped object, never with an id the host may be using', async () => {
    const h = harness();
    h.input.write('{"id":7,"result":{}}\n');
    await h.finish();
    expect(h.lines()).toMatchObject([{ id: null, error: { code: INVALID_REQUEST } }]);
  });

  it('drops a malformed response (there is no request to answer) and answers nothing', async () => {
    const h = harness();
    h.input.write('{"jsonrpc":"2.0","id":{"x":1},"result":{}}\n{"jsonrpc":"2.0","id":3,"result":{},"error":{"code":1,"message":"m"}}\n');
    await h.finish();
    expect(h.received).toEqual([]);
    expect(h.lines()).toEqual([]);
  });

  it('delivers a 5 MiB message arriving in 64 KiB chunks once and intact', async () => {
    const h = harness();
    const payload = 'x'.repeat(5 * 1024 * 1024);
    const line = JSON.stringify({ jsonrpc: '2.0', id: 'big', method: 'tools/call', params: { data: payload, tail: 'é' } });
    const bytes = Buffer.from(`${line}\n`);
    const CHUNK = 64 * 1024;
    for (let off = 0; off < bytes.length; off += CHUNK) h.input.write(bytes.subarray(off, off + CHUNK));
    await h.finish();
    expect(h.received).toHaveLength(1);
    const [{ msg, raw }] = h.received as [{ msg: JsonRpcMessage; raw: string }];
    expect(raw === line).toBe(true);
    expect(msg.id).toBe('big');
    expect((msg.params as { data: string }).data.length).toBe(payload.length);
    expect((msg.params as { tail: string }).tail).toBe('é');
    expect(h.written()).toBe('');
  });

  it('refuses a line over the size limit with -32700 and reads the next line normally', async () => {
    const h = harness({ maxMessageBytes: 1024 });
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: 'y'.repeat(3000) });
    h.input.write(big.slice(0, 1500));
    h.input.write(`${big.slice(1500)}\n${ping(2)}\n`);
    await h.finish();
    const answers = h.lines();
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ id: null, error: { code: PARSE_ERROR } });
    expect(answers[0]!.error!.message).toMatch(/larger than 1024 bytes/);
    expect(h.received.map((r) => r.msg.id)).toEqual([2]);
  });

  it('a line exactly at the size limit is accepted', async () => {
    const base = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: '' });
    const line = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: 'p'.repeat(200 - base.length) });
    expect(Buffer.byteLength(line)).toBe(200);
    const h = harness({ maxMessageBytes: 200 });
    h.input.write(`${line}\n`);
    await h.finish();
    expect(h.received.map((r) => r.raw)).toEqual([line]);
  });
});

describe('StdioHost lifecycle', () => {
  it('stdin end fires close exactly once, even if stdin then errors and closes', async () => {
    const h = harness();
    await h.finish();
    h.input.destroy(new Error('late failure'));
    await tick();
    expect(h.closes()).toBe(1);
  });

  it('a stdin error is the host going away: close once', async () => {
    const h = harness();
    h.input.destroy(new Error('EIO'));
    await h.closed;
    await tick();
    expect(h.closes()).toBe(1);
  });

  it('a final line without a newline at stdin end is still delivered, before close', async () => {
    const order: string[] = [];
    const input = new PassThrough();
    const host = new StdioHost(
      input,
      new PassThrough(),
      { message: (m) => order.push(`message ${String(m.id)}`), close: () => order.push('close') },
      silentLogger(),
    );
    host.start();
    input.end(`${ping(1)}\n${ping(2)}`);
    await tick();
    await tick();
    expect(order).toEqual(['message 1', 'message 2', 'close']);
  });

  it('after stdin ends, answers still reach the host (it may still be reading stdout)', async () => {
    const h = harness();
    await h.finish();
    h.host.send({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'mcp-relay: request not completed' } });
    expect(h.lines()).toEqual([{ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'mcp-relay: request not completed' } }]);
  });

  it('a stdout error (EPIPE) closes once and later sends write nothing and do not throw', async () => {
    const h = harness();
    h.output.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await h.closed;
    expect(h.closes()).toBe(1);
    expect(() => h.host.send({ jsonrpc: '2.0', id: 1, result: {} })).not.toThrow();
    expect(h.written()).toBe('');
  });
});

describe('StdioHost.send', () => {
  it('writes exactly one line per message', () => {
    const h = harness();
    h.host.send({ jsonrpc: '2.0', id: 1, result: { ok: true } });
    h.host.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } });
    expect(h.written()).toBe('{"jsonrpc":"2.0","id":1,"result":{"ok":true}}\n{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n');
  });

  it('forwards the raw text as is when it holds no line break', () => {
    const h = harness();
    const raw = '{ "jsonrpc": "2.0", "id": 1, "result": {"a": 1} }';
    h.host.send(JSON.parse(raw) as JsonRpcMessage, raw);
    expect(h.written()).toBe(`${raw}\n`);
  });

  it.each([
    ['LF', '{"jsonrpc":"2.0",\n"id":1,"result":{}}'],
    ['CRLF', '{"jsonrpc":"2.0",\r\n"id":1,"result":{}}'],
    // Node's readline (which many hosts use) also ends a line at a lone CR.
    ['CR', '{"jsonrpc":"2.0",\r"id":1,"result":{}}'],
  ])('re-serialises a raw text containing %s so the host sees one line', (_name, raw) => {
    const h = harness();
    const msg = JSON.parse(raw) as JsonRpcMessage;
    h.host.send(msg, raw);
    expect(h.written()).toBe(`${JSON.stringify(msg)}\n`);
  });

  it('writes byte segments (a large answer as it arrived) as one line, untouched', () => {
    const h = harness();
    const raw = '{"jsonrpc":"2.0","id":7,"result":{"text":"héllo 日本"}}';
    const bytes = Buffer.from(raw);
    h.host.send(JSON.parse(raw) as JsonRpcMessage, [bytes.subarray(0, 5), bytes.subarray(5, 31), bytes.subarray(31)]);
    h.host.send(JSON.parse(raw) as JsonRpcMessage, new Uint8Array(bytes));
    expect(h.written()).toBe(`${raw}\n${raw}\n`);
  });

  it('re-serialises byte segments that hold a line break', () => {
    const h = harness();
    const raw = '{"jsonrpc":"2.0",\r\n"id":8,"result":{}}';
    const msg = JSON.parse(raw) as JsonRpcMessage;
    h.host.send(msg, [Buffer.from(raw.slice(0, 17)), Buffer.from(raw.slice(17))]);
    expect(h.written()).toBe(`${JSON.stringify(msg)}\n`);
  });

  it('calls afterLargeWrite once a message of 1 MiB or more has been written, not for smaller ones', async () => {
    let calls = 0;
    const h = harness({ afterLargeWrite: () => calls++ });
    const small = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { t: 'x'.repeat(1000) } }));
    const large = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 2, result: { t: 'x'.repeat(1024 * 1024) } }));
    h.host.send({ jsonrpc: '2.0', id: 1, result: {} }, [small]);
    h.host.send({ jsonrpc: '2.0', id: 2, result: {} }, [large.subarray(0, 1000), large.subarray(1000)]);
    expect(h.lines().map((m) => m.id)).toEqual([1, 2]);
    await tick();
    expect(calls).toBe(1);
  });

  it('escapes line separators inside strings (JSON.stringify keeps them in the string)', () => {
    const h = harness();
    h.host.send({ jsonrpc: '2.0', id: 1, result: { text: 'a\nb\r\nc' } });
    const out = h.written();
    expect(out.split('\n')).toHaveLength(2);
    expect(out.includes('\r')).toBe(false);
    expect(h.lines()[0]!.result).toEqual({ text: 'a\nb\r\nc' });
  });
});

describe('jsonrpc classifiers', () => {
  const m = (v: object) => asMessage({ jsonrpc: '2.0', ...v })!;

  it('asMessage accepts only objects with jsonrpc "2.0"', () => {
    expect(asMessage({ jsonrpc: '2.0', id: 1, method: 'x' })).toBeDefined();
    for (const v of [null, 1, 'x', [], [{ jsonrpc: '2.0' }], { id: 1, method: 'x' }, { jsonrpc: 2 }]) expect(asMessage(v)).toBeUndefined();
  });

  it('tells requests, notifications and responses apart', () => {
    expect([isRequest(m({ id: 1, method: 'ping' })), isNotification(m({ id: 1, method: 'ping' })), isResponse(m({ id: 1, method: 'ping' }))]).toEqual([
      true,
      false,
      false,
    ]);
    expect([isRequest(m({ id: 'a', method: 'ping' })), isResponse(m({ id: 'a', result: {} }))]).toEqual([true, true]);
    expect([isRequest(m({ method: 'notifications/initialized' })), isNotification(m({ method: 'notifications/initialized' }))]).toEqual([false, true]);
    expect(isResponse(m({ id: 0, error: { code: 1, message: 'x' } }))).toBe(true);
    expect(isResponse(m({ id: null, error: { code: PARSE_ERROR, message: 'x' } }))).toBe(false);
    expect(isResponse(m({ id: 1 }))).toBe(false);
    expect(isRequest(m({ id: null, method: 'x' }))).toBe(false);
  });

  it('errorResponse includes data only when given', () => {
    expect(errorResponse(1, -32000, 'm')).toEqual({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'm' } });
    expect(errorResponse(null, -32000, 'm', { a: 1 })).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'm', data: { a: 1 } } });
  });
});
