/**
 * The default command: relay the host's stdio to the remote server until the host goes away.
 */
import type { Config } from '../config/config.js';
import { createLogger } from '../log.js';
import { releaseGarbage } from '../memory.js';
import { MAX_MESSAGE_BYTES } from '../jsonrpc/limits.js';
import { Lifetime } from '../relay/lifetime.js';
import { StdioHost } from '../relay/stdio.js';
import { proxyFromEnv } from '../http/fetch.js';
import { ServerLink, type MakeAuth } from '../relay/server-link.js';

export type { ProxyAuth } from '../relay/server-link.js';

export interface ProxyDeps {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  /** Builds the auth side once the logger exists (absent: static headers only). */
  makeAuth?: MakeAuth | undefined;
  version: string;
  /** The command line was mcp-remote's: logged once at start in mcp-relay's spelling. */
  compat?: { spelling: string; warnings: readonly string[] } | undefined;
}

export async function runProxy(config: Config, deps: ProxyDeps): Promise<number> {
  const log = createLogger({ level: config.logLevel, file: config.logFile });
  const proxy = proxyFromEnv(deps.env);
  // `node`: hosts start us with whatever Node is first on their PATH, and behaviour can differ
  // between majors (README "Supported Node versions"); a bug report's log should say which.
  log.info(
    { server: config.serverUrl.href, transport: config.transport, headers: Object.keys(config.headers), proxy, version: deps.version, node: process.version },
    'mcp-relay starting',
  );
  if (deps.compat) {
    log.info(`mcp-remote command line accepted; in mcp-relay's spelling: ${deps.compat.spelling}`);
    for (const w of deps.compat.warnings) log.warn(`mcp-remote option ${w}`);
  }

  const auth = await deps.makeAuth?.(config, log, deps.env, deps.version);
  let link: ServerLink | undefined;
  const maxMessageBytes = config.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const lifetime = new Lifetime(log, (reason) => link!.close(reason));
  const host = new StdioHost(
    deps.stdin as never,
    deps.stdout as never,
    {
      message: (msg, raw) => link!.fromHost(msg, raw),
      close: () => void lifetime.stop('the host closed stdin'),
    },
    log,
    { afterLargeWrite: releaseGarbage, maxMessageBytes },
  );
  link = new ServerLink({ config, log, env: deps.env, version: deps.version, auth, host, hostReady: () => host.whenDrained() });

  return lifetime.run(host);
}
