/**
 * `mcp-relay --config FILE a b c` (or `--all`): one stdio MCP server for the host that carries
 * several remote servers. Each server keeps everything a single relay gives it (its own session,
 * recovery, login, login shield, filters, budgets: upstream.ts over relay/server-link.ts); the
 * router (routing.ts) merges and routes between them. See README "One relay for many servers".
 */
import type { Config } from '../../config/config.js';
import { MAX_MESSAGE_BYTES } from '../../jsonrpc/limits.js';
import { proxyFromEnv } from '../../http/fetch.js';
import { createLogger } from '../../log.js';
import { releaseGarbage } from '../../memory.js';
import type { MakeAuth } from '../server-link.js';
import { Lifetime } from '../lifetime.js';
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
  const lifetime = new Lifetime(log, (reason) => router!.shutdown(reason));
  const host = new StdioHost(
    deps.stdin as never,
    deps.stdout as never,
    { message: (msg) => router!.fromHost(msg), close: () => void lifetime.stop('the host closed stdin') },
    log,
    { afterLargeWrite: releaseGarbage, maxMessageBytes },
  );
  router = new Aggregator(host, log, deps.version);
  const upstreamDeps = { log, env: deps.env, version: deps.version, makeAuth: deps.makeAuth, hostReady: () => host.whenDrained(), events: router };
  router.attach(await Promise.all(named.map((s) => Upstream.open(s.name, s.prefix, s.config, upstreamDeps))));
  log.debug(`${named.length} servers opened (auth and store); reading the host`);

  return lifetime.run(host);
}
