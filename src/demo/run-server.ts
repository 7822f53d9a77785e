/**
 * `mcp-relay demo-server`: only the embedded OAuth-protected MCP server, on a printed URL, so a
 * user can point their own host app at it through the relay and try the real browser flow.
 * Runs until its signal is aborted (SIGINT/SIGTERM in the CLI), then closes and returns 0.
 */
import { describeError } from '../errors.js';
import { createNarrator, painter, type Write } from './run-output.js';
import { describeRequest, requestMeaning } from './run-observe.js';
import { RELAY_BIN } from './run-relay.js';
import { startDemoServer } from './server.js';
import type { DemoRequestEvent } from './types.js';

const HOST = '127.0.0.1';
const SERVER_NAME = 'mcp-relay-demo';

export interface DemoServerRunOptions {
  /** 0 for any free port. */
  port: number;
  /** Skip the consent page (approve every authorization request at once). */
  autoApprove: boolean;
  tokenTtlSec: number;
  env: NodeJS.ProcessEnv;
  out: Write;
  err: Write;
  colour: boolean;
  /** Aborting it stops the server. */
  signal: AbortSignal;
}

function clock(d: Date): string {
  return d.toTimeString().slice(0, 8);
}

/** Ready-to-paste host configuration for `url`, through this very relay build and through npx. */
export function hostConfigSnippets(url: string): { local: string; npx: string; claudeCode: string; login: string } {
  const local = { mcpServers: { [SERVER_NAME]: { command: process.execPath, args: [RELAY_BIN, url] } } };
  const npx = { mcpServers: { [SERVER_NAME]: { command: 'npx', args: ['-y', 'mcp-relay', url] } } };
  return {
    local: JSON.stringify(local, null, 2),
    npx: JSON.stringify(npx),
    claudeCode: `claude mcp add ${SERVER_NAME} -- npx -y mcp-relay ${url}`,
    login: `${JSON.stringify(process.execPath)} ${JSON.stringify(RELAY_BIN)} login ${url}`,
  };
}

/** Start the demo server, print how to use it, log requests until aborted. Resolves with the exit code. */
export async function runDemoServer(opts: DemoServerRunOptions): Promise<number> {
  const say = createNarrator(opts.out, painter(opts.colour, opts.env));
  let server;
  try {
    server = await startDemoServer({ host: HOST, port: opts.port, autoApprove: opts.autoApprove, accessTokenTtlSec: opts.tokenTtlSec });
  } catch (err) {
    const busy = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    opts.err(`mcp-relay demo-server: ${busy ? `port ${opts.port} is in use: pass --port <n>, or --port 0 for any free port` : describeError(err)}\n`);
    return 1;
  }
  const onRequest = (e: DemoRequestEvent) => {
    const why = requestMeaning(e);
    say.line(`  ${say.paint('dim', clock(new Date()))}  ${describeRequest(e)}${why ? `  ${say.paint('dim', `(${why})`)}` : ''}`);
  };
  server.events.on('request', onRequest);

  const s = hostConfigSnippets(server.url);
  say.title('mcp-relay demo server');
  say.field('MCP endpoint', server.url);
  say.field(
    'Authorization',
    `${server.issuer}  (discovery, dynamic registration, PKCE S256, ${opts.autoApprove ? 'auto-approve: no consent page' : 'a consent page to approve'})`,
  );
  say.field('Tokens', `access tokens live ${opts.tokenTtlSec} s, refresh tokens rotate; tools: echo, add, whoami, slow, admin_report`);
  say.line();
  say.line('Point a host app at it through the relay, e.g. Claude Desktop (claude_desktop_config.json):');
  say.line(s.local.replace(/^/gm, '  '));
  say.line(`  (with the published package: ${s.npx})`);
  say.line(`  Claude Code: ${s.claudeCode}`);
  say.line('Or log in from a terminal (your browser opens the consent page; the login is stored for the relay):');
  say.line(`  ${s.login}`);
  say.line();
  say.line(say.paint('dim', 'This server keeps clients and tokens in memory: after it restarts, relays register and log in again. Ctrl+C stops it.'));
  say.line('Requests as they arrive:');

  if (!opts.signal.aborted) await new Promise<void>((resolve) => opts.signal.addEventListener('abort', () => resolve(), { once: true }));
  server.events.off('request', onRequest);
  await server.close();
  say.line('Demo server stopped.');
  return 0;
}
