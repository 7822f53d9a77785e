/**
 * Transport and era choice.
 * - Era (MCP 2026-07-28 streamable-http, Backward Compatibility; basic/versioning): when the host
 *   opens with `initialize` (a 2025 host) or with a modern message (a 2026-07-28 host), POST a
 *   `server/discover` probe first. Modern evidence → 2026-07-28 (ModernRemote translates for a
 *   2025 host, PassthroughRemote carries a modern host's messages); otherwise the 2025 flow. The
 *   verdict is a property of the server, kept for the process lifetime.
 * - Transport (MCP 2025-11-25 transports, backwards compatibility): in the 2025 flow, Streamable
 *   HTTP first; if its initialize POST fails with 400, 404 or 405, GET the URL expecting an SSE
 *   stream whose first event is `endpoint` (legacy HTTP+SSE).
 * - Warm start (era-memory.ts): a 2025 host's `initialize` to a server remembered as 2025-era goes
 *   straight to the remembered transport, with no probe. If the server refuses it before
 *   accepting it (a 4xx on the POST, or a legacy SSE stream that does not open), the record is
 *   stale: the same message then takes the cold path (probe, then the fallbacks above), so the
 *   host still gets exactly one answer. A 2026-07-28 verdict is recorded but never skips the
 *   probe: a 2025 host's session is translated from the probe's DiscoverResult, and a modern
 *   host's own `server/discover` is the probe.
 * Decided by status and JSON-RPC codes, never by error text.
 */
import { describeError, isRelayError, RelayError } from '../errors.js';
import { isRequest, type JsonRpcMessage } from '../jsonrpc/messages.js';
import type { TransportChoice } from '../config/config.js';
import { ModernHttp } from './v2026/post.js';
import { ModernRemote } from './v2026/remote.js';
import { PassthroughRemote } from './v2026/passthrough.js';
import { probeEra } from './v2026/probe.js';
import { discoverProbe, isModernHostMessage, RELAY_CLIENT_INFO } from './v2026/wire.js';
import { StreamableHttpRemote } from './v2025/streamable.js';
import type { Remote, RemoteOptions } from './types.js';
import type { EraMemory, EraRecord } from './era-memory.js';
import type { LegacySseRemote } from './v2025/legacy-sse.js';

/** The legacy transport (the SDK's SSE client and its schemas) is loaded only for old servers. */
async function legacySse(opts: RemoteOptions): Promise<LegacySseRemote> {
  const { LegacySseRemote } = await import('./v2025/legacy-sse.js');
  return new LegacySseRemote(opts);
}

const LEGACY_FALLBACK_STATUSES = new Set([400, 404, 405]);

export class AutoRemote implements Remote {
  private active: Remote | undefined;
  /** The server's era once probed (versioning.mdx: clients SHOULD cache it for the process lifetime). */
  private era: 'modern' | 'legacy' | undefined;
  /** A probe in flight: every message waits for its verdict. */
  private deciding: Promise<void> | undefined;
  private probing: ModernHttp | undefined;
  private closed = false;
  /** The record read at construction (read while the host is still starting up). */
  private readonly recalled: Promise<EraRecord | undefined> | undefined;
  /** This process probed the era: what it learns is worth remembering. */
  private probed = false;
  /** A record being written: waited for at close, never by a message. */
  private remembering: Promise<void> = Promise.resolve();

  constructor(
    private readonly opts: RemoteOptions,
    private readonly choice: TransportChoice,
    /** Told which transport won, e.g. to log it. */
    private readonly onChosen?: (kind: 'http' | 'sse') => void,
    /** Verdicts of earlier starts (absent: probe every time). */
    private readonly memory?: EraMemory,
  ) {
    this.recalled = choice === 'sse' ? undefined : memory?.recall();
  }

  get kind(): 'http' | 'sse' {
    return this.active?.kind ?? (this.choice === 'sse' ? 'sse' : 'http');
  }

