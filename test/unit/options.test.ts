import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectionOptions, DEFAULT_AUTH_TIMEOUT_S, DEFAULT_REQUEST_TIMEOUT_S, type ConnectionArgs } from '../../src/cli/options.js';
import { toConfig } from '../../src/cli/to-config.js';
import type { Config } from '../../src/config/config.js';
import { RelayError } from '../../src/errors.js';

/** Parse argv exactly as the proxy command does (yargs + connectionOptions), then build the Config. */
function parseArgs(argv: string[]): ConnectionArgs {
  let parsed: unknown;
  yargs(argv)
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
  return parsed as ConnectionArgs;
}

function config(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  return toConfig(parseArgs(argv), env);
}

function refusal(argv: string[], env: NodeJS.ProcessEnv = {}): RelayError {
  try {
    config(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('BAD_CONFIG');
    return err as RelayError;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

const URL_ = 'https://mcp.example.com/mcp';

describe('toConfig defaults', () => {
  it('a bare server URL gives the documented defaults', () => {
    const c = config([URL_]);
    expect(c.serverUrl.href).toBe(URL_);
    expect(c.headers).toEqual({});
    expect(c.transport).toBe('auto');
    expect(c.allowHttp).toBe(false);
    expect(c.requestTimeoutMs).toBe(DEFAULT_REQUEST_TIMEOUT_S * 1000);
    expect(c.logLevel).toBe('info');
    expect(c.logFile).toBeUndefined();
    // toMatchObject: options added later (login wait, device flow, ...) have their own tests.
    expect(c.auth).toMatchObject({
      clientId: undefined,
      clientSecret: undefined,
      clientInfo: undefined,
      clientMetadataUrl: undefined,
      resource: undefined,
      omitResource: false,
      scope: undefined,
      callbackPort: undefined,
      callbackHost: '127.0.0.1',
      authTimeoutMs: DEFAULT_AUTH_TIMEOUT_S * 1000,
      noBrowser: false,
    });
  });

  it('refuses a missing server URL', () => {
    const args = parseArgs([URL_]);
    const err = (() => {
      try {
        toConfig({ ...args, serverUrl: undefined, 'server-url': undefined } as unknown as ConnectionArgs, {});
      } catch (e) {
        return e as RelayError;
      }
    })();
    expect(err?.code).toBe('BAD_CONFIG');
    expect(err?.message).toMatch(/missing the server URL/);
  });

  it('validates the server URL (plain http off loopback needs --allow-http)', () => {
    expect(refusal(['http://mcp.example.com/mcp']).message).toMatch(/--allow-http/);
    expect(config(['http://mcp.example.com/mcp', '--allow-http']).allowHttp).toBe(true);
  });
});

describe('toConfig options', () => {
  it('--debug sets the log level to debug', () => {
    expect(config([URL_, '--debug']).logLevel).toBe('debug');
    expect(config([URL_, '--debug', '--log-level', 'warn']).logLevel).toBe('debug');
  });

  it('--debug does not make --log-level trace quieter', () => {
    expect(config([URL_, '--debug', '--log-level', 'trace']).logLevel).toBe('trace');
  });

  it('--log-level and --log-file pass through', () => {
    const c = config([URL_, '--log-level', 'warn', '--log-file', '/tmp/relay.log']);
    expect(c.logLevel).toBe('warn');
    expect(c.logFile).toBe('/tmp/relay.log');
  });

  it('--timeout and --auth-timeout are seconds, stored as milliseconds', () => {
    const c = config([URL_, '--timeout', '30', '--auth-timeout', '1.5']);
    expect(c.requestTimeoutMs).toBe(30_000);
    expect(c.auth.authTimeoutMs).toBe(1_500);
  });

  it('--timeout 0 means never', () => {
    expect(config([URL_, '--timeout', '0']).requestTimeoutMs).toBe(0);
  });

  it.each([
    [['--timeout', '-1'], /--timeout/],
    [['--timeout', 'soon'], /--timeout/],
    [['--auth-timeout', '-5'], /--auth-timeout/],
    [['--auth-timeout', 'x'], /--auth-timeout/],
    // A login that times out the moment it starts can never succeed.
    [['--auth-timeout', '0'], /--auth-timeout/],
    // Node timers fire at once past 2^31-1 ms (~24.8 days): a huge timeout must not become none.
    [['--timeout', '3000000'], /--timeout/],
    [['--auth-timeout', '1e10'], /--auth-timeout/],
  ])('refuses %j', (extra, message) => {
    expect(refusal([URL_, ...extra]).message).toMatch(message);
  });

  it('--header values become lower-case named headers with ${ENV} expanded', () => {
    const c = config([URL_, '-H', 'X-Api-Key: ${KEY}', '--header', 'X-Other:plain'], { KEY: 'k-123' });
    expect(c.headers).toEqual({ 'x-api-key': 'k-123', 'x-other': 'plain' });
  });

  it('--transport, --scope, --omit-resource pass through', () => {
    const c = config([URL_, '--transport', 'sse', '--scope', 'files:read files:write', '--omit-resource']);
    expect(c.transport).toBe('sse');
    expect(c.auth.scope).toBe('files:read files:write');
    expect(c.auth.omitResource).toBe(true);
  });

  it('--credential-store: auto by default, keychain and file pass through, anything else is refused by the parser', () => {
    expect(config([URL_]).credentialStore).toBe('auto');
    expect(config([URL_, '--credential-store', 'keychain']).credentialStore).toBe('keychain');
    expect(config([URL_, '--credential-store', 'file']).credentialStore).toBe('file');
    expect(() => config([URL_, '--credential-store', 'vault'])).toThrow(/credential-store/);
  });

  it('--no-browser sets noBrowser', () => {
    expect(config([URL_, '--no-browser']).auth.noBrowser).toBe(true);
    expect(config([URL_, '--browser']).auth.noBrowser).toBe(false);
  });

  it('--callback-port accepts 1..65535', () => {
    expect(config([URL_, '--callback-port', '33418']).auth.callbackPort).toBe(33418);
    expect(config([URL_, '--callback-port', '1']).auth.callbackPort).toBe(1);
    expect(config([URL_, '--callback-port', '65535']).auth.callbackPort).toBe(65535);
  });

  it.each(['0', '65536', '-1', '80.5', 'abc'])('refuses --callback-port %s', (port) => {
    expect(refusal([URL_, '--callback-port', port]).message).toMatch(/--callback-port must be an integer from 1 to 65535/);
  });

  it.each(['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]'])('accepts --callback-host %s', (host) => {
    expect(config([URL_, '--callback-host', host]).auth.callbackHost).toBe(host);
  });

  it.each(['0.0.0.0', '192.168.1.10', 'example.com', '::', '127.999.0.1'])('refuses a non-loopback --callback-host %s at startup', (host) => {
    expect(refusal([URL_, '--callback-host', host]).message).toMatch(/--callback-host/);
  });

  it('--resource is kept as given when valid', () => {
    expect(config([URL_, '--resource', 'https://mcp.example.com']).auth.resource).toBe('https://mcp.example.com');
  });

  it.each([
    ['not a url', /not a valid URL/],
    ['ftp://mcp.example.com/', /http\(s\)/],
    // RFC 8707 §2: the resource MUST NOT include a fragment.
    ['https://mcp.example.com/mcp#frag', /fragment/],
  ])('refuses --resource %s', (resource, message) => {
    expect(refusal([URL_, '--resource', resource]).message).toMatch(message);
  });

  it('--client-metadata-url accepts an https URL with a path', () => {
    const url = 'https://app.example.com/oauth/client.json';
    expect(config([URL_, '--client-metadata-url', url]).auth.clientMetadataUrl).toBe(url);
    expect(config([URL_, '--client-metadata-url', 'http://127.0.0.1:9/client.json']).auth.clientMetadataUrl).toBe('http://127.0.0.1:9/client.json');
  });

  it.each(['http://app.example.com/client.json', 'https://app.example.com', 'https://app.example.com/', 'https://app.example.com/c.json#x', 'client.json'])(
    'refuses --client-metadata-url %s (a client ID metadata document URL is https with a path)',
    (url) => {
      expect(refusal([URL_, '--client-metadata-url', url]).message).toMatch(/--client-metadata-url/);
    },
  );
});

describe('toConfig static client', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-relay-options-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--client-id and --client-secret (plain, env:NAME, @file)', async () => {
    const file = join(dir, 'secret');
    await writeFile(file, 'from-file\n');
    expect(config([URL_, '--client-id', 'cid', '--client-secret', 'plain']).auth).toMatchObject({ clientId: 'cid', clientSecret: 'plain' });
    expect(config([URL_, '--client-id', 'cid', '--client-secret', 'env:S'], { S: 'from-env' }).auth.clientSecret).toBe('from-env');
    expect(config([URL_, '--client-id', 'cid', '--client-secret', `@${file}`]).auth.clientSecret).toBe('from-file');
  });

  it('refuses --client-secret without --client-id', () => {
    expect(refusal([URL_, '--client-secret', 'shh']).message).toMatch(/--client-secret needs --client-id/);
  });

  it('refuses an empty --client-id instead of silently registering a new client', () => {
    expect(refusal([URL_, '--client-id', '']).message).toMatch(/--client-id/);
    expect(refusal([URL_, '--client-id', 'env:EMPTY'], { EMPTY: '' }).message).toMatch(/--client-id/);
  });

  it('--client-info as inline JSON or @file', async () => {
    const file = join(dir, 'client.json');
    await writeFile(file, JSON.stringify({ client_id: 'file-id', client_secret: '${S}' }));
    expect(config([URL_, '--client-info', '{"client_id":"inline-id"}']).auth.clientInfo).toEqual({ client_id: 'inline-id' });
    expect(config([URL_, '--client-info', `@${file}`], { S: 'shh' }).auth.clientInfo).toEqual({ client_id: 'file-id', client_secret: 'shh' });
  });

  it('--client-secret with --client-info fills in the secret the file leaves out (not silently ignored)', () => {
    const c = config([URL_, '--client-info', '{"client_id":"cid"}', '--client-secret', 'env:S'], { S: 'shh' });
    expect(c.auth.clientInfo).toEqual({ client_id: 'cid', client_secret: 'shh' });
  });

  it('refuses two different secrets from --client-info and --client-secret', () => {
    expect(refusal([URL_, '--client-info', '{"client_id":"cid","client_secret":"a"}', '--client-secret', 'b']).message).toMatch(/--client-secret/);
  });

  it('refuses --client-id naming a different client than --client-info', () => {
    expect(refusal([URL_, '--client-info', '{"client_id":"one"}', '--client-id', 'two']).message).toMatch(/--client-id/);
    expect(config([URL_, '--client-info', '{"client_id":"same"}', '--client-id', 'same']).auth.clientInfo).toEqual({ client_id: 'same' });
  });
});

