/**
 * One server behind one Relay: the remote (era and transport choice, session, recovery), its
 * auth hook and login shield, the per-server filter, and the Relay that keeps "every request gets
 * exactly one answer" for it. The single-server proxy (cli/proxy.ts) puts one link behind the
 * stdio host; the aggregate (aggregate/upstream.ts) puts one link per server behind its router.
 * Written once so both run the same code for each server.
 */
import type { AuthHook } from '../auth/hook.js';
import type { Config } from '../config/config.js';
import { ByteBudget, DEFAULT_INFLIGHT_BYTES } from '../http/bounded.js';
import { createLegacyFetch, createMcpFetch } from '../http/fetch.js';
import { MAX_MESSAGE_BYTES } from '../jsonrpc/limits.js';
import type { JsonRpcMessage } from '../jsonrpc/messages.js';
import type { Logger } from '../log.js';
import { AutoRemote } from '../remote/connect.js';
import { storeEraMemory, type EraMemory } from '../remote/era-memory.js';
import { openStore } from '../store/open.js';
import type { ServerStore } from '../store/store.js';
import { describeError } from '../errors.js';
import { DEFAULT_MAX_TIME_MS } from './budget.js';
import { McpFilter } from './filters.js';
import type { LoginShield } from './login-shield.js';
import { Relay, type HostSide } from './relay.js';

/** What the auth side gives one server (built by cli/proxy-auth.ts). */
export interface ProxyAuth {
  hook: AuthHook;
  shield?: LoginShield | undefined;
  idle(): Promise<void>;
  loginHint: string;
  close(): Promise<void>;
  /** This server's store, when the auth side opened it (the era record then uses the same one). */
  server?: ServerStore | undefined;
}

/** Builds the auth side of one server once the logger exists (absent or undefined: static headers only). */
export type MakeAuth = (config: Config, log: Logger, env: NodeJS.ProcessEnv, version: string) => Promise<ProxyAuth | undefined>;

export interface ServerLinkOptions {
  config: Config;
  log: Logger;
  env: NodeJS.ProcessEnv;
  version: string;
  auth?: ProxyAuth | undefined;
  /** Where this server's messages for the host go (answers, notifications, server requests). */
  host: HostSide;
  /** A promise while the host is behind on reading stdout (StdioHost.whenDrained). */
  hostReady: () => Promise<void> | undefined;
}

export class ServerLink {
  readonly relay: Relay;
  private readonly filter: McpFilter | undefined;
  private readonly mcpFetch: ReturnType<typeof createMcpFetch>;
  private readonly legacyFetch: ReturnType<typeof createLegacyFetch>;

  constructor(private readonly opts: ServerLinkOptions) {
    const { config, log } = opts;
    this.filter = McpFilter.fromConfig(config);
    const maxMessageBytes = config.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.mcpFetch = createMcpFetch(opts.env, `mcp-relay/${opts.version}`, config.tls);
    this.legacyFetch = createLegacyFetch(opts.env, config.tls);
    let relay: Relay | undefined;
    const remote = new AutoRemote(
      {
        url: config.serverUrl,
        headers: config.headers,
        fetch: this.mcpFetch,
        hostReady: opts.hostReady,
        webFetch: this.legacyFetch,
        auth: opts.auth?.hook,
        log,
        requestTimeoutMs: config.requestTimeoutMs,
        pingIntervalMs: config.pingIntervalMs,
        watch: (id) => relay!.watch(id),
        bounds: { maxMessageBytes, budget: new ByteBudget(Math.max(DEFAULT_INFLIGHT_BYTES, 2 * maxMessageBytes)) },
        deliver: (msg, raw) => relay!.fromRemote(...(this.filter ? this.filter.fromRemote(msg, raw) : ([msg, raw] as const))),
      },
      config.transport,
      (kind) => log.info(`connected to ${config.serverUrl.host} over ${kind === 'http' ? 'Streamable HTTP' : 'legacy HTTP+SSE'}`),
      eraMemory(opts.auth?.server, config, opts.env, log),
    );
    relay = new Relay({
      host: opts.host,
      remote,
      log,
      authIdle: opts.auth?.idle,
      loginHint: opts.auth?.loginHint,
      shield: opts.auth?.shield,
      loginWaitMs: config.auth.loginWaitMs,
      limits: { idleMs: config.requestTimeoutMs, totalMs: config.maxTimeMs ?? DEFAULT_MAX_TIME_MS },
    });
    this.relay = relay;
  }

  /** A host message for this server: refused here by the filter (answered at once), or relayed. */
  fromHost(msg: JsonRpcMessage, raw: string): void {
    const refused = this.filter?.fromHost(msg);
    if (!refused) return this.relay.fromHost(msg, raw);
    this.opts.log.info(refused.error!.message);
    this.opts.host.send(refused);
  }

  /** Answer what is pending, end the session, release the HTTP clients and the auth side. */
  async close(reason: string): Promise<void> {
    await this.relay.shutdown(reason);
    await this.opts.auth?.close();
    this.mcpFetch.close();
    this.legacyFetch.close();
  }
}

/** The server's era between starts (remote.json); without a usable store, every start probes. */
function eraMemory(server: ServerStore | undefined, config: Config, env: NodeJS.ProcessEnv, log: Logger): EraMemory | undefined {
  try {
    return storeEraMemory(server ?? openStore(config, env, log).server, log);
  } catch (err) {
    log.debug(`no era record: ${describeError(err)}`);
    return undefined;
  }
}
