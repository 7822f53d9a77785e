/**
 * The pure halves of the 2026-07-28 support: header encoding and x-mcp-header rules
 * (modern-headers.ts), era evidence and the InitializeResult a 2025 host gets (modern-wire.ts).
 */
import { describe, expect, it } from 'vitest';
import { isRelayError } from '../../src/errors.js';
import { encodeHeaderValue, headerParams, requestHeaders, screenTools } from '../../src/remote/v2026/headers.js';
import { classifyProbeAnswer, discoverProbe, initializeResultFrom, isModernHostMessage, listenFilter } from '../../src/remote/v2026/wire.js';

const meta = (v = '2026-07-28') => ({ 'io.modelcontextprotocol/protocolVersion': v });

describe('encodeHeaderValue (2026-07-28 streamable-http, Value Encoding)', () => {
  it.each([
    ['us-west1', 'us-west1'],
    ['Hello, 世界', '=?base64?SGVsbG8sIOS4lueVjA==?='],
    [' padded ', '=?base64?IHBhZGRlZCA=?='],
    ['line1\nline2', '=?base64?bGluZTEKbGluZTI=?='],
    ['=?base64?literal?=', '=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?='],
    ['file:///projects/myapp/config.json', 'file:///projects/myapp/config.json'],
  ])("%j → %s (the spec's own examples)", (value, encoded) => {
    expect(encodeHeaderValue(value)).toBe(encoded);
  });
});

describe('x-mcp-header annotations', () => {
  const schema = (props: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'object', properties: props, ...extra });

  it('finds annotations reached through properties only, nested objects included', () => {
    const found = headerParams(
      schema({
        region: { type: 'string', 'x-mcp-header': 'Region' },
        opts: { type: 'object', properties: { dry: { type: 'boolean', 'x-mcp-header': 'Dry-Run' } } },
      }),
    );
    expect(found).toEqual({
      params: [
        { name: 'Region', path: ['region'] },
        { name: 'Dry-Run', path: ['opts', 'dry'] },
      ],
    });
  });

  it.each([
    ['an empty name', schema({ a: { type: 'string', 'x-mcp-header': '' } })],
    ['a name that is not a token', schema({ a: { type: 'string', 'x-mcp-header': 'Bad Name' } })],
    ['a name used twice ignoring case', schema({ a: { type: 'string', 'x-mcp-header': 'X' }, b: { type: 'string', 'x-mcp-header': 'x' } })],
    ['a number property', schema({ a: { type: 'number', 'x-mcp-header': 'A' } })],
    ['an object property', schema({ a: { type: 'object', 'x-mcp-header': 'A' } })],
    ['a property under items', schema({ a: { type: 'array', items: { type: 'object', properties: { b: { type: 'string', 'x-mcp-header': 'B' } } } } })],
    ['a property under anyOf', schema({}, { anyOf: [{ properties: { b: { type: 'string', 'x-mcp-header': 'B' } } }] })],
    ['a property under $defs', schema({}, { $defs: { d: { type: 'string', 'x-mcp-header': 'D' } } })],
    ['the root schema', { type: 'string', 'x-mcp-header': 'Root' }],
  ])('rejects %s', (_what, inputSchema) => {
    expect(headerParams(inputSchema)).toHaveProperty('invalid');
  });

  it('screenTools keeps the valid tools and names the rejected ones', () => {
    const out = screenTools({
      tools: [
        { name: 'ok', inputSchema: schema({}) },
        { name: 'bad', inputSchema: schema({ a: { type: 'number', 'x-mcp-header': 'A' } }) },
      ],
    });
    expect(out.keep.map((t) => t.name)).toEqual(['ok']);
    expect(out.rejected.map((t) => t.name)).toEqual(['bad']);
  });
});

describe('requestHeaders', () => {
  it("mirrors method, name/uri and the body's protocol version", () => {
    expect(requestHeaders({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'test://ä', _meta: meta() } })).toEqual({
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'resources/read',
      'mcp-name': `=?base64?${Buffer.from('test://ä').toString('base64')}?=`,
    });
    expect(requestHeaders({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta('2027-01-01') } })).toEqual({
      'mcp-protocol-version': '2027-01-01',
      'mcp-method': 'tools/list',
    });
  });

  it('turns tool arguments into Mcp-Param-* by type, omitting null and absent values', () => {
    const params = [
      { name: 'Region', path: ['region'] },
      { name: 'Count', path: ['n'] },
      { name: 'Dry', path: ['o', 'dry'] },
      { name: 'Gone', path: ['gone'] },
      { name: 'Nul', path: ['nul'] },
    ];
    const h = requestHeaders(
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: { region: 'eu', n: -7, o: { dry: false }, nul: null }, _meta: meta() } },
      params,
    );
    expect(h['mcp-param-region']).toBe('eu');
    expect(h['mcp-param-count']).toBe('-7');
    expect(h['mcp-param-dry']).toBe('false');
    expect(h).not.toHaveProperty('mcp-param-gone');
    expect(h).not.toHaveProperty('mcp-param-nul');
    expect(h['mcp-name']).toBe('t');
  });
});

