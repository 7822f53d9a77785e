/**
 * `mcp-relay --config FILE a b c` (or `--all`): one stdio MCP server for the host that carries
 * several remote servers. Each server keeps everything a single relay gives it (its own session,
 * recovery, login, login shield, filters, budgets: upstream.ts over relay/server-link.ts); the
 * router (routing.ts) merges and routes between them. See README "One relay for many servers".
 */
import type { Config } from '../../config/config.js';
import { describeError } from '../../errors.js';
import { MAX_MESSAGE_BYTES } from '../../jsonrpc/limits.js';
import { proxyFromEnv } from '../../http/fetch.js';
import { createLogger } from '../../log.js';
import { releaseGarbage } from '../../memory.js';
import { drainStderr } from '../../stderr.js';
import type { MakeAuth } from '../server-link.js';
import { StdioHost } from '../stdio.js';
import { checkPrefixes, prefixOf } from './naming.js';
import { Aggregator } from './routing.js';
import { Upstream } from './upstream.js';

export interface AggregateServer {
  name: string;
  config: Config;
  /** The text before `__` in the server's tool and prompt names; null: no prefix (see naming.ts). */
  prefix: string | null;
}

export interface AggregateDeps {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  makeAuth?: MakeAuth | undefined;
  version: string;
}

/** Give up on a clean shutdown after this long (a hung DELETE must not keep a zombie relay). */
const SHUTDOWN_GRACE_MS = 3_000;
/** Longest wait for log lines to reach stderr or the log file at exit. */
const LOG_FLUSH_MAX_MS = 1_000;

/**
 * Run the aggregate until the host goes away. Throws a BAD_CONFIG RelayError before anything
 * connects if the prefixes cannot tell the servers apart (naming.ts).
 */
export async function runAggregate(servers: readonly AggregateServer[], deps: AggregateDeps): Promise<number> {
  const named = servers.map((s) => ({ ...s, prefix: prefixOf(s.prefix) }));
  checkPrefixes(named);
  // One log for the process: the first server's settings (the CLI gives every server the same ones).
  const first = servers[0]!.config;
  const log = createLogger({ level: first.logLevel, file: first.logFile });
  log.info(
    {
      servers: named.map((s) => ({ name: s.name, url: s.config.serverUrl.href, transport: s.config.transport, prefix: s.prefix })),
      proxy: proxyFromEnv(deps.env),
      version: deps.version,
      node: process.version,
    },
    'mcp-relay starting (aggregate)',
  );

  const maxMessageBytes = Math.max(...servers.map((s) => s.config.maxMessageBytes ?? MAX_MESSAGE_BYTES));
  let router: Aggregator | undefined;
  const host = new StdioHost(
    deps.stdin as never,
    deps.stdout as never,
    { message: (msg) => router!.fromHost(msg), close: () => void stop('the host closed stdin') },
    log,
    { afterLargeWrite: releaseGarbage, maxMessageBytes },
  );
  router = new Aggregator(host, log, deps.version);
  const upstreamDeps = { log, env: deps.env, version: deps.version, makeAuth: deps.makeAuth, hostReady: () => host.whenDrained(), events: router };
  router.attach(await Promise.all(named.map((s) => Upstream.open(s.name, s.prefix, s.config, upstreamDeps))));
  log.debug(`${named.length} servers opened (auth and store); reading the host`);

  let done: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (done = resolve));
  let stopping = false;
  async function stop(reason: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info(`shutting down: ${reason}`);
    const grace = setTimeout(() => {
      log.warn('shutdown took too long; exiting anyway');
      done(0);
    }, SHUTDOWN_GRACE_MS);
    grace.unref();
    try {
      await router!.shutdown(reason);
    } catch (err) {
      log.warn(`error during shutdown: ${describeError(err)}`);
    }
    clearTimeout(grace);
    done(0);
  }
  const onSignal = (sig: NodeJS.Signals) => void stop(`received ${sig}`);
  // `on`, not `once` (stop() runs once anyway): proper-lockfile's signal-exit, loaded with the first
  // lock, re-raises a signal when it finds itself the only listener left, which killed the relay
  // mid-shutdown (no DELETE, no answers, exit by signal) when our `once` listener had already gone.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  host.start();
  const code = await finished;
  await Promise.race([
    new Promise<void>((resolve) => log.flush(() => resolve())),
    new Promise<void>((resolve) => setTimeout(resolve, LOG_FLUSH_MAX_MS).unref()),
  ]);
  await drainStderr(LOG_FLUSH_MAX_MS);
  return code;
}
