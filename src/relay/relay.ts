/**
 * The bridge: host messages in order to the remote, remote messages to the host, and the promise
 * that every host request gets exactly one answer (the server's, or an error saying what failed).
 */
import { describeError, isRelayError, RelayError } from '../errors.js';
import { scrub, type Logger } from '../log.js';
import type { Remote, RequestWatch } from '../remote/types.js';
import { Budgets, expiryMessage, type BudgetLimits, type Expiry } from './budget.js';
import {
  errorResponse,
  INVALID_REQUEST,
  isRequest,
  isResponse,
  RELAY_ERROR,
  REQUEST_TIMEOUT,
  type JsonRpcId,
  type JsonRpcMessage,
  type RawMessage,
} from '../jsonrpc/messages.js';
import { isCachedMethod, isLoginToolCall, type LoginShield } from './login-shield.js';
import { LoginElicitation } from './login-elicitation.js';

export interface HostSide {
  send(msg: JsonRpcMessage, raw?: RawMessage): void;
}

export interface RelayOptions {
  host: HostSide;
  remote: Remote;
  log: Logger;
  /** Resolves when no login is in progress; messages wait on it so they keep their order. */
  authIdle?: () => Promise<void>;
  /** Advice appended to errors caused by a failed login (e.g. how to run `mcp-relay login`). */
  loginHint?: string | undefined;
  /** Answers the host while the user logs in (see login-shield.ts). */
  shield?: LoginShield | undefined;
  /** How long host requests wait for a login before the shield answers them. */
  loginWaitMs?: number | undefined;
  /** --timeout and --max-time for every forwarded request (see budget.ts); absent: no limits. */
  limits?: BudgetLimits | undefined;
}

/** Default for --login-wait: under the 30–60 s after which hosts give up on a request. */
export const DEFAULT_LOGIN_WAIT_MS = 10_000;

export class Relay {
  /** Host requests forwarded and not yet answered: id → method. */
  private readonly pending = new Map<JsonRpcId, string>();
  /** Serialises the start of each forward so messages leave in the order the host sent them. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Requests whose results are cached for the login shield: id → method. */
  private readonly cacheable = new Map<JsonRpcId, string>();
  private initialize: (JsonRpcMessage & { id: JsonRpcId }) | undefined;
  /** Requests waiting in the chain (not yet forwarded), for the login shield. */
  private readonly queued = new Map<JsonRpcId, { msg: JsonRpcMessage; skip: boolean }>();
  private shieldTimer: NodeJS.Timeout | undefined;
  private readonly budgets: Budgets;
  /** The --login-wait window of the current login has passed: the shield answers at once. */
  private loginWindowPassed = false;
  /** Shield answers go out one batch at a time, in the order the host sent the requests. */
  private shielding: Promise<void> = Promise.resolve();
  /** Shows a pending login in a host that declared URL elicitation (login-elicitation.ts). */
  private readonly elicitation: LoginElicitation | undefined;

  constructor(private readonly opts: RelayOptions) {
    this.budgets = new Budgets(opts.limits ?? { idleMs: 0, totalMs: 0 }, (id, e) => this.expire(id, e));
    this.elicitation = opts.shield && new LoginElicitation(opts.shield, (msg) => opts.host.send(msg), opts.log);
    opts.shield?.status.subscribe((event) => void this.onLoginEvent(event));
  }

  private onLoginEvent(event: 'waiting' | 'done'): void {
    this.elicitation?.onLoginEvent(event);
    if (event === 'waiting') {
      this.armShield();
      return;
    }
    clearTimeout(this.shieldTimer);
    this.shieldTimer = undefined;
    // The next login gets its own window.
    this.loginWindowPassed = false;
    // Lists were answered from the cache: let the host fetch the live ones.
    for (const method of this.opts.shield!.takeListChanged()) this.opts.host.send({ jsonrpc: '2.0', method });
  }

