/**
 * `mcp-relay demo` (the walkthrough `npm run demo` runs) and `mcp-relay demo-server` (only the
 * demo server, for trying the relay with your own host app and browser).
 *
 * The demo itself is imported only when one of these commands runs: it is the one part of the
 * relay that runs an MCP *server* (the SDK's Server and Streamable HTTP server transport, which
 * bring ajv and @hono/node-server), and the bundled build keeps it in chunks that `status`,
 * `login` and `doctor` never load.
 */
import type { Argv } from 'yargs';
import { RelayError } from '../errors.js';

/** A fixed default port, so a host configuration pasted once keeps working across restarts. */
export const DEFAULT_DEMO_SERVER_PORT = 7331;
/** Default access-token lifetime: an hour, like many real servers (--token-ttl to see refreshes). */
export const DEFAULT_DEMO_TOKEN_TTL_SEC = 3600;

/** Highest TCP port. */
const MAX_PORT = 65_535;

/** An AbortSignal aborted by the first SIGINT or SIGTERM (handlers removed by `dispose`). */
function signalOnTermination(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
    },
  };
}

/** Exit once stdout has taken everything (pipes are asynchronous on some platforms). */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

const write = (stream: NodeJS.WriteStream) => (text: string) => void stream.write(text);
const colour = (env: NodeJS.ProcessEnv) => process.stdout.isTTY === true && !env.NO_COLOR;

/** Add `demo` and `demo-server` to the CLI. */
export function registerDemoCommands(parser: Argv, env: NodeJS.ProcessEnv): void {
  parser.command(
    'demo',
    'Walk through a real login and use of a local OAuth-protected MCP server, step by step (what `npm run demo` runs)',
    (y) =>
      y
        .option('auto', { type: 'boolean', default: false, describe: 'Approve the consent page automatically even if a browser could open' })
        .option('keep-store', { type: 'boolean', default: false, describe: "Keep the demo's temporary credential store and print where it is" })
        .example('$0 demo', 'run the walkthrough (your browser opens when one is available)')
        .example('$0 demo --auto', 'run it without a browser (as the test suite does)'),
    async (args) => {
      const { runDemo } = await import('../demo/run.js');
      await untilDone(env, (io) => runDemo({ auto: Boolean(args.auto), keepStore: Boolean(args['keep-store']), ...io }));
    },
  );

  parser.command(
    'demo-server',
    'Run only the demo OAuth-protected MCP server, to try with your own host app and browser',
    (y) =>
      y
        .option('port', { type: 'number', default: DEFAULT_DEMO_SERVER_PORT, describe: 'Port on 127.0.0.1 (0: any free port)' })
        .option('auto-approve', { type: 'boolean', default: false, describe: 'Skip the consent page and approve every login at once' })
        .option('token-ttl', {
          type: 'number',
          default: DEFAULT_DEMO_TOKEN_TTL_SEC,
          describe: 'Access-token lifetime in seconds (short values show refreshes)',
        })
        .example('$0 demo-server', 'serve http://127.0.0.1:7331/mcp until Ctrl+C')
        .example('$0 demo-server --port 0 --token-ttl 30', 'any free port, tokens that expire quickly'),
    async (args) => {
      const port = Number(args.port);
      if (!Number.isInteger(port) || port < 0 || port > MAX_PORT)
        throw new RelayError('BAD_CONFIG', `--port must be an integer from 0 to ${MAX_PORT} (got ${String(args.port)})`);
      const ttl = Number(args['token-ttl']);
      if (!Number.isInteger(ttl) || ttl < 1)
        throw new RelayError('BAD_CONFIG', `--token-ttl must be a whole number of seconds, at least 1 (got ${String(args['token-ttl'])})`);
      const { runDemoServer } = await import('../demo/run-server.js');
      await untilDone(env, (io) => runDemoServer({ port, autoApprove: Boolean(args['auto-approve']), tokenTtlSec: ttl, ...io }));
    },
  );
}

/** Run a demo command with terminal I/O and a signal that fires on SIGINT/SIGTERM, then exit. */
async function untilDone(
  env: NodeJS.ProcessEnv,
  run: (io: { env: NodeJS.ProcessEnv; out: (t: string) => void; err: (t: string) => void; colour: boolean; signal: AbortSignal }) => Promise<number>,
): Promise<void> {
  const stop = signalOnTermination();
  const code = await run({ env, out: write(process.stdout), err: write(process.stderr), colour: colour(env), signal: stop.signal });
  stop.dispose();
  // Keep-alive sockets of finished children must not hold the process open.
  exitAfterFlush(code);
}
