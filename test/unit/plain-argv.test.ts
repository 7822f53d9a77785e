import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { connectionOptions } from '../../src/cli/options.js';
import { parsePlainRelayArgv } from '../../src/cli/plain-argv.js';
import { serverOptions } from '../../src/cli/servers.js';

/** What the proxy command's handler gets from yargs for argv, as main.ts builds it (or the refusal). */
function viaYargs(argv: string[]): Record<string, unknown> {
  let parsed: Record<string, unknown> | undefined;
  yargs(argv)
    .scriptName('mcp-relay')
    .command(
      '$0 [server-url..]',
      'relay',
      (y) => serverOptions(connectionOptions(y)),
      (a) => {
        parsed = a as Record<string, unknown>;
      },
    )
    .strictOptions()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseSync();
  if (!parsed) throw new Error('no handler call');
  return parsed;
}

const URL_ = 'https://mcp.example.com/mcp';

describe('the plain relay command line without yargs', () => {
  it.each([
    [[URL_]],
    [[URL_, '--header', 'Authorization: Bearer ${T}', '-H', 'X-A:1']],
    [['--timeout', '5', URL_, '--max-time=60', '--ping-interval', '0.5']],
    [[URL_, '--transport', 'http', '--allow-http', '--no-browser', '--debug']],
    [[URL_, '--deny-tool', 'delete_*', '--allow-tool=get_*', '--deny-tool', 'x']],
    [[URL_, '--log-level', 'debug', '--log-file', '/tmp/x.log', '--credential-store=file', '--dpop', 'never']],
    [[URL_, '--client-id', 'abc', '--client-secret', 'env:S', '--callback-port', '8123', '--scope', 'a b']],
    [['github', 'linear', '--config', '/tmp/servers.json']],
    [['name', '--all']],
  ])('%j: the same arguments as yargs gives the handler', (argv) => {
    const plain = parsePlainRelayArgv(argv);
    expect(plain).toBeDefined();
    const { $0: _a, ...fromYargs } = viaYargs(argv);
    const { $0: _b, ...fromPlain } = plain as unknown as Record<string, unknown>;
    expect(fromPlain).toEqual(fromYargs);
  });

  it.each([
    [[]],
    [['--help']],
    [[URL_, '-h']],
    [[URL_, '--version']],
    [[URL_, '--nope']],
    [[URL_, '--allowHttp']],
    [[URL_, '--allow-http', 'false']],
    [[URL_, '--allow-http=false']],
    [[URL_, '--timeout', '1e3']],
    [[URL_, '--timeout', '-1']],
    [[URL_, '--timeout', '5', '--timeout', '6']],
    [[URL_, '--transport', 'websocket']],
    [['--header', 'A: 1', URL_]],
    [[URL_, '--header']],
    [[URL_, '--', '--x']],
    [[URL_, '-Z']],
    [['123']],
    [['--all']],
  ])('%j: left to yargs', (argv) => {
    expect(parsePlainRelayArgv(argv)).toBeUndefined();
  });
});