describe('era evidence from the server/discover probe', () => {
  const discover = { supportedVersions: ['2026-07-28'], capabilities: {}, resultType: 'complete', ttlMs: 0, cacheScope: 'private' };

  it('a DiscoverResult that lists 2026-07-28 is modern', () => {
    expect(classifyProbeAnswer({ jsonrpc: '2.0', id: 1, result: discover }, 200)).toEqual({ era: 'modern' });
  });

  it('-32022 listing 2026-07-28 is modern; listing only 2025 versions is legacy; listing neither fails', () => {
    const err = (supported: string[]) => ({ jsonrpc: '2.0' as const, id: 1, error: { code: -32022, message: 'Unsupported', data: { supported } } });
    // -32022 carries no DiscoverResult: the verdict says which version to resend the probe with.
    expect(classifyProbeAnswer(err(['2026-07-28', '2025-11-25']), 400)).toEqual({ era: 'modern', retryWith: '2026-07-28' });
    expect(classifyProbeAnswer(err(['2025-11-25']), 400).era).toBe('legacy');
    let thrown: unknown;
    try {
      classifyProbeAnswer(err(['2031-01-01']), 400);
    } catch (e) {
      thrown = e;
    }
    expect(isRelayError(thrown, 'REMOTE_PROTOCOL')).toBe(true);
  });

  it.each([
    [
      'a 1.x stateless 400 -32000',
      { jsonrpc: '2.0' as const, id: null, error: { code: -32000, message: 'Bad Request: Unsupported protocol version: 2026-07-28' } },
      400,
    ],
    ['-32601 (a modern server MUST implement server/discover)', { jsonrpc: '2.0' as const, id: 1, error: { code: -32601, message: 'Method not found' } }, 404],
    ['-32020 header mismatch', { jsonrpc: '2.0' as const, id: 1, error: { code: -32020, message: 'mismatch' } }, 400],
    ['a result that is no DiscoverResult', { jsonrpc: '2.0' as const, id: 1, result: {} }, 200],
  ])('%s is legacy', (_what, answer, status) => {
    expect(classifyProbeAnswer(answer, status).era).toBe('legacy');
  });

  it('5xx is not era evidence: it fails instead', () => {
    expect(() => classifyProbeAnswer({ jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'boom' } }, 503)).toThrow(/HTTP 503/);
  });

  it("the probe carries the host's identity and capabilities from initialize", () => {
    const probe = discoverProbe(
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', clientInfo: { name: 'h', version: '9' }, capabilities: { sampling: {} } },
      },
      { name: 'x', version: '0' },
    );
    expect(probe.method).toBe('server/discover');
    expect(probe.params).toEqual({
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'h', version: '9' },
        'io.modelcontextprotocol/clientCapabilities': { sampling: {} },
      },
    });
  });

  it('tells a modern host message from a 2025 one', () => {
    expect(isModernHostMessage({ jsonrpc: '2.0', id: 1, method: 'server/discover' })).toBe(true);
    expect(isModernHostMessage({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta() } })).toBe(true);
    expect(isModernHostMessage({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta('2025-11-25') } })).toBe(false);
    expect(isModernHostMessage({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25' } })).toBe(false);
  });
});

describe('the InitializeResult a 2025 host gets from server/discover', () => {
  const discover = {
    supportedVersions: ['2026-07-28'],
    capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, extensions: { 'io.modelcontextprotocol/tasks': {} } },
    instructions: 'hi',
    _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'srv', version: '2' } },
  };

  it('takes serverInfo from _meta, keeps instructions, drops extensions, echoes a version the relay can serve', () => {
    expect(initializeResultFrom(discover, '2025-06-18', 'host:1')).toEqual({
      protocolVersion: '2025-06-18',
      capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true } },
      serverInfo: { name: 'srv', version: '2' },
      instructions: 'hi',
    });
  });

  it('answers 2025-11-25 to a version it cannot serve, and reads a top-level serverInfo (draft page form)', () => {
    const out = initializeResultFrom({ capabilities: { resources: { subscribe: false } }, serverInfo: { name: 'top', version: '1' } }, '2024-11-05', 'host:1');
    expect(out.protocolVersion).toBe('2025-11-25');
    expect(out.serverInfo).toEqual({ name: 'top', version: '1' });
    expect(out.capabilities).toEqual({ resources: {} });
  });

  it('listens for every announced list and for subscriptions only when the server can', () => {
    expect(listenFilter(discover, ['b', 'a'])).toEqual({ toolsListChanged: true, resourcesListChanged: true, resourceSubscriptions: ['a', 'b'] });
    expect(listenFilter({ capabilities: { resources: {} } }, ['a'])).toEqual({});
  });
});