  async send(msg: JsonRpcMessage, raw: string): Promise<void> {
    if (this.deciding) await this.deciding;
    const opensEra = this.choice !== 'sse' && this.era === undefined && (msg.method === 'initialize' || isModernHostMessage(msg));
    if (!opensEra) return this.dispatch(msg, raw);
    if (this.deciding) return this.send(msg, raw); // another message started a probe meanwhile
    const run = this.decide(msg, raw);
    this.deciding = run
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.deciding = undefined;
      });
    return run;
  }

  /** Probe the server with the host's first message, settle the era, then send that message. */
  private async decide(msg: JsonRpcMessage, raw: string): Promise<void> {
    const hostModern = isModernHostMessage(msg);
    const record = hostModern ? undefined : await this.recalled;
    if (record?.era === 'legacy' && (record.transport === 'http' || this.choice === 'auto') && (await this.warmStart(msg, raw, record.transport))) return;
    this.probed = true;
    const http = new ModernHttp(this.opts);
    this.probing = http;
    // A modern host's own server/discover is the probe, so the server sees it once.
    const probe = hostModern && msg.method === 'server/discover' && isRequest(msg) ? msg : discoverProbe(msg, RELAY_CLIENT_INFO);
    let outcome;
    try {
      // Sent on behalf of the host's first request: held to that request's budget.
      outcome = await probeEra(http, probe, this.opts.requestTimeoutMs, isRequest(msg) ? this.opts.watch?.(msg.id) : undefined);
    } catch (err) {
      http.close();
      throw err;
    } finally {
      this.probing = undefined;
    }
    if (this.closed) {
      http.close();
      throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down');
    }
    if (outcome.era === 'legacy') {
      http.close();
      this.era = 'legacy';
      // remembered once initialize shows the transport (sendLegacy)
      this.opts.log.info(`the server speaks MCP 2025-11-25 or older (${outcome.reason}); using the initialize handshake`);
      return this.dispatch(msg, raw);
    }
    this.era = 'modern';
    this.remember({ era: 'modern', transport: 'http' });
    await this.active?.close(); // a legacy remote opened by messages that came before the era was known
    if (hostModern) {
      this.active = new PassthroughRemote(this.opts, http);
      this.opts.log.info('the server and the host both speak MCP 2026-07-28; passing messages through');
      this.onChosen?.('http');
      if (probe === msg) return this.opts.deliver(outcome.answer, outcome.raw);
      return this.active.send(msg, raw);
    }
    this.active = new ModernRemote(this.opts, http, outcome.answer.result as Record<string, unknown>);
    this.opts.log.info("the server speaks MCP 2026-07-28; translating the host's 2025 session to it");
    await this.active.send(msg, raw);
    this.onChosen?.('http');
  }

  /**
   * Send the host's `initialize` the way this server worked last time, without a probe. True when
   * it was sent; false when the server refused it before accepting it (the record is stale, and
   * the caller takes the cold path with the same message). Other failures reach the host as usual.
   */
  private async warmStart(msg: JsonRpcMessage, raw: string, transport: 'http' | 'sse'): Promise<boolean> {
    this.era = 'legacy';
    let stale: unknown;
    if (transport === 'sse') {
      const sse = await legacySse(this.opts);
      try {
        // Nothing is sent before the stream gives its endpoint: any failure here is safe to retry.
        await sse.start();
      } catch (err) {
        stale = err;
        await sse.close();
      }
      if (!stale) {
        this.active = sse;
        await sse.send(msg, raw);
      }
    } else {
      const http = new StreamableHttpRemote(this.opts);
      try {
        await http.send(msg, raw);
        this.active = http;
      } catch (err) {
        await http.close();
        // MCP 2025-11-25 transports, backwards compatibility: 400/404/405 to an initialize POST is
        // the server refusing the transport (a 2026-only server sends 400 with -32022); the message
        // was not accepted, so sending it again cannot duplicate it.
        if (!(isRelayError(err, 'REMOTE_HTTP') && err.status !== undefined && LEGACY_FALLBACK_STATUSES.has(err.status))) throw err;
        stale = err;
      }
    }
    if (!stale) {
      this.opts.log.info(`the server spoke MCP 2025-11-25 or older at its last probe; skipped the probe`);
      this.onChosen?.(transport);
      return true;
    }
    this.era = undefined;
    if (this.closed) throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down');
    this.opts.log.info(`the server no longer answers as it did at its last probe (${describeError(stale)}); probing again`);
    return false;
  }

  private async dispatch(msg: JsonRpcMessage, raw: string): Promise<void> {
    if (this.era === 'modern') return this.active!.send(msg, raw);
    if (this.era === 'legacy' && isModernHostMessage(msg)) {
      // Not supported yet: a 2026-07-28 host in front of a 2025 server. An error (not silence)
      // lets a dual-era host fall back to initialize, which then takes the 2025 path below.
      if (!isRequest(msg)) return;
      throw new RelayError(
        'REMOTE_PROTOCOL',
        `the server at ${this.opts.url.host} only speaks MCP 2025-11-25 or older, and mcp-relay cannot yet bridge a 2026-07-28 host to it; start the session with initialize (2025-11-25)`,
      );
    }
    return this.sendLegacy(msg, raw);
  }

  private async sendLegacy(msg: JsonRpcMessage, raw: string): Promise<void> {
    if (!this.active) {
      this.active = this.choice === 'sse' ? await legacySse(this.opts) : new StreamableHttpRemote(this.opts);
    }
    try {
      await this.active.send(msg, raw);
      if (msg.method === 'initialize') this.chosen(this.active.kind);
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
      this.active = await legacySse(this.opts);
      await this.active.send(msg, raw);
      this.chosen('sse');
    }
  }

  /** A 2025-era transport worked for initialize: log it, and remember it when this process probed. */
  private chosen(kind: 'http' | 'sse'): void {
    this.onChosen?.(kind);
    if (this.probed && this.era === 'legacy') this.remember({ era: 'legacy', transport: kind });
  }

  private remember(record: EraRecord): void {
    if (this.memory) this.remembering = this.remembering.then(() => this.memory!.remember(record));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.probing?.close();
    await this.active?.close();
    await this.remembering;
  }
}
