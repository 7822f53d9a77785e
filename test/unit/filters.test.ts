/** The --deny-tool filter (src/relay/filters.ts) on the messages themselves. */
import { describe, expect, it } from 'vitest';
import { ToolFilter } from '../../src/relay/filters.js';

const list = (id: number) => ({ jsonrpc: '2.0' as const, id, method: 'tools/list', params: {} });
const tools = (id: number, names: string[], nextCursor?: string) => ({
  jsonrpc: '2.0' as const,
  id,
  result: { tools: names.map((name) => ({ name })), ...(nextCursor ? { nextCursor } : {}) },
});

describe('ToolFilter', () => {
  it('globs: * any run, ? one character, everything else literal', () => {
    const f = new ToolFilter(['delete*', '?et', 'a.b']);
    expect(f.denies('delete_user')).toBe('delete*');
    expect(f.denies('get')).toBe('?et');
    expect(f.denies('gett')).toBeUndefined();
    expect(f.denies('a.b')).toBe('a.b');
    expect(f.denies('axb')).toBeUndefined();
  });

  it('removes denied tools from every page and keeps the rest of the answer', () => {
    const f = new ToolFilter(['rm*']);
    expect(f.fromHost(list(1))).toBeUndefined();
    const [page1, raw1] = f.fromRemote(tools(1, ['ls', 'rm', 'rmdir'], 'c2'), 'RAW');
    expect(page1.result).toEqual({ tools: [{ name: 'ls' }], nextCursor: 'c2' });
    expect(raw1).toBeUndefined();
    expect(f.fromHost({ ...list(2), params: { cursor: 'c2' } })).toBeUndefined();
    expect(f.fromRemote(tools(2, ['rm_all']), 'RAW')[0].result).toEqual({ tools: [] });
    // Nothing removed: forwarded as it came, bytes included.
    f.fromHost(list(3));
    expect(f.fromRemote(tools(3, ['ls']), 'RAW')).toEqual([tools(3, ['ls']), 'RAW']);
    // Not the answer to a tools/list: untouched.
    expect(f.fromRemote(tools(4, ['rm']), 'RAW')[1]).toBe('RAW');
  });

  it('answers a call of a denied tool itself, naming the filter; other calls pass', () => {
    const f = new ToolFilter(['rm*']);
    const answer = f.fromHost({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'rmdir', arguments: {} } });
    expect(answer).toMatchObject({ id: 7, error: { code: -32602, data: { relay: { code: 'TOOL_DENIED', filter: '--deny-tool rm*' } } } });
    expect(answer!.error!.message).toContain('"rmdir"');
    expect(f.fromHost({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'ls' } })).toBeUndefined();
    expect(f.fromHost({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' })).toBeUndefined();
  });
});
