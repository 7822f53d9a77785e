/**
 * Requests the servers send the host (sampling/createMessage, elicitation/create, roots/list,
 * ping; MCP 2025-11-25 client features). Two servers may use the same request id, or the same
 * progress token, so each request reaches the host under an id of the aggregate's, and a progress
 * token it carries under a token of the aggregate's; the host's answer, its progress and a
 * server's cancellation are mapped back. One entry per request, removed at its answer or
 * cancellation.
 */
import type { JsonRpcId, JsonRpcMessage } from '../../jsonrpc/messages.js';
import type { Upstream } from './upstream.js';

interface Entry {
  up: Upstream;
  id: JsonRpcId;
  token?: { shown: string; own: string | number } | undefined;
}

export class ServerRequests {
  private next = 1;
  /** Host-facing id → the server's request. */
  private readonly byHostId = new Map<JsonRpcId, Entry>();
  /** `<server>\0<its id as JSON>` → host-facing id, for the server's cancellations. */
  private readonly byServerId = new Map<string, JsonRpcId>();
  /** Host-facing progress token → host-facing id of the request that carries it. */
  private readonly tokens = new Map<string, JsonRpcId>();

  /** The server's request as the host sees it (a new id, and a new progress token if it had one). */
  toHost(up: Upstream, msg: JsonRpcMessage & { id: JsonRpcId }): JsonRpcMessage {
    const hostId = `${up.name}:${this.next++}`;
    const entry: Entry = { up, id: msg.id };
    let params = msg.params;
    const meta = (params as { _meta?: Record<string, unknown> } | undefined)?._meta;
    const own = meta?.progressToken;
    if (typeof own === 'string' || typeof own === 'number') {
      entry.token = { shown: hostId, own };
      this.tokens.set(hostId, hostId);
      params = { ...(params as Record<string, unknown>), _meta: { ...meta, progressToken: hostId } };
    }
    this.byHostId.set(hostId, entry);
    this.byServerId.set(key(up, msg.id), hostId);
    return params === undefined ? { jsonrpc: '2.0', id: hostId, method: msg.method! } : { jsonrpc: '2.0', id: hostId, method: msg.method!, params };
  }

  /** The host answered request `msg.id`: send it to the server that asked, under its own id. */
  answer(msg: JsonRpcMessage & { id: JsonRpcId }): boolean {
    const entry = this.take(msg.id);
    if (!entry) return false;
    entry.up.send(msg.error ? { jsonrpc: '2.0', id: entry.id, error: msg.error } : { jsonrpc: '2.0', id: entry.id, result: msg.result });
    return true;
  }

  /** The host reports progress on a token it was given: to the server, with the server's token. */
  progress(msg: JsonRpcMessage): boolean {
    const p = msg.params as { progressToken?: unknown } | undefined;
    const hostId = typeof p?.progressToken === 'string' ? this.tokens.get(p.progressToken) : undefined;
    const entry = hostId === undefined ? undefined : this.byHostId.get(hostId);
    if (!entry?.token) return false;
    entry.up.send({ jsonrpc: '2.0', method: msg.method!, params: { ...p, progressToken: entry.token.own } });
    return true;
  }

  /** The server cancelled its request: the host-facing id to cancel, if the request is still open. */
  cancelled(up: Upstream, requestId: unknown): JsonRpcId | undefined {
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return undefined;
    const hostId = this.byServerId.get(key(up, requestId));
    if (hostId !== undefined) this.take(hostId);
    return hostId;
  }

  private take(hostId: JsonRpcId): Entry | undefined {
    const entry = this.byHostId.get(hostId);
    if (!entry) return undefined;
    this.byHostId.delete(hostId);
    this.byServerId.delete(key(entry.up, entry.id));
    if (entry.token) this.tokens.delete(entry.token.shown);
    return entry;
  }
}

function key(up: Upstream, id: JsonRpcId): string {
  return `${up.name}\0${JSON.stringify(id)}`;
}
