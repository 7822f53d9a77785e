/** The allow/deny filters (src/relay/filters.ts) on the messages themselves. */
import { describe, expect, it } from 'vitest';
import { McpFilter, ToolFilter } from '../../src/relay/filters.js';

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

const req = (id: number, method: string, params: Record<string, unknown> = {}) => ({ jsonrpc: '2.0' as const, id, method, params });

describe('McpFilter', () => {
  it('deny wins over allow; with allow patterns only matching items show', () => {
    const f = new McpFilter({ allowTools: ['get_*', 'list_*'], denyTools: ['get_secret*'] });
    expect(f.allows('tool', 'get_user')).toBe(true);
    expect(f.blockedBy('tool', 'get_secret_key')).toBe('--deny-tool get_secret*');
    expect(f.blockedBy('tool', 'delete_user')).toBe('--allow-tool get_* --allow-tool list_*');
    // No rules for prompts: every prompt shows.
    expect(f.allows('prompt', 'anything')).toBe(true);
  });

  it('no rules, no filter', () => {
    expect(McpFilter.fromConfig({ denyTools: [], allowPrompts: [] })).toBeUndefined();
    expect(McpFilter.fromConfig({ denyResources: ['file:///x'] })).toBeInstanceOf(McpFilter);
  });

  it('filters every list kind, by name or URI', () => {
    const f = new McpFilter({ denyPrompts: ['admin_*'], allowResources: ['file:///docs/*'] });
    f.fromHost(req(1, 'prompts/list'));
    expect(f.fromRemote({ jsonrpc: '2.0', id: 1, result: { prompts: [{ name: 'admin_reset' }, { name: 'hello' }] } })[0].result).toEqual({
      prompts: [{ name: 'hello' }],
    });
    f.fromHost(req(2, 'resources/list', { cursor: 'p2' }));
    const resources = [{ uri: 'file:///docs/a.md' }, { uri: 'file:///etc/passwd' }];
    expect(f.fromRemote({ jsonrpc: '2.0', id: 2, result: { resources, nextCursor: 'p3' } })[0].result).toEqual({
      resources: [{ uri: 'file:///docs/a.md' }],
      nextCursor: 'p3',
    });
    f.fromHost(req(3, 'resources/templates/list'));
    const templates = [{ uriTemplate: 'file:///docs/{name}' }, { uriTemplate: 'db://{table}' }];
    expect(f.fromRemote({ jsonrpc: '2.0', id: 3, result: { resourceTemplates: templates } })[0].result).toEqual({
      resourceTemplates: [{ uriTemplate: 'file:///docs/{name}' }],
    });
  });

  it('refuses gets, reads, subscriptions and completions of filtered items, naming the filter', () => {
    const f = new McpFilter({ denyPrompts: ['admin_*'], allowResources: ['file:///docs/*'], allowTools: ['ok'] });
    expect(f.fromHost(req(1, 'prompts/get', { name: 'admin_reset' }))).toMatchObject({
      error: {
        code: -32602,
        message: expect.stringContaining('"admin_reset" is blocked by --deny-prompt "admin_*"'),
        data: { relay: { code: 'PROMPT_DENIED' } },
      },
    });
    expect(f.fromHost(req(2, 'resources/read', { uri: 'file:///etc/passwd' }))).toMatchObject({
      error: {
        code: -32002,
        message: expect.stringContaining('matches no --allow-resource ("file:///docs/*")'),
        data: { relay: { code: 'RESOURCE_DENIED', filter: '--allow-resource file:///docs/*' } },
      },
    });
    expect(f.fromHost(req(3, 'resources/subscribe', { uri: 'file:///etc/passwd' }))).toMatchObject({ error: { code: -32002 } });
    expect(f.fromHost(req(4, 'completion/complete', { ref: { type: 'ref/prompt', name: 'admin_x' }, argument: { name: 'a', value: '' } }))).toMatchObject({
      error: { code: -32602 },
    });
    expect(f.fromHost(req(5, 'tools/call', { name: 'other' }))).toMatchObject({
      error: { data: { relay: { code: 'TOOL_DENIED', filter: '--allow-tool ok' } } },
    });
    expect(f.fromHost(req(6, 'resources/read', { uri: 'file:///docs/a.md' }))).toBeUndefined();
    expect(f.fromHost(req(7, 'prompts/get', { name: 'hello' }))).toBeUndefined();
  });
});
