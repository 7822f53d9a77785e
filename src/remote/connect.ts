/**
 * Transport choice: Streamable HTTP first, legacy HTTP+SSE when the server is too old.
 * MCP 2025-11-25 transports, backwards compatibility: POST the InitializeRequest; if it fails
 * with 400, 404 or 405, GET the URL expecting an SSE stream whose first event is `endpoint`.
 * Decided by status code, never by error text.
 */
import { isRelayError } from '../errors.js';
import type { JsonRpcMessage } from '../relay/jsonrpc.js';
import type { TransportChoice } from '../config.js';
import { LegacySseRemote } from './legacy-sse.js';
import { StreamableHttpRemote } from './streamable.js';
import type { Remote, RemoteOptions } from './types.js';

const LEGACY_FALLBACK_STATUSES = new Set([400, 404, 405]);

export class AutoRemote implements Remote {
  private active: Remote | undefined;

  constructor(
    private readonly opts: RemoteOptions,
    private readonly choice: TransportChoice,
    /** Told which transport won, e.g. to remember it per server. */
    private readonly onChosen?: (kind: 'http' | 'sse') => void,
  ) {}

  get kind(): 'http' | 'sse' {
    return this.active?.kind ?? (this.choice === 'sse' ? 'sse' : 'http');
  }

  async send(msg: JsonRpcMessage, raw: string): Promise<void> {
    if (!this.active) {
      this.active = this.choice === 'sse' ? new LegacySseRemote(this.opts) : new StreamableHttpRemote(this.opts);
    }
    try {
      await this.active.send(msg, raw);
      if (msg.method === 'initialize') this.onChosen?.(this.active.kind);
    } catch (err) {
      const fallback =
        this.choice === 'auto' &&
        this.active.kind === 'http' &&
        msg.method === 'initialize' &&
        isRelayError(err, 'REMOTE_HTTP') &&
        err.status !== undefined &&
        LEGACY_FALLBACK_STATUSES.has(err.status);
      if (!fallback) throw err;
      this.opts.log.info(`server answered HTTP ${(err as { status?: number }).status} to a Streamable HTTP initialize; trying the legacy HTTP+SSE transport`);
      await this.active.close();
      this.active = new LegacySseRemote(this.opts);
      await this.active.send(msg, raw);
      this.onChosen?.('sse');
    }
  }

  async close(): Promise<void> {
    await this.active?.close();
  }
}
