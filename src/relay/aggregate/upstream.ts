/**
 * One server of the aggregate: its own ServerLink (remote, session, recovery, auth, login, login
 * shield, filters, and the Relay's exactly-one-answer bookkeeping), so a server that is down, slow
 * or waiting for a login holds up nobody else. The router talks to it with this server's own
 * request ids (a counter here); answers to them come back through the callback given with each
 * request, everything else the server sends (notifications, its own requests) goes to `events`.
 *
 * State, for the router's list_changed and error messages:
 * - `starting`: no answer to initialize yet;
 * - `up`: the last answer was the server's own;
 * - `down`: the last request failed to reach it (refused, reset, 5xx, timeout); a probe
 *   (initialize again if it never answered one, else a list request), first after
 *   {@link DOWN_PROBE_FIRST_MS} and then twice as long each time up to {@link DOWN_PROBE_MAX_MS},
 *   notices when it is back;
 * - `login`: the user is being asked to log in to it.
 */
import { describeError } from '../../errors.js';
import type { Config } from '../../config/config.js';
import { isResponse, type JsonRpcId, type JsonRpcMessage, type RawMessage } from '../../jsonrpc/messages.js';
import type { Logger } from '../../log.js';
import { ServerLink, type MakeAuth, type ProxyAuth } from '../server-link.js';

export type UpstreamState = 'starting' | 'up' | 'down' | 'login';

/** Try a server that could not be reached again after this long (it may have been restarted)… */
export const DOWN_PROBE_FIRST_MS = 2_000;
/** …backing off to this, so a server that stays down costs a log line a minute or so, not a stream. */
export const DOWN_PROBE_MAX_MS = 60_000;

/** Relay error codes (data.relay.code) that mean the server could not be reached or answer. */
const UNREACHABLE = new Set(['REMOTE_UNAVAILABLE', 'REMOTE_TIMEOUT', 'REMOTE_HTTP', 'SESSION_EXPIRED', 'AUTH_SERVER_UNAVAILABLE']);

export interface UpstreamEvents {
  /** A message from the server that is not an answer to one of the router's requests. */
  message(up: Upstream, msg: JsonRpcMessage, raw?: RawMessage): void;
  /** The state changed (see the module comment). */
  state(up: Upstream, from: UpstreamState, to: UpstreamState): void;
}

export interface UpstreamDeps {
  log: Logger;
  env: NodeJS.ProcessEnv;
  version: string;
  makeAuth?: MakeAuth | undefined;
  hostReady: () => Promise<void> | undefined;
  events: UpstreamEvents;
}

type Answer = (msg: JsonRpcMessage, raw?: RawMessage) => void;

export class Upstream {
  state: UpstreamState = 'starting';
  /** The server's initialize result once it answered one (capabilities, serverInfo, instructions). */
  init: Record<string, unknown> | undefined;
  private nextId = 1;
  private readonly waiting = new Map<JsonRpcId, Answer>();
  private readonly link: ServerLink;
  private initParams: unknown;
  private probe: NodeJS.Timeout | undefined;
  private probeDelayMs = DOWN_PROBE_FIRST_MS;
  private closed = false;

  private constructor(
    readonly name: string,
    readonly prefix: string,
    readonly config: Config,
    private readonly auth: ProxyAuth | undefined,
    private readonly deps: UpstreamDeps,
    readonly log: Logger,
  ) {
    this.link = new ServerLink({
      config,
      log,
      env: deps.env,
      version: deps.version,
      auth,
      hostReady: deps.hostReady,
      host: { send: (msg, raw) => this.fromServer(msg, raw) },
    });
    auth?.shield?.status.subscribe((event) => {
      if (event === 'waiting') this.setState('login');
      // The login ended: the next answer tells whether the server is up.
      else if (this.state === 'login') this.setState(this.init ? 'up' : 'starting');
    });
  }

  static async open(name: string, prefix: string, config: Config, deps: UpstreamDeps): Promise<Upstream> {
    const log = deps.log.child({ server: name });
    const auth = await deps.makeAuth?.(config, log, deps.env, deps.version);
    return new Upstream(name, prefix, config, auth, deps, log);
  }

  /** True while the user is being asked to log in to this server. */
  loginWaiting(): boolean {
    return this.auth?.shield?.status.waitingForUser() === true;
  }

