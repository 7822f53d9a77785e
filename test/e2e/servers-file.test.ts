/**
 * Named servers in a file, through the built relay: a host entry as short as `mcp-relay <name>`
 * relays to the server the file describes (its headers, its filters), the default file is found
 * in the env-paths config dir, and each broken file is a one-line message and exit 2 that never
 * shows a secret from the file.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { serverKey } from '../../src/store/paths.js';
import { CredentialStore } from '../../src/store/store.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const SECRET = 'sk-live-file-secret-7f3a9c';

let server: TestServer | undefined;
afterEach(async () => {
  await killAll();
  await server?.close();
  server = undefined;
});

/** Names of the tools the server was asked to call. */
function calledTools(s: TestServer): string[] {
  const bodies = s.requests.flatMap((r) => (Array.isArray(r.body) ? r.body : [r.body]));
  return bodies.filter((b) => (b as { method?: string } | undefined)?.method === 'tools/call').map((b) => (b as { params: { name: string } }).params.name);
}

async function writeJson(path: string, doc: unknown): Promise<string> {
  await writeFile(path, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
  return path;
}

describe('servers file through the relay', () => {
  it("a name resolves and relays with the file's headers and filters; the secret stays out of stderr and the log", async () => {
    server = await startTestServer({ kind: 'stateful', requireHeader: { name: 'x-api-key', value: SECRET } });
    const home = await tempHome();
    const file = await writeJson(join(home, 'servers.json'), {
      mcpServers: { tools: { url: server.url, headers: { 'X-Api-Key': '${API_KEY}' }, denyTool: ['ad?'] } },
    });
    const logFile = join(home, 'relay.log');
    const relay = await connectRelay(['tools', '--config', file, '--debug', '--log-file', logFile], { home, env: { API_KEY: SECRET } });

    const names = (await relay.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('echo');
    expect(names).not.toContain('add');
    const echoed = await relay.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect((echoed as { content: Array<{ text: string }> }).content[0]!.text).toBe('hi');
    await expect(relay.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).rejects.toThrow(/--deny-tool "ad\?"/);

    // What the server saw: the file's header on every request, and never the denied call.
    for (const h of server.seenHeaders) expect(h['x-api-key']).toBe(SECRET);
    expect(calledTools(server)).toEqual(['echo']);
    expect(relay.stderr()).toContain('mcp-relay starting');
    expect(relay.stderr()).not.toContain(SECRET);
    expect(await readFile(logFile, 'utf8')).not.toContain(SECRET);
  });

  it('without --config, the name is looked up in servers.json of the env-paths config dir (XDG_CONFIG_HOME)', async () => {
    server = await startTestServer({ kind: 'stateful' });
    const home = await tempHome();
    const xdg = join(home, 'xdg');
    await mkdir(join(xdg, 'mcp-relay'), { recursive: true });
    await writeJson(join(xdg, 'mcp-relay', 'servers.json'), { servers: { local: { type: 'http', url: server.url } } });
    const relay = await connectRelay(['local'], { home, env: { XDG_CONFIG_HOME: xdg } });
    expect((await relay.client.listTools()).tools.length).toBeGreaterThan(0);
    expect(server.counters.initialize).toBe(1);
  });

  describe('each broken file: its message, exit 2, no stack trace, no secret', () => {
    const url = 'http://127.0.0.1:9/mcp';
    it.each([
      [
        'malformed JSON',
        `{"mcpServers": {"s": {"url": "${url}",\n  "headers": {"Authorization": "Bearer ${SECRET}"} }}`,
        's',
        /servers\.json: is not valid JSON: the syntax breaks at line 2, column \d+/,
      ],
      [
        'unknown key',
        { mcpServers: { s: { url, clientSecrett: SECRET } } },
        's',
        /servers\.json, server "s", "clientSecrett": is not a setting mcp-relay knows; did you mean "clientSecret"\?/,
      ],
      [
        'wrong type',
        { mcpServers: { s: { url, clientId: 'c', clientSecret: [SECRET] } } },
        's',
        /servers\.json, server "s", "clientSecret": must be a string, like --client-secret \(got an array\)/,
      ],
      [
        'unknown name',
        { mcpServers: { s: { url, headers: { Authorization: SECRET } } } },
        'nope',
        /servers\.json, server "nope": no such server; the file names "s"/,
      ],
      ['a local program', { mcpServers: { s: { command: 'npx', args: ['server', SECRET] } } }, 's', /servers\.json, server "s": runs a local program/],
      [
        'a value the flag refuses',
        { mcpServers: { s: { url, callbackHost: 'evil.example', headers: { Authorization: SECRET } } } },
        's',
        /servers\.json, server "s": "callbackHost" must be a loopback address/,
      ],
      ['not a servers file', { other: { s: { url } } }, 's', /servers\.json: has no "mcpServers" \(or VS Code "servers"\) object/],
    ])('%s', async (_what, doc, name, message) => {
      const home = await tempHome();
      const file = await writeJson(join(home, 'servers.json'), doc);
      const relay = spawnRelay([name, '--config', file], { home });
      expect((await relay.exited).code).toBe(2);
      const stderr = relay.stderr();
      expect(stderr).toMatch(message);
      expect(stderr).not.toContain(SECRET);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(relay.lines).toEqual([]);
    });

    it('a missing --config file', async () => {
      const home = await tempHome();
      const relay = spawnRelay(['s', '--config', join(home, 'absent.json')], { home });
      expect((await relay.exited).code).toBe(2);
      expect(relay.stderr()).toMatch(/"s" is neither a URL \(https:\/\/…\) nor a server of the servers file: .*absent\.json does not exist/);
    });
  });

  it('status NAME and logout NAME find the login the relay made for that server (same URL and client id)', async () => {
    const home = await tempHome();
    const url = 'https://a.example.com/mcp';
    // The key the relay uses: URL plus the static client id, here from an environment variable.
    const key = serverKey({ serverUrl: url, clientId: 'static-1' });
    const store = new CredentialStore(join(home, 'store'), silentLogger());
    await store.server(key).writeServer({ url, created_at: Date.now(), last_used_at: Date.now() });
    const file = await writeJson(join(home, 'servers.json'), { mcpServers: { work: { url, clientId: '${CLIENT}' } } });
    const env = { CLIENT: 'static-1' };

    const status = spawnRelay(['status', 'work', '--config', file, '--json'], { home, env });
    expect((await status.exited).code).toBe(0);
    expect((JSON.parse(status.lines.join('\n')) as { servers: Array<{ url: string; key: string }> }).servers.map((x) => x.key)).toEqual([key]);

    const logout = spawnRelay(['logout', 'work', '--config', file], { home, env });
    expect((await logout.exited).code).toBe(0);
    expect(logout.lines.join('\n')).toContain(`Logged out of ${url}`);
    expect(await store.list()).toEqual([]);

    const unknown = spawnRelay(['status', 'nope', '--config', file], { home, env });
    expect((await unknown.exited).code).toBe(2);
    expect(unknown.stderr()).toContain('server "nope": no such server');
  });

  it('login NAME reaches the server of the file with its headers', async () => {
    server = await startTestServer({ kind: 'stateful', requireHeader: { name: 'x-api-key', value: SECRET } });
    const home = await tempHome();
    const file = await writeJson(join(home, 'servers.json'), { mcpServers: { open: { url: server.url, headers: { 'X-Api-Key': SECRET } } } });
    const login = spawnRelay(['login', 'open', '--config', file], { home });
    expect((await login.exited).code).toBe(0);
    // The file's header got it past the server's check, so no login was needed.
    expect(login.lines.join('\n')).toContain(`${server.url} did not ask for a login (HTTP 200)`);
    expect(server.seenHeaders.map((h) => h['x-api-key'])).toContain(SECRET);
    expect(login.stderr()).not.toContain(SECRET);
  });
});
