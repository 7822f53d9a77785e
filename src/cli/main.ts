/**
 * CLI entry: parse argv (plain-argv.ts for a plain relay line, else yargs), map errors to exit codes at this edge only.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad command-line input.
 */
import { readFileSync } from 'node:fs';
import { describeError, isRelayError } from '../errors.js';
import { scrub } from '../log.js';
import { fromMcpRemote, type CompatResult } from './mcp-remote-compat.js';
import { connectionOptions } from './options.js';
import { parsePlainRelayArgv } from './plain-argv.js';
import { runProxy } from './proxy.js';
import { resolveServers, serverOptions, type ResolvedServer, type ServersArgs } from './servers.js';

/** Must match SUBCOMMANDS in commands.ts (checked by a test); kept here so the proxy path need not load it. */
export const SUBCOMMAND_WORDS = new Set(['login', 'status', 'logout', 'demo', 'demo-server', 'doctor', 'import', 'migrate-config']);

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const EXAMPLES = `Host configuration examples:
  Claude Desktop (claude_desktop_config.json):
    "mcpServers": { "example": { "command": "npx", "args": ["-y", "mcp-relay", "https://example.com/mcp"] } }
  Claude Code:
    claude mcp add example -- npx -y mcp-relay https://example.com/mcp
  Cursor / Windsurf / Cline / Roo Code (mcp.json): same "command"/"args" shape as Claude Desktop.
  VS Code (.vscode/mcp.json):
    "servers": { "example": { "type": "stdio", "command": "npx", "args": ["-y", "mcp-relay", "https://example.com/mcp"] } }
  On Windows, write headers without a space after the colon (Authorization:\${AUTH}) because
  some hosts split arguments on spaces; put "Bearer xyz" in an "env" entry named AUTH.`;

function fail(message: string): never {
  process.stderr.write(`mcp-relay: ${scrub(message)}\n`);
  process.exit(EXIT_USAGE);
}

/** Run the CLI with argv (without node and script). Resolves when the command is done; sets process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  const version = packageVersion();
  const env = process.env;
  // A stray rejection must be logged, never crash a relay the host depends on.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`mcp-relay: internal error (please report): ${scrub(describeError(reason))}\n`);
  });
  // A host entry written for mcp-remote: its command line in mcp-relay's spelling (logged at start).
  let compat: CompatResult | undefined;
  if (argv.length > 0 && !SUBCOMMAND_WORDS.has(argv[0]!)) {
    try {
      compat = fromMcpRemote(argv, { readFile: (path) => readFileSync(path, 'utf8') });
    } catch (err) {
      if (isRelayError(err, 'BAD_CONFIG')) fail(`${err.message}\nRun 'mcp-relay --help' for usage.`);
      throw err;
    }
    argv = compat.argv;
  }
  /** The default command: relay to the servers the command line names. */
  const relay = async (args: ServersArgs): Promise<void> => {
    const servers = withServers(args, argv, env);
    // Several servers in one process: src/relay/aggregate (issue 17, "One relay for many servers").
    const { makeAuth } = await import('./proxy-auth.js');
    if (servers.length > 1) {
      // Loaded only for an aggregate: a single relay pays nothing for it.
      const { runAggregate } = await import('../relay/aggregate/index.js');
      process.exit(await runAggregate(servers, { env, stdin: process.stdin, stdout: process.stdout, version, makeAuth }));
    }
    const config = servers[0]!.config;
    const code = await runProxy(config, {
      env,
      stdin: process.stdin,
      stdout: process.stdout,
      version,
      makeAuth,
      compat: compat?.translated ? compat : undefined,
    });
    // Keep-alive sockets or a stray timer must not keep a relay alive after its host left.
    process.exit(code);
  };
  // The plain `<url> [flags]` line a host writes is read without loading yargs (plain-argv.ts).
  const plain = argv.length > 0 && !SUBCOMMAND_WORDS.has(argv[0]!) ? parsePlainRelayArgv(argv) : undefined;
  if (plain) {
    try {
      await relay(plain);
    } catch (err) {
      failed(err);
    }
    return;
  }
  // yargs (and its chunk of the bundle) only for the lines plain-argv.ts leaves to it.
  const { loadYargs } = await import('./yargs-lean.js');
  const yargs = await loadYargs(argv);
  const parser = yargs(argv)
    .scriptName('mcp-relay')
    .usage(
      'Usage: $0 <server-url | name...> [options]\n\nRelay a local stdio MCP host to a remote MCP server (Streamable HTTP or legacy SSE), logging in with OAuth when the server asks.',
    )
    .command(
      '$0 [server-url..]',
      'Relay stdio to the remote MCP server (what your host app runs)',
      (y) => serverOptions(connectionOptions(y)),
      (args) => relay(args as unknown as ServersArgs),
    )
    .example('$0 https://example.com/mcp', 'relay to a server, logging in with OAuth when it asks')
    .example('$0 https://example.com/mcp -H "Authorization: Bearer ${API_TOKEN}"', 'static header from an environment variable')
    .example('$0 github --config servers.json', 'relay the server named "github" in a servers file')
    .example('$0 --config servers.json github linear', 'one process for both servers (tools named github__*, linear__*)')
    .example('$0 https://example.com/mcp --no-browser', 'over SSH: print the login URL, finish with `mcp-relay login`')
    .epilogue(EXAMPLES)
    .strictOptions()
    .version(version)
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      fail(`${msg}\nRun 'mcp-relay --help' for usage.`);
    });
  // The other commands are registered (and their modules loaded) only when asked for.
  if (argv.length === 0 || SUBCOMMAND_WORDS.has(argv[0]!) || argv.some((a) => a === '--help' || a === '-h')) {
    (await import('./commands.js')).registerCommands(parser, env);
  }
  try {
    await parser.parseAsync();
  } catch (err) {
    failed(err);
  }
}

/** A command that threw: usage errors exit 2, anything else 1. */
function failed(err: unknown): void {
  if (isRelayError(err, 'BAD_CONFIG')) fail(`${err.message}\nRun 'mcp-relay --help' for usage.`);
  process.stderr.write(`mcp-relay: ${scrub(describeError(err))}\n`);
  process.exitCode = EXIT_FAILURE;
}

function withServers(args: ServersArgs, argv: readonly string[], env: NodeJS.ProcessEnv): ResolvedServer[] {
  try {
    return resolveServers(args, argv, env);
  } catch (err) {
    if (isRelayError(err, 'BAD_CONFIG')) fail(`${err.message}\nRun 'mcp-relay --help' for usage.`);
    throw err;
  }
}
