import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectionOptions } from '../../src/cli/options.js';
import { givenOnCommandLine, relayOptionSpecs, resolveServers, serverOptions, type ServersArgs } from '../../src/cli/servers.js';
import { closestKey, defaultServersFile, parseServersFile, type FileServer } from '../../src/config/servers-file.js';
import { RelayError } from '../../src/errors.js';

const FILE = '/etc/servers.json';
const SECRET = 'sk-live-DO-NOT-SHOW-1234';

function parse(doc: unknown, env: NodeJS.ProcessEnv = {}) {
  return parseServersFile(typeof doc === 'string' ? doc : JSON.stringify(doc), FILE, relayOptionSpecs(), env);
}

/** The error of a named entry (kept in the map, raised when the entry is used). */
function entryError(doc: unknown, name: string): RelayError {
  const entry = parse(doc).servers.get(name);
  if (entry?.kind !== 'invalid') throw new Error(`expected ${name} to be invalid, got ${entry?.kind}`);
  return entry.error;
}

function thrown(fn: () => unknown): RelayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('BAD_CONFIG');
    return err as RelayError;
  }
  throw new Error('expected a RelayError, nothing was thrown');
}

describe('servers file: shape and types', () => {
  it('reads "mcpServers" and VS Code "servers", skipping local-program entries', () => {
    const f = parse({
      mcpServers: { a: { url: 'https://a.example/mcp', headers: { 'X-Key': 'v' }, clientId: 'c1', browser: false, denyTool: ['x_*'] } },
      servers: { b: { type: 'sse', url: 'https://b.example/sse' }, local: { type: 'stdio', command: 'node', args: ['x.js'] } },
    });
    const a = f.servers.get('a') as FileServer;
    expect(a).toMatchObject({ kind: 'url', url: 'https://a.example/mcp', headers: ['X-Key: v'], prefix: undefined });
    expect(a.options).toEqual({ clientId: 'c1', browser: false, denyTool: ['x_*'] });
    // A host's "type": "sse" selects the legacy transport.
    expect((f.servers.get('b') as FileServer).options).toEqual({ transport: 'sse' });
    expect(f.servers.get('local')?.kind).toBe('stdio');
  });

  it("accepts a host's own keys (Cline's disabled/autoApprove, description) and leaves disabled servers out of --all", () => {
    const f = parse({
      mcpServers: { c: { url: 'https://c/mcp', type: 'streamableHttp', disabled: true, autoApprove: [], alwaysAllow: ['x'], description: 'd' } },
    });
    expect(f.servers.get('c')).toMatchObject({ kind: 'url', disabled: true, options: {} });
  });

  it('expands ${ENV} in url, and says which variable is missing', () => {
    expect((parse({ mcpServers: { a: { url: 'https://${HOST}/mcp' } } }, { HOST: 'h.example' }).servers.get('a') as FileServer).url).toBe(
      'https://h.example/mcp',
    );
    expect(entryError({ mcpServers: { a: { url: 'https://${NOPE}/mcp' } } }, 'a').message).toBe(
      `${FILE}, server "a", "url": uses \${NOPE} but the environment variable NOPE is not set`,
    );
  });

  it('malformed JSON: line and column, and never the text around it', () => {
    const text = `{"mcpServers": {"a": {"url": "https://a.example/mcp",\n  "headers": {"Authorization": "Bearer ${SECRET}"} oops}}}`;
    const err = thrown(() => parse(text));
    expect(err.message).toMatch(new RegExp(`^${FILE}: is not valid JSON: the syntax breaks at line 2, column \\d+$`));
    expect(err.message).not.toContain(SECRET);
  });

  it.each([
    [[], 'must be a JSON object with "mcpServers" (got an array)'],
    [{ other: {} }, 'has no "mcpServers" (or VS Code "servers") object'],
  ])('a file that is not a servers file: %j', (doc, problem) => {
    expect(thrown(() => parse(doc)).message).toBe(`${FILE}: ${problem}`);
  });

  it('unknown key: names file, server and key, and suggests the closest', () => {
    const err = entryError({ mcpServers: { gh: { url: 'https://a.example/mcp', clinetId: 'x' } } }, 'gh');
    expect(err.message).toBe(`${FILE}, server "gh", "clinetId": is not a setting mcp-relay knows; did you mean "clientId"?`);
    expect(err.cause).toEqual({ file: FILE, server: 'gh', key: 'clinetId' });
    // The flag's own spelling finds its camel-cased key.
    expect(
      closestKey(
        'client-secret',
        relayOptionSpecs().map((s) => s.key),
      ),
    ).toBe('clientSecret');
    expect(
      closestKey(
        'no-browser',
        relayOptionSpecs().map((s) => s.key),
      ),
    ).toBe('browser');
  });

  it('wrong types name the key and the flag, never the value', () => {
    const doc = {
      mcpServers: {
        s1: { url: 'https://a.example/mcp', clientSecret: 12345 },
        s2: { url: 'https://a.example/mcp', headers: { Authorization: 7 } },
        s3: { url: 'https://a.example/mcp', denyTool: 'one' },
        s4: { url: 'https://a.example/mcp', transport: 'carrier-pigeon' },
        s5: { url: 'https://a.example/mcp', timeout: '30' },
        s6: { headers: { Authorization: `Bearer ${SECRET}` } },
        s7: { url: 'https://a.example/mcp', prefix: 'has space' },
      },
    };
    expect(entryError(doc, 's1').message).toBe(`${FILE}, server "s1", "clientSecret": must be a string, like --client-secret (got a number)`);
    expect(entryError(doc, 's2').message).toBe(`${FILE}, server "s2", "headers.Authorization": must be a string (got a number)`);
    expect(entryError(doc, 's3').message).toBe(`${FILE}, server "s3", "denyTool": must be an array of strings, like --deny-tool repeated (got a string)`);
    expect(entryError(doc, 's4').message).toBe(`${FILE}, server "s4", "transport": must be one of auto, http, sse (got "carrier-pigeon")`);
    expect(entryError(doc, 's5').message).toBe(`${FILE}, server "s5", "timeout": must be a number, like --timeout (got a string)`);
    expect(entryError(doc, 's6').message).toBe(`${FILE}, server "s6", "url": is missing: give the remote server URL`);
    expect(entryError(doc, 's7').message).toContain('"prefix": may hold only');
    for (const name of ['s1', 's2', 's6']) expect(entryError(doc, name).message).not.toContain(SECRET);
  });

  it('prefix: a string, or "" / false for none', () => {
    const f = parse({
      mcpServers: { a: { url: 'https://a/mcp', prefix: 'gh' }, b: { url: 'https://b/mcp', prefix: '' }, c: { url: 'https://c/mcp', prefix: false } },
    });
    expect([...f.servers.values()].map((s) => (s as FileServer).prefix)).toEqual(['gh', null, null]);
  });

  it('default file: $MCP_RELAY_CONFIG, else servers.json in the env-paths config dir', () => {
    expect(defaultServersFile({ MCP_RELAY_CONFIG: '/x/s.json' })).toBe('/x/s.json');
    expect(defaultServersFile({})).toMatch(/mcp-relay[\\/](Config[\\/])?servers\.json$/);
  });
});

