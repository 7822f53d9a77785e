/**
 * The default command: relay the host's stdio to the remote server until the host goes away.
 */
import { describeError } from '../errors.js';
import type { Config } from '../config/config.js';
import { createLogger, type Logger } from '../log.js';
import { releaseGarbage } from '../memory.js';
import { DEFAULT_MAX_TIME_MS } from '../relay/budget.js';
import { Relay } from '../relay/relay.js';
import { ToolFilter } from '../relay/filters.js';
import { ByteBudget, DEFAULT_INFLIGHT_BYTES } from '../http/bounded.js';
import { MAX_MESSAGE_BYTES } from '../jsonrpc/limits.js';
import { drainStderr } from '../stderr.js';
import { StdioHost } from '../relay/stdio.js';
import { AutoRemote } from '../remote/connect.js';
import { storeEraMemory, type EraMemory } from '../remote/era-memory.js';
import { openStore } from '../store/open.js';
import { createLegacyFetch, createMcpFetch, proxyFromEnv } from '../http/fetch.js';
import type { AuthHook } from '../auth/hook.js';
import type { LoginShield } from '../relay/login-shield.js';

export interface ProxyDeps {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  /** Builds the auth side once the logger exists (absent: static headers only). */
  makeAuth?: ((config: Config, log: Logger, env: NodeJS.ProcessEnv, version: string) => Promise<ProxyAuth | undefined>) | undefined;
  version: string;
  /** The command line was mcp-remote's: logged once at start in mcp-relay's spelling. */
  compat?: { spelling: string; warnings: readonly string[] } | undefined;
}

export interface ProxyAuth {
  hook: AuthHook;
  shield?: LoginShield | undefined;
  idle(): Promise<void>;
  loginHint: string;
  close(): Promise<void>;
}

/** The server's era between starts (remote.json); without a usable store, every start probes. */
function eraMemory(config: Config, env: NodeJS.ProcessEnv, log: Logger): EraMemory | undefined {
  try {
    return storeEraMemory(openStore(config, env, log).server, log);
  } catch (err) {
    log.debug(`no era record: ${describeError(err)}`);
    return undefined;
  }
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
  let relay: Relay | undefined;
  const filter = config.denyTools?.length ? new ToolFilter(config.denyTools) : undefined;
  const maxMessageBytes = config.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const host = new StdioHost(
    deps.stdin as never,
    deps.stdout as never,
    {
      message: (msg, raw) => {
        const refused = filter?.fromHost(msg);
        if (!refused) return relay!.fromHost(msg, raw);
        log.info(refused.error!.message);
        host.send(refused);
      },
      close: () => void stop('the host closed stdin'),
    },
    log,
    { afterLargeWrite: releaseGarbage, maxMessageBytes },
  );
  const mcpFetch = createMcpFetch(deps.env, `mcp-relay/${deps.version}`, config.tls);
  const legacyFetch = createLegacyFetch(deps.env, config.tls);
  const remote = new AutoRemote(
    {
      url: config.serverUrl,
      headers: config.headers,
      fetch: mcpFetch,
      hostReady: () => host.whenDrained(),
      webFetch: legacyFetch,
      auth: auth?.hook,
      log,
      requestTimeoutMs: config.requestTimeoutMs,
      pingIntervalMs: config.pingIntervalMs,
      watch: (id) => relay!.watch(id),
      bounds: { maxMessageBytes, budget: new ByteBudget(Math.max(DEFAULT_INFLIGHT_BYTES, 2 * maxMessageBytes)) },
      deliver: (msg, raw) => relay!.fromRemote(...(filter ? filter.fromRemote(msg, raw) : ([msg, raw] as const))),
    },
    config.transport,
    (kind) => log.info(`connected to ${config.serverUrl.host} over ${kind === 'http' ? 'Streamable HTTP' : 'legacy HTTP+SSE'}`),
    eraMemory(config, deps.env, log),
  );
  relay = new Relay({
    host,
    remote,
    log,
    authIdle: auth?.idle,
    loginHint: auth?.loginHint,
    shield: auth?.shield,
    loginWaitMs: config.auth.loginWaitMs,
    limits: { idleMs: config.requestTimeoutMs, totalMs: config.maxTimeMs ?? DEFAULT_MAX_TIME_MS },
  });

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
      await relay!.shutdown(reason);
      await auth?.close();
      mcpFetch.close();
      legacyFetch.close();
    } catch (err) {
      log.warn(`error during shutdown: ${describeError(err)}`);
    }
    clearTimeout(grace);
    done(0);
  }
  const onSignal = (sig: NodeJS.Signals) => void stop(`received ${sig}`);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);

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
