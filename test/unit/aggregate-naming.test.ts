/**
 * The pure parts of the aggregate: prefixes and their clash rules, routing by name and by URI
 * template, and the cursors of the merged lists.
 */
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/relay/aggregate/lists.js';
import { checkPrefixes, NameTable, prefixOf, splitByPrefix, templateMatches } from '../../src/relay/aggregate/naming.js';
import { RelayError } from '../../src/errors.js';

describe('aggregate names', () => {
  it('prefixes with <prefix>__ (the server name unless the entry says otherwise); null: no prefix', () => {
    expect(prefixOf('github')).toBe('github__');
    expect(prefixOf('gh')).toBe('gh__');
    expect(prefixOf(null)).toBe('');
  });

  it('refuses at start two servers with one prefix, or two without one', () => {
    const clash = () =>
      checkPrefixes([
        { name: 'a', prefix: 'x__' },
        { name: 'b', prefix: 'x__' },
      ]);
    expect(clash).toThrow(RelayError);
    expect(clash).toThrow(/servers "a" and "b" both use the prefix "x__"/);
    expect(() =>
      checkPrefixes([
        { name: 'a', prefix: '' },
        { name: 'b', prefix: '' },
      ]),
    ).toThrow(/both have no prefix/);
    expect(() =>
      checkPrefixes([
        { name: 'a', prefix: 'a__' },
        { name: 'b', prefix: '' },
      ]),
    ).not.toThrow();
  });

  it('routes a name by the longest prefix, and what no prefix claims to the unprefixed server', () => {
    const servers = [
      { name: 'gh', prefix: 'gh__' },
      { name: 'ghx', prefix: 'gh__x__' },
      { name: 'plain', prefix: '' },
    ];
    expect(splitByPrefix('gh__issues', servers)).toEqual({ server: 'gh', name: 'issues' });
    expect(splitByPrefix('gh__x__run', servers)).toEqual({ server: 'ghx', name: 'run' });
    expect(splitByPrefix('search', servers)).toEqual({ server: 'plain', name: 'search' });
    expect(splitByPrefix('search', servers.slice(0, 2))).toBeUndefined();
    // The bare prefix is no tool of that server.
    expect(splitByPrefix('gh__', servers.slice(0, 2))).toBeUndefined();
  });

  it('keeps a shown name for the server that claimed it first', () => {
    const t = new NameTable();
    expect(t.claim('gh__x', { server: 'gh', name: 'x' })).toBe(true);
    expect(t.claim('gh__x', { server: 'plain', name: 'gh__x' })).toBe(false);
    expect(t.get('gh__x')).toEqual({ server: 'gh', name: 'x' });
    t.forgetServer('gh');
    expect(t.claim('gh__x', { server: 'plain', name: 'gh__x' })).toBe(true);
  });

  it('matches URI templates: {var} within a path segment, {+var} across segments', () => {
    expect(templateMatches('test://item/{id}', 'test://item/42')).toBe(true);
    expect(templateMatches('test://item/{id}', 'test://item/4/2')).toBe(false);
    expect(templateMatches('file:///{+path}', 'file:///a/b/c.txt')).toBe(true);
    expect(templateMatches('a.b://{x}', 'aXb://1')).toBe(false);
  });
});

describe('aggregate cursors', () => {
  it('round-trip the servers that remain, each with its own cursor', () => {
    const c = encodeCursor([
      ['b', 'page-2'],
      ['d', 'x'],
    ]);
    expect(decodeCursor(c)).toEqual([
      ['b', 'page-2'],
      ['d', 'x'],
    ]);
  });

  it('refuse cursors the relay did not make', () => {
    expect(decodeCursor('page-2')).toBeUndefined();
    expect(decodeCursor('mcp-relay:not base64 json')).toBeUndefined();
    expect(decodeCursor(`mcp-relay:${Buffer.from('{"r":[["a",1]]}').toString('base64url')}`)).toBeUndefined();
    expect(decodeCursor(`mcp-relay:${Buffer.from('{"r":[]}').toString('base64url')}`)).toBeUndefined();
  });
});