describe('servers file: resolving the command line', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-relay-servers-'));
    file = join(dir, 'servers.json');
    await writeFile(
      file,
      JSON.stringify({
        mcpServers: {
          gh: {
            url: 'https://gh.example/mcp',
            headers: { Authorization: 'Bearer ${TOKEN}' },
            transport: 'sse',
            browser: false,
            denyTool: ['delete_*'],
            timeout: 30,
          },
          docs: { url: 'https://docs.example/mcp', prefix: '' },
          bad: { url: 'https://bad.example/mcp', callbackHost: 'evil.example' },
          local: { command: 'node' },
        },
      }),
    );
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Parse argv as the proxy command does, then resolve. */
  function resolve(argv: string[], env: NodeJS.ProcessEnv = { TOKEN: SECRET }) {
    let parsed: unknown;
    yargs(argv)
      .command(
        '$0 [server-url..]',
        'relay',
        (y) => serverOptions(connectionOptions(y)),
        (a) => void (parsed = a),
      )
      .strictOptions()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      })
      .parseSync();
    return resolveServers(parsed as ServersArgs, argv, env);
  }

  it('a name takes its settings from the file', () => {
    const [s] = resolve(['gh', '--config', file]);
    expect(s!.name).toBe('gh');
    expect(s!.prefix).toBe('gh');
    expect(s!.config.serverUrl.href).toBe('https://gh.example/mcp');
    expect(s!.config.headers).toEqual({ authorization: `Bearer ${SECRET}` });
    expect(s!.config).toMatchObject({ transport: 'sse', requestTimeoutMs: 30_000, denyTools: ['delete_*'] });
    expect(s!.config.auth.noBrowser).toBe(true);
  });

  it('flags on the command line win, even when they spell the default; lists add to the file', () => {
    const [s] = resolve(['gh', '--config', file, '--transport', 'auto', '--browser', '--timeout=5', '--deny-tool', 'drop_*', '-H', 'Authorization: Basic x']);
    expect(s!.config).toMatchObject({ transport: 'auto', requestTimeoutMs: 5_000, denyTools: ['delete_*', 'drop_*'] });
    expect(s!.config.auth.noBrowser).toBe(false);
    expect(s!.config.headers).toEqual({ authorization: 'Basic x' });
  });

  it('MCP_RELAY_CONFIG names the file when --config is absent', () => {
    expect(resolve(['docs'], { MCP_RELAY_CONFIG: file }).map((s) => [s.name, s.prefix])).toEqual([['docs', null]]);
  });

  it('a URL is relayed as before, the file untouched', () => {
    const [s] = resolve(['https://x.example/mcp', '--config', join(dir, 'missing.json')]);
    expect(s).toMatchObject({ name: 'https://x.example/mcp', prefix: null });
  });

  it('several names, and --all (every server but local programs and disabled ones; a broken one is an error)', async () => {
    expect(resolve(['gh', 'docs', '--config', file]).map((s) => s.name)).toEqual(['gh', 'docs']);
    expect(thrown(() => resolve(['--all', '--config', file])).message).toContain('server "bad"');
    await writeFile(
      file,
      JSON.stringify({ mcpServers: { on: { url: 'https://on/mcp' }, off: { url: 'https://off/mcp', disabled: true }, local: { command: 'x' } } }),
    );
    expect(resolve(['--all', '--config', file]).map((s) => s.name)).toEqual(['on']);
    expect(resolve(['off', '--config', file]).map((s) => s.name)).toEqual(['off']);
  });

  it('errors name the file, the server and the key; flag messages speak of the file key', () => {
    expect(thrown(() => resolve(['nope', '--config', file])).message).toBe(
      `${file}, server "nope": no such server; the file names "gh", "docs", "bad", "local"`,
    );
    expect(thrown(() => resolve(['local', '--config', file])).message).toContain(`${file}, server "local": runs a local program`);
    expect(thrown(() => resolve(['bad', '--config', file])).message).toBe(
      `${file}, server "bad": "callbackHost" must be a loopback address (127.0.0.1, ::1 or localhost), got "evil.example"`,
    );
    expect(thrown(() => resolve(['gh', '--config', join(dir, 'missing.json')])).message).toContain('missing.json does not exist');
    expect(thrown(() => resolve(['gh', 'https://x.example/mcp', '--config', file])).message).toContain('give a server URL on its own');
  });

  it("a value refused by the flag's own check is named by its file key", async () => {
    await writeFile(file, JSON.stringify({ mcpServers: { p: { url: 'https://p.example/mcp', denyPrompt: [''] }, q: { url: 'https://q.example/mcp' } } }));
    expect(thrown(() => resolve(['p', '--config', file])).message).toBe(`${file}, server "p": "denyPrompt" needs a prompt name or a glob`);
    // The same check on a value from the command line speaks of the flag.
    expect(thrown(() => resolve(['q', '--config', file, '--deny-prompt', ''])).message).toBe(
      `${file}, server "q": --deny-prompt needs a prompt name or a glob`,
    );
  });

  it('a header whose variable is unset names the variable, not the value', () => {
    const err = thrown(() => resolve(['gh', '--config', file], {}));
    expect(err.message).toContain('TOKEN');
    expect(err.message).toContain(`${file}, server "gh"`);
  });
});

describe('servers file: one source of truth for the options', () => {
  it('every flag of connectionOptions is a file key, with its type', () => {
    const specs = relayOptionSpecs();
    expect(specs.find((s) => s.key === 'clientId')).toMatchObject({ flag: '--client-id', type: 'string', array: false });
    expect(specs.find((s) => s.key === 'header')).toMatchObject({ array: true, aliases: ['H'] });
    expect(specs.find((s) => s.key === 'browser')).toMatchObject({ type: 'boolean' });
    expect(specs.find((s) => s.key === 'logLevel')?.choices).toContain('debug');
  });

  it('tells flags given on the command line from defaults, in every spelling', () => {
    const given = givenOnCommandLine(['gh', '--no-browser', '--client-id=x', '-H', 'A: b', '--logLevel', 'debug', '--', '--timeout'], relayOptionSpecs());
    expect([...given].sort()).toEqual(['browser', 'clientId', 'header', 'logLevel']);
  });
});
