/**
 * The bridge: host messages in order to the remote, remote messages to the host, and the promise
 * that every host request gets exactly one answer (the server's, or an error saying what failed).
 */
import { describeError, isRelayError, RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Remote } from '../remote/types.js';
import { errorResponse, isRequest, isResponse, RELAY_ERROR, type JsonRpcId, type JsonRpcMessage } from './jsonrpc.js';

export interface HostSide {
  send(msg: JsonRpcMessage, raw?: string): void;
}

export interface RelayOptions {
  host: HostSide;
  remote: Remote;
  log: Logger;
  /** Resolves when no login is in progress; messages wait on it so they keep their order. */
  authIdle?: () => Promise<void>;
  /** Advice appended to errors caused by a failed login (e.g. how to run `mcp-relay login`). */
  loginHint?: string;
}

export class Relay {
  /** Host requests forwarded and not yet answered: id → method. */
  private readonly pending = new Map<JsonRpcId, string>();
  /** Serialises the start of each forward so messages leave in the order the host sent them. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: RelayOptions) {}

  /** A message from the host. */
  fromHost(msg: JsonRpcMessage, raw: string): void {
    if (this.closed) {
      if (isRequest(msg)) this.opts.host.send(errorResponse(msg.id, RELAY_ERROR, 'mcp-relay is shutting down'));
      return;
    }
    if (isRequest(msg)) {
      if (this.pending.has(msg.id)) {
        this.opts.log.warn(`host reused request id ${JSON.stringify(msg.id)} while it was still pending`);
      }
      this.pending.set(msg.id, msg.method);
    }
    this.chain = this.chain.then(async () => {
      if (this.opts.authIdle) await this.opts.authIdle();
      const sent = this.forward(msg, raw);
      // initialize decides the transport and the session: nothing may overtake it.
      if (msg.method === 'initialize') await sent;
    });
  }

  /** A message from the server. */
  fromRemote(msg: JsonRpcMessage, raw?: string): void {
    if (isResponse(msg)) {
      if (!this.pending.delete(msg.id)) {
        this.opts.log.debug(`server answered unknown or already-answered request ${JSON.stringify(msg.id)}; dropped`);
        return;
      }
    }
    this.opts.host.send(msg, raw);
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
    const data = err instanceof RelayError ? { relay: { code: err.code, ...(err.status ? { status: err.status } : {}) } } : undefined;
    this.opts.host.send(errorResponse(id, RELAY_ERROR, `mcp-relay: ${message}`, data));
  }

  /**
   * Stop forwarding, answer what is still pending (a host that is still reading gets an answer,
   * not silence), and end the remote session.
   */
  async shutdown(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.answerError(id, `request not completed: ${reason}`);
    await this.opts.remote.close();
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}