  /** Send a request under a new id of this server's; `answer` gets exactly one answer (the Relay's promise). */
  request(method: string, params: unknown, answer: Answer): JsonRpcId {
    const id = this.nextId++;
    this.waiting.set(id, answer);
    const msg: JsonRpcMessage = params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
    this.link.fromHost(msg, JSON.stringify(msg));
    return id;
  }

  /** The host cancelled request `id`: its answer, if one still comes, is no longer awaited. */
  forget(id: JsonRpcId): void {
    this.waiting.delete(id);
  }

  /** A notification, or the host's answer to one of this server's requests (ids already this server's). */
  send(msg: JsonRpcMessage): void {
    this.link.fromHost(msg, JSON.stringify(msg));
  }

  /** Open the session with the host's initialize params, then `notifications/initialized`. */
  initialize(params: unknown, answered: (result: Record<string, unknown> | undefined) => void): void {
    this.initParams = params;
    this.request('initialize', params, (msg) => {
      const result = msg.result && typeof msg.result === 'object' ? (msg.result as Record<string, unknown>) : undefined;
      if (result) {
        this.init = result;
        this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      } else {
        this.log.warn(`initialize failed: ${msg.error?.message ?? 'no result'}`);
      }
      answered(result);
    });
  }

  private fromServer(msg: JsonRpcMessage, raw?: RawMessage): void {
    if (isResponse(msg)) {
      const answer = this.waiting.get(msg.id);
      if (answer) {
        this.waiting.delete(msg.id);
        // The answer first: an initialize answer sets `init`, which observe() reads.
        answer(msg, raw);
        this.observe(msg);
        return;
      }
    }
    this.deps.events.message(this, msg, raw);
  }

  /** Learn the server's state from an answer (not from the login shield's stand-in answers). */
  private observe(msg: JsonRpcMessage): void {
    if (this.closed || this.loginWaiting()) return;
    const code = (msg.error?.data as { relay?: { code?: unknown } } | undefined)?.relay?.code;
    if (msg.error && typeof code === 'string' && UNREACHABLE.has(code)) this.setState('down');
    else if (this.init) this.setState('up');
  }

  private setState(to: UpstreamState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.log.info(`server ${this.name} is now ${to}`);
    if (to === 'down') this.armProbe();
    else this.probeDelayMs = DOWN_PROBE_FIRST_MS; // the next outage starts probing quickly again
    this.deps.events.state(this, from, to);
  }

  private armProbe(): void {
    if (this.probe || this.closed || this.state !== 'down') return;
    this.probe = setTimeout(() => this.runProbe(), this.probeDelayMs);
    this.probe.unref();
    this.probeDelayMs = Math.min(DOWN_PROBE_MAX_MS, this.probeDelayMs * 2);
  }

  /** One probe; the next is armed once it is answered (and only if the server is still down). */
  private runProbe(): void {
    const next = () => {
      this.probe = undefined;
      this.armProbe();
    };
    if (this.state !== 'down' || this.closed) return next();
    if (!this.init && this.initParams !== undefined) return this.initialize(this.initParams, next);
    // A list request reaches the server in both revisions (a 2026-07-28 remote answers ping itself).
    const caps = (this.init?.capabilities ?? {}) as Record<string, unknown>;
    const method = caps.tools ? 'tools/list' : caps.prompts ? 'prompts/list' : caps.resources ? 'resources/list' : 'ping';
    this.request(method, undefined, next);
  }

  async close(reason: string): Promise<void> {
    this.closed = true;
    clearTimeout(this.probe);
    try {
      await this.link.close(reason);
    } catch (err) {
      this.log.warn(`error while closing: ${describeError(err)}`);
    }
  }
}

/** A relay error names the server it is about (the host sees one server carrying several). */
export function namedError(up: Upstream, error: NonNullable<JsonRpcMessage['error']>): NonNullable<JsonRpcMessage['error']> {
  const relay = (error.data as { relay?: unknown } | undefined)?.relay;
  if (!relay || !error.message.startsWith('mcp-relay: ')) return error;
  return { ...error, message: `mcp-relay: server "${up.name}": ${error.message.slice('mcp-relay: '.length)}` };
}
