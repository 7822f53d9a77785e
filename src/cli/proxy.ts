/**
 * The default command: relay the host's stdio to the remote server until the host goes away.
 */
import { describeError } from '../errors.js';
import type { Config } from '../config/config.js';
import { createLogger } from '../log.js';
import { releaseGarbage } from '../memory.js';
import { MAX_MESSAGE_BYTES } from '../jsonrpc/limits.js';
import { drainStderr } from '../stderr.js';
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

/** Give up on a clean shutdown after this long (a hung DELETE must not keep a zombie relay). */
const SHUTDOWN_GRACE_MS = 3_000;
/** Longest wait for log lines to reach stderr or the log file at exit. */
const LOG_FLUSH_MAX_MS = 1_000;

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
  const host = new StdioHost(
    deps.stdin as never,
    deps.stdout as never,
    {
      message: (msg, raw) => link!.fromHost(msg, raw),
      close: () => void stop('the host closed stdin'),
    },
    log,
    { afterLargeWrite: releaseGarbage, maxMessageBytes },
  );
  link = new ServerLink({ config, log, env: deps.env, version: deps.version, auth, host, hostReady: () => host.whenDrained() });

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
      await link!.close(reason);
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
  // Flush logs, but never wait long for a host that does not read our stderr.
  await Promise.race([
    new Promise<void>((resolve) => log.flush(() => resolve())),
    new Promise<void>((resolve) => setTimeout(resolve, LOG_FLUSH_MAX_MS).unref()),
  ]);
  await drainStderr(LOG_FLUSH_MAX_MS);
  return code;
}
