/**
 * mcp-remote 0.15.1's command line → mcp-relay's (src/cli/mcp-remote-compat.ts), checked through
 * to the Config the relay runs on: the translated argv is parsed by the same yargs options.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { fromMcpRemote, type CompatDeps } from '../../src/cli/mcp-remote-compat.js';
import { connectionOptions, type ConnectionArgs } from '../../src/cli/options.js';
import { toConfig } from '../../src/cli/to-config.js';
import type { Config } from '../../src/config/config.js';
import { RelayError } from '../../src/errors.js';

const URL_ = 'https://mcp.example.com/sse';

function files(map: Record<string, string>): CompatDeps {
  return {
    readFile: (path) => {
      if (path in map) return map[path]!;
      throw Object.assign(new Error(`ENOENT ${path}`), { code: 'ENOENT' });
    },
  };
}

function config(argv: string[], env: NodeJS.ProcessEnv = {}, deps = files({})): Config {
  let parsed: unknown;
  yargs(fromMcpRemote(argv, deps).argv)
    .command(
      '$0 <server-url>',
      'relay',
      (y) => connectionOptions(y),
      (a) => {
        parsed = a;
      },
    )
    .strictOptions()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseSync();
  return toConfig(parsed as ConnectionArgs, env);
}

function refusal(argv: string[]): RelayError {
  try {
    fromMcpRemote(argv, files({}));
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('BAD_CONFIG');
    return err as RelayError;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('mcp-remote command line', () => {
  it('leaves an mcp-relay command line exactly as it is', () => {
    const argv = [URL_, '-H', 'X-A: 1', '--transport', 'http', '--callback-port', '9000', '--debug'];
    const r = fromMcpRemote(argv, files({}));
    expect(r.translated).toBe(false);
    expect(r.argv).toEqual(argv);
    expect(r.warnings).toEqual([]);
  });

  it('the port after the URL is the callback port, also after --header pairs', () => {
    expect(config([URL_, '9696']).auth.callbackPort).toBe(9696);
    expect(config(['--header', 'X-A: 1', URL_, '9696']).auth.callbackPort).toBe(9696);
    const c = config([URL_, '9696', '--header', 'Authorization: Bearer ${TOKEN}'], { TOKEN: 's3cret' });
    expect(c.auth.callbackPort).toBe(9696);
    expect(c.headers).toEqual({ authorization: 'Bearer s3cret' });
  });

  it('maps every --transport strategy', () => {
    expect(config([URL_, '--transport', 'http-first']).transport).toBe('auto');
    expect(config([URL_, '--transport', 'http-only']).transport).toBe('http');
    expect(config([URL_, '--transport', 'sse-only']).transport).toBe('sse');
    const r = fromMcpRemote([URL_, '--transport', 'sse-first'], files({}));
    expect(r.argv).toEqual([URL_, '--transport', 'auto']);
    expect(r.warnings.join()).toContain('sse-first');
  });

  it('--host becomes --callback-host; a non-loopback host is refused', () => {
    expect(config([URL_, '--host', 'localhost']).auth.callbackHost).toBe('localhost');
    expect(config([URL_, '--host', '127.0.0.1']).auth.callbackHost).toBe('127.0.0.1');
    expect(refusal([URL_, '--host', 'evil.example.com']).message).toMatch(/--host .*loopback/);
    expect(refusal([URL_, '--host', '0.0.0.0']).message).toContain('--host');
  });

  it('--static-oauth-client-info inline or @file is --client-info; the log spelling hides the JSON', () => {
    const json = '{"client_id":"abc","client_secret":"${SECRET}"}';
    const inline = config([URL_, '--static-oauth-client-info', json], { SECRET: 'shh' });
    expect(inline.auth.clientInfo).toEqual({ client_id: 'abc', client_secret: 'shh' });
    const r = fromMcpRemote([URL_, '--static-oauth-client-info', json], files({}));
    expect(r.spelling).toMatch(new RegExp(`^mcp-relay ${URL_} --client-info '\\{…\\}' `));
    expect(r.spelling).not.toContain('SECRET');
  });

  it('--static-oauth-client-metadata: scope is --scope, other keys are warned about', () => {
    const deps = files({ '/m.json': '{"scope":"read write","client_name":"x"}' });
    expect(config([URL_, '--static-oauth-client-metadata', '@/m.json'], {}, deps).auth.scope).toBe('read write');
    const r = fromMcpRemote([URL_, '--static-oauth-client-metadata', '@/m.json'], deps);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain('client_name');
    expect(refusal([URL_, '--static-oauth-client-metadata', '{nope']).message).toContain('not valid JSON');
    expect(refusal([URL_, '--static-oauth-client-metadata', '@/missing.json']).message).toContain('/missing.json');
  });

  it('--resource, an empty --resource and --disable-resource-parameter', () => {
    expect(config([URL_, '--resource', 'https://tenant1.example.net/']).auth.resource).toBe('https://tenant1.example.net/');
    expect(config([URL_, '--resource', '']).auth.omitResource).toBe(true);
    expect(config([URL_, '--disable-resource-parameter']).auth.omitResource).toBe(true);
  });

  it('--ignore-tool is --deny-tool, repeatable', () => {
    const r = fromMcpRemote([URL_, '--ignore-tool', 'delete*', '--ignore-tool', 'remove*'], files({}));
    expect(r.argv).toEqual([URL_, '--deny-tool', 'delete*', '--deny-tool', 'remove*']);
    expect(config([URL_, '--ignore-tool', 'delete*', '--ignore-tool', 'remove*']).denyTools).toEqual(['delete*', 'remove*']);
  });

  it('--header-file becomes --header lines; an unreadable file is refused', () => {
    const deps = files({ '/h.txt': '# creds\nAuthorization: Bearer tok\n\nnot a header\nX-Custom: v\n' });
    const c = config([URL_, '--header-file', '/h.txt'], {}, deps);
    expect(c.headers).toEqual({ authorization: 'Bearer tok', 'x-custom': 'v' });
    const r = fromMcpRemote([URL_, '--header-file', '/h.txt'], deps);
    expect(r.spelling).not.toContain('tok');
    expect(r.warnings.join()).toContain('line 4');
    expect(refusal([URL_, '--header-file', '/nope']).message).toContain('--header-file');
  });

  it('--allow-http, --auth-timeout, --debug and --silent', () => {
    const c = config(['http://internal.vpc/sse', '--allow-http', '--auth-timeout', '60']);
    expect(c.allowHttp).toBe(true);
    expect(c.auth.authTimeoutMs).toBe(60_000);
    expect(config([URL_, '--debug']).logLevel).toBe('debug');
    expect(config([URL_, '--silent']).logLevel).toBe('error');
    // mcp-remote: --debug wins over --silent.
    expect(config([URL_, '--silent', '--debug']).logLevel).toBe('debug');
  });

  it('--keep-alive pings every 30 s unless --ping-interval says otherwise', () => {
    expect(config([URL_, '--keep-alive']).pingIntervalMs).toBe(30_000);
    expect(config([URL_, '--keep-alive', '--ping-interval', '60']).pingIntervalMs).toBe(60_000);
  });

  it('flags with no meaning here are accepted with a warning each, never an error', () => {
    const argv = [
      URL_,
      '--enable-proxy',
      '--protocol',
      'auto',
      '--connect-timeout',
      '30',
      '--headers-timeout',
      '30',
      '--body-timeout',
      '0',
      '--ipv4',
      '--disable-cookies',
      '--auth-success-url',
      'https://app.example.com/done',
      '--use-id-token',
      '--authorize-param',
      'audience=https://api.example.com',
    ];
    const r = fromMcpRemote(argv, files({}));
    expect(r.argv).toEqual([URL_]);
    expect(r.warnings).toHaveLength(10);
    expect(r.warnings.find((w) => w.startsWith('--enable-proxy'))).toContain('HTTPS_PROXY');
    expect(config(argv).serverUrl.href).toBe(URL_);
  });

  it('flags both programs share keep their meaning: --client-metadata-url, --device-code, --client-credentials', () => {
    const c = config([URL_, '--client-credentials', '--static-oauth-client-info', '{"client_id":"m2m","client_secret":"x"}']);
    expect(c.auth.clientCredentials).toBe(true);
    expect(config([URL_, '--device-code']).auth.deviceCode).toBe(true);
    expect(config([URL_, '--client-metadata-url', 'https://c.example.com/client.json']).auth.clientMetadataUrl).toBe('https://c.example.com/client.json');
  });

  it('the start line spells the whole command for mcp-relay', () => {
    const r = fromMcpRemote(
      [URL_, '9696', '--transport', 'http-only', '--header', 'Authorization:${AUTH}', '--ignore-tool', 'delete*', '--host', '127.0.0.1'],
      files({}),
    );
    expect(r.translated).toBe(true);
    expect(r.spelling).toBe(
      `mcp-relay ${URL_} --callback-port 9696 --transport http --header 'Authorization: …' --deny-tool delete* --callback-host 127.0.0.1`,
    );
  });

  it('a static client keeps the redirect URI mcp-remote registered: localhost, /oauth/callback, its port', async () => {
    // The oracle is mcp-remote 0.15.1's own parser (a devDependency): the port it derives when none is given.
    process.env.MCP_REMOTE_CONFIG_DIR = await mkdtemp(join(tmpdir(), 'mcp-remote-oracle-'));
    const chunk = '../../node_modules/mcp-remote/dist/chunk-KJCT2FXL.js';
    const { parseCommandLineArgs } = (await import(chunk)) as {
      parseCommandLineArgs(a: string[], usage: string): Promise<{ callbackPort: number; host: string; callbackPath: string }>;
    };
    const info = ['--static-oauth-client-info', '{"client_id":"pre-registered"}'];
    const variants = [
      [URL_, ...info],
      [URL_, ...info, '--resource', 'https://tenant1.example.net/'],
      [URL_, ...info, '--header', 'X-B: 2', '--header', 'X-A:${A}', '--authorize-param', 'audience=https://api.example.com'],
      [URL_, '9696', ...info],
    ];
    for (const argv of variants) {
      const theirs = await parseCommandLineArgs([...argv], 'usage');
      const c = config(argv, { A: 'a' });
      expect(c.auth.callbackPort).toBe(theirs.callbackPort);
      expect(c.auth.callbackPath).toBe(theirs.callbackPath);
      expect(c.auth.callbackHost).toBe(theirs.host);
    }
    // Without a static client mcp-relay registers its own redirect URI: its defaults stay.
    expect(config([URL_]).auth).toMatchObject({ callbackPort: undefined, callbackPath: undefined, callbackHost: '127.0.0.1' });
    expect(config([URL_, '--static-oauth-client-info', '{"client_id":"x"}', '--host', '127.0.0.1', '--callback-path', '/cb']).auth).toMatchObject({
      callbackHost: '127.0.0.1',
      callbackPath: '/cb',
    });
  });
});
