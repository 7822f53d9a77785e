import { describe, expect, it } from 'vitest';
import { decodeMessages, LARGE_MESSAGE_BYTES, scanMessage } from '../../src/jsonrpc/json-bytes.js';
import { isResponse } from '../../src/jsonrpc/messages.js';

const big = (n = LARGE_MESSAGE_BYTES) => 'A'.repeat(n);
const buf = (value: unknown) => Buffer.from(JSON.stringify(value));
/** `bytes` cut into segments of `size` (a large answer arrives in network chunks). */
const cut = (bytes: Buffer, size: number) => Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));

describe('scanMessage', () => {
  it('finds id, jsonrpc and method wherever they are (the SDK writes the id last)', () => {
    const msg = scanMessage([buf({ result: { content: [{ type: 'text', text: big(1000) }] }, jsonrpc: '2.0', id: 42 })]);
    expect(msg).toBeDefined();
    expect(msg!.id).toBe(42);
    expect(msg!.jsonrpc).toBe('2.0');
    expect(isResponse(msg!)).toBe(true);
    const note = scanMessage([buf({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } })]);
    expect(note!.method).toBe('notifications/progress');
    expect(note!.id).toBeUndefined();
  });

  it('parses result and params only when read, and then in full', () => {
    const value = { jsonrpc: '2.0', id: 'x', result: { nested: [1, 2, { deep: 'v"al\\ue' }], s: 'é日本' } };
    const msg = scanMessage([buf(value)])!;
    expect(msg.result).toEqual(value.result);
    expect(JSON.parse(JSON.stringify(msg))).toEqual(value);
    expect({ ...msg }).toEqual(value);
    msg.result = 5;
    expect(msg.result).toBe(5);
  });

  it('reads keys written with escapes, strings with escaped quotes and backslashes, and the last duplicate', () => {
    const text = '{"\\u0069d": 1, "result": {"t": "a\\"b\\\\", "u": "\\\\\\""}, "jsonrpc": "2.0", "id": "last"}';
    expect(JSON.parse(text)).toBeDefined();
    const msg = scanMessage([Buffer.from(text)])!;
    expect(msg.id).toBe('last');
    expect(msg.result).toEqual(JSON.parse(text).result);
  });

  it('takes whitespace anywhere JSON allows it', () => {
    const text = ' \n{ "jsonrpc" : "2.0" ,\t"id" : 3 , "result" : [ 1 , { } , [ ] , "s" , null , true , -1.5e3 ] }\r\n ';
    expect(scanMessage([Buffer.from(text)])!.result).toEqual(JSON.parse(text).result);
  });

  it('reads a message cut into segments anywhere: inside keys, escapes, numbers and between brackets', () => {
    const value = { result: { list: [1, -2.5e3, true, null, { 'k"ey': 'v\\"\\' }], text: 'é日本🎉 "q" \\ \n'.repeat(50) }, jsonrpc: '2.0', id: 'seg-1' };
    const bytes = buf(value);
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const msg = scanMessage(cut(bytes, size));
      expect(msg?.id).toBe('seg-1');
      expect(msg!.result).toEqual(value.result);
    }
  });

  it('segments change nothing about what is refused', () => {
    for (const size of [1, 5]) {
      expect(scanMessage(cut(Buffer.from('{"jsonrpc":"2.0","id":1,"result":"abc\\"}'), size))).toBeUndefined();
      expect(scanMessage(cut(Buffer.from('{"jsonrpc":"2.0","id":1,"result":[1,2}'), size))).toBeUndefined();
    }
  });

  it('stays linear on text dense with escapes (a JSON document inside a string)', () => {
    const inner = JSON.stringify({ a: 'x'.repeat(10), b: ['"', '\\'] }).repeat(20_000);
    const bytes = buf({ jsonrpc: '2.0', id: 5, result: { text: inner } });
    expect(bytes.length).toBeGreaterThan(LARGE_MESSAGE_BYTES);
    expect(scanMessage(cut(bytes, 65536))!.id).toBe(5);
  });

  const broken: Record<string, string> = {
    truncated: '{"jsonrpc":"2.0","id":1,"result":{"a":[1,2',
    'unterminated string': '{"jsonrpc":"2.0","id":1,"result":"abc',
    'mismatched brackets': '{"jsonrpc":"2.0","id":1,"result":{"a":[1,2}]}',
    'trailing garbage': '{"jsonrpc":"2.0","id":1,"result":{}} x',
    'two objects': '{"jsonrpc":"2.0","id":1,"result":{}}{"jsonrpc":"2.0","id":2,"result":{}}',
    'missing comma': '{"jsonrpc":"2.0" "id":1,"result":{}}',
    'missing colon': '{"jsonrpc":"2.0","id" 1,"result":{}}',
    'trailing comma in array': '{"jsonrpc":"2.0","id":1,"result":[1,]}',
    'trailing comma in object': '{"jsonrpc":"2.0","id":1,"result":{"a":1,}}',
    'key without value': '{"jsonrpc":"2.0","id":1,"result":{"a"}}',
    'bad id': '{"jsonrpc":"2.0","id":01x,"result":{}}',
    'bad literal': '{"jsonrpc":"2.0","id":1,"result":[tru$]}',
    'escaped closing quote': '{"jsonrpc":"2.0","id":1,"result":"abc\\"}',
    'array at the top': '[{"jsonrpc":"2.0","id":1,"result":{}}]',
    'not JSON-RPC 2.0': '{"jsonrpc":"1.0","id":1,"result":{}}',
    'empty object': '{}',
  };
  for (const [name, text] of Object.entries(broken)) {
    it(`cannot vouch for: ${name}`, () => {
      expect(scanMessage([Buffer.from(text)])).toBeUndefined();
    });
  }
});