  /** A message from the host. */
  fromHost(msg: JsonRpcMessage, raw: string): void {
    if (this.closed) {
      if (isRequest(msg)) this.opts.host.send(errorResponse(msg.id, RELAY_ERROR, 'mcp-relay is shutting down'));
      return;
    }
    if (this.elicitation) {
      // The host's answer to the relay's own elicitation: not for the server (nor held up by the login).
      const next = this.elicitation.fromHost(msg, raw);
      if (!next) return;
      [msg, raw] = next;
    }
    if (isRequest(msg)) {
      if (this.pending.has(msg.id)) {
        // MCP 2025-11-25 basic, requests: an id MUST NOT be reused within a session. Two requests
        // with one id could not both be answered (the host could not tell the answers apart), so
        // the second is refused at once and never reaches the server; the first keeps its answer.
        this.opts.log.warn(`host reused request id ${JSON.stringify(msg.id)} while it was still pending; answered -32600, not forwarded`);
        this.opts.host.send(
          errorResponse(
            msg.id,
            INVALID_REQUEST,
            `mcp-relay: Invalid Request: id ${JSON.stringify(msg.id)} belongs to a request that is still in progress (request ids must be unique); this ${msg.method} request was not sent to the server`,
          ),
        );
        return;
      }
      const shield = this.opts.shield;
      if (shield && isLoginToolCall(msg)) {
        // The relay's own tool (listed only during a login): answered here at once, never queued
        // behind the login it is about, never sent to the server.
        void shield.answerLoginTool(msg.id).then((answer) => this.opts.host.send(answer));
        return;
      }
      if (msg.method === 'initialize') this.initialize = msg;
      if (shield && isCachedMethod(msg.method) && !(msg.params as { cursor?: unknown } | undefined)?.cursor) this.cacheable.set(msg.id, msg.method);
      this.pending.set(msg.id, msg.method);
    } else if (msg.method === 'notifications/cancelled') {
      // MCP 2025-11-25 cancellation: the server SHOULD NOT answer a cancelled request and the host
      // ignores an answer that comes anyway. So the id is no longer pending (a late answer is
      // dropped), nor answered again at shutdown.
      const id = (msg.params as { requestId?: unknown } | undefined)?.requestId;
      if ((typeof id === 'string' || typeof id === 'number') && id !== this.initialize?.id && this.pending.delete(id)) this.budgets.end(id);
    }
    const entry = { msg, skip: false };
    if (isRequest(msg) && msg.method !== 'initialize') this.queued.set(msg.id, entry);
    this.chain = this.chain.then(async () => {
      if (this.opts.authIdle) await this.opts.authIdle();
      if (isRequest(msg)) this.queued.delete(msg.id);
      // Answered by the login shield while waiting: the host saw an answer, so it must not run now.
      if (entry.skip) return;
      const watch = isRequest(msg) && this.pending.has(msg.id) ? this.budgets.start(msg.id, msg.method) : undefined;
      const sent = this.forward(msg, raw);
      // initialize decides the transport and the session: nothing may overtake it (but its budget bounds the wait).
      if (msg.method === 'initialize') await (watch ? Promise.race([sent, aborted(watch.signal)]) : sent);
    });
    this.armShield();
  }

  /**
   * While the user logs in, give waiting host requests an answer once the login has lasted
   * `loginWaitMs`. One window per login, not per request: a host that starts up in order
   * (initialize, then the lists, then a call) would otherwise wait a full window for each.
   */
  private armShield(): void {
    const shield = this.opts.shield;
    if (!shield?.status.waitingForUser()) return;
    if (this.loginWindowPassed) {
      this.shieldSoon();
      return;
    }
    if (this.shieldTimer) return;
    this.shieldTimer = setTimeout(() => {
      this.shieldTimer = undefined;
      this.loginWindowPassed = true;
      this.shieldSoon();
    }, this.opts.loginWaitMs ?? DEFAULT_LOGIN_WAIT_MS);
  }

  private shieldSoon(): void {
    this.shielding = this.shielding.then(() => this.shieldNow()).catch((err) => this.opts.log.warn(`login shield failed: ${describeError(err)}`));
  }

  private async shieldNow(): Promise<void> {
    const shield = this.opts.shield!;
    if (!shield.status.waitingForUser() || this.closed) return;
    const init = this.initialize;
    if (init && this.pending.has(init.id)) {
      // The real initialize still goes to the server after the login; its answer is then dropped.
      const result = await shield.initializeResult(init);
      if (this.pending.delete(init.id)) {
        this.opts.log.info("login in progress: answered the host's initialize from the last known server state");
        this.opts.host.send({ jsonrpc: '2.0', id: init.id, result });
      }
    }
    for (const [id, entry] of [...this.queued]) {
      if (entry.skip || !this.pending.has(id)) continue;
      entry.skip = true;
      this.queued.delete(id);
      const answer = await shield.answer(entry.msg as JsonRpcMessage & { id: JsonRpcId; method: string });
      if (this.pending.delete(id)) this.opts.host.send(answer);
    }
  }