describe('enterprise sign-in flags', () => {
  it('--workload-token keeps the file as a source (read at each token request) and takes env:NAME once', () => {
    expect(config([URL_, '--workload-token', '@/var/run/secrets/token']).auth.workloadToken).toEqual({
      file: '/var/run/secrets/token',
      flag: '--workload-token',
    });
    expect(config([URL_, '--workload-token', 'env:WIF'], { WIF: 'eyJ.x.y' }).auth.workloadToken).toEqual({ value: 'eyJ.x.y', flag: '--workload-token' });
    expect(refusal([URL_, '--workload-token', 'eyJ.x.y']).message).toContain('@path/to/file or env:NAME');
  });

  it('the machine logins exclude each other and the interactive options', () => {
    expect(refusal([URL_, '--workload-token', '@t', '--client-credentials', '--client-id', 'c', '--client-secret', 's']).message).toContain(
      'two different logins',
    );
    expect(refusal([URL_, '--workload-token', '@t', '--idp-issuer', 'https://idp.example', '--client-id', 'c']).message).toContain('two different logins');
    expect(refusal([URL_, '--idp-issuer', 'https://idp.example', '--idp-id-token', '@t', '--client-id', 'c', '--device-code']).message).toContain(
      'two different logins',
    );
    // Without --idp-id-token the relay signs in at the IdP, and --device-code picks the device flow there.
    expect(config([URL_, '--idp-issuer', 'https://idp.example', '--client-id', 'c', '--device-code']).auth.deviceCode).toBe(true);
  });

  it('--idp-issuer needs the MCP client; the other --idp-* flags need --idp-issuer; URLs must be https', () => {
    expect(refusal([URL_, '--idp-issuer', 'https://idp.example']).message).toContain('--client-id');
    expect(refusal([URL_, '--idp-client-id', 'x']).message).toContain('need --idp-issuer');
    expect(refusal([URL_, '--idp-issuer', 'http://idp.example', '--client-id', 'c']).message).toContain('https');
    const c = config(
      [
        URL_,
        '--idp-issuer',
        'https://idp.example',
        '--idp-client-id',
        'relay',
        '--idp-client-secret',
        'env:S',
        '--idp-id-token',
        '@/tmp/id',
        '--client-id',
        'c',
      ],
      { S: 'sec' },
    );
    expect(c.auth.enterprise).toEqual({
      idpIssuer: 'https://idp.example',
      idpClientId: 'relay',
      idpClientSecret: 'sec',
      idpIdToken: { file: '/tmp/id', flag: '--idp-id-token' },
      idpTokenEndpoint: undefined,
    });
  });
});

describe('--dpop', () => {
  it('defaults to auto, takes always and never, and refuses anything else', () => {
    expect(config([URL_]).auth.dpop).toBe('auto');
    expect(config([URL_, '--dpop', 'always']).auth.dpop).toBe('always');
    expect(config([URL_, '--dpop', 'never']).auth.dpop).toBe('never');
    expect(() => parseArgs([URL_, '--dpop', 'sometimes'])).toThrow(/sometimes/);
  });
});