describe('decodeMessages', () => {
  it('parses small messages in full and keeps their text', () => {
    const text = '{"jsonrpc":"2.0","id":1,"result":{"ok":true}}';
    const out = decodeMessages([Buffer.from(text)]);
    expect(out).toEqual({ ok: true, messages: [{ msg: JSON.parse(text), raw: text }] });
  });

  it('forwards a large message as its own bytes, not a copy', () => {
    const bytes = buf({ result: { content: [{ type: 'text', text: big() }] }, jsonrpc: '2.0', id: 'big' });
    const out = decodeMessages([bytes]);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.messages[0]!.raw).toEqual([bytes]);
    expect((out.messages[0]!.raw as Buffer[])[0]).toBe(bytes);
    expect(out.messages[0]!.msg.id).toBe('big');
  });

  it('reports a large message the scan cannot vouch for the way a full parse sees it', () => {
    const truncated = buf({ jsonrpc: '2.0', id: 1, result: { text: big() } }).subarray(0, LARGE_MESSAGE_BYTES + 10);
    expect(decodeMessages([truncated])).toEqual({ ok: false, reason: 'not JSON' });
    // A large batch is valid JSON the scan leaves to the full parse: members come without raw text.
    const batch = buf([
      { jsonrpc: '2.0', method: 'a', params: { t: big() } },
      { jsonrpc: '2.0', id: 2, result: {} },
    ]);
    const out = decodeMessages([batch]);
    expect(out.ok && out.messages.map((m) => [m.msg.method ?? m.msg.id, m.raw])).toEqual([
      ['a', undefined],
      [2, undefined],
    ]);
  });

  it('refuses JSON that is not a JSON-RPC message', () => {
    expect(decodeMessages([Buffer.from('{"hello":1}')])).toEqual({ ok: false, reason: 'not a JSON-RPC message' });
    expect(decodeMessages([Buffer.from('nope')])).toEqual({ ok: false, reason: 'not JSON' });
  });
});