  /** A message from the server. */
  fromRemote(msg: JsonRpcMessage, raw?: RawMessage): void {
    if (this.elicitation) [msg, raw] = this.elicitation.fromRemote(msg, raw);
    if (isResponse(msg)) {
      const method = this.cacheable.get(msg.id);
      if (method !== undefined) {
        this.cacheable.delete(msg.id);
        if (msg.result && typeof msg.result === 'object' && isCachedMethod(method)) this.opts.shield?.remember(method, msg.result as Record<string, unknown>);
      }
      if (!this.pending.delete(msg.id)) {
        this.opts.log.debug(`server answered unknown or already-answered request ${JSON.stringify(msg.id)}; dropped`);
        return;
      }
      this.budgets.end(msg.id);
    }
    this.opts.host.send(msg, raw);
  }

  /** The budget of a pending host request, for the remote (RemoteOptions.watch). */
  watch(id: JsonRpcId): RequestWatch | undefined {
    return this.budgets.get(id);
  }

  /** A request's budget ran out: answer the host now, and ask the server to stop working on it. */
  private expire(id: JsonRpcId, e: Expiry): void {
    const method = this.pending.get(id);
    if (method === undefined) return;
    const message = expiryMessage(e);
    this.opts.log.warn(`request ${JSON.stringify(id)} (${method}): ${message}`);
    this.pending.delete(id);
    this.opts.host.send(errorResponse(id, REQUEST_TIMEOUT, `mcp-relay: ${message}`, { relay: { code: 'REMOTE_TIMEOUT', limit: e.limit } }));
    // MCP 2025-11-25 utilities/cancellation: a request that timed out SHOULD be cancelled (never initialize).
    if (method !== 'initialize') {
      const cancel = { jsonrpc: '2.0' as const, method: 'notifications/cancelled', params: { requestId: id, reason: `mcp-relay: ${e.limit} exceeded` } };
      this.opts.remote.send(cancel, JSON.stringify(cancel)).catch((err) => this.opts.log.debug(`could not send the cancellation: ${describeError(err)}`));
    }
  }

  private async forward(msg: JsonRpcMessage, raw: string): Promise<void> {
    try {
      await this.opts.remote.send(msg, raw);
    } catch (err) {
      const what = msg.method ?? (isResponse(msg) ? `answer to server request ${JSON.stringify(msg.id)}` : 'message');
      const text = this.explain(err);
      this.opts.log.warn(`could not forward ${what}: ${text}`);
      if (isRequest(msg)) this.answerError(msg.id, text, err);
    }
  }

  private explain(err: unknown): string {
    const text = describeError(err);
    if (this.opts.loginHint && (isRelayError(err, 'AUTH_FAILED') || isRelayError(err, 'AUTH_TIMEOUT') || isRelayError(err, 'AUTH_REQUIRED'))) {
      return `${text}. ${this.opts.loginHint}`;
    }
    return text;
  }

  private answerError(id: JsonRpcId, message: string, err?: unknown): void {
    if (!this.pending.delete(id)) return;
    this.budgets.end(id);
    const data = err instanceof RelayError ? { relay: { code: err.code, ...(err.status ? { status: err.status } : {}) } } : undefined;
    // The edge to the host: whatever a server or authorization server echoed, no secret passes.
    this.opts.host.send(errorResponse(id, RELAY_ERROR, scrub(`mcp-relay: ${message}`), data));
  }

  /**
   * Stop forwarding, answer what is still pending (a host that is still reading gets an answer,
   * not silence), and end the remote session.
   */
  async shutdown(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.shieldTimer);
    this.budgets.endAll();
    for (const id of [...this.pending.keys()]) this.answerError(id, `request not completed: ${reason}`);
    await this.opts.remote.close();
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}

/** Resolves when `signal` aborts (never rejects). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
