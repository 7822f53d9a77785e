/**
 * Multi round-trip requests (MCP 2026-07-28 basic/patterns/mrtr) for a 2025-11-25 host: the
 * server's `inputRequests` become real server→client JSON-RPC requests to the host, under ids the
 * relay mints; the host's answers come back through `send` and are collected here (never POSTed:
 * a 2026-07-28 client MUST NOT send JSON-RPC responses), keyed as the server asked.
 */
import type { Logger } from '../../log.js';
import { isResponse, RELAY_ERROR, type JsonRpcError, type JsonRpcId, type JsonRpcMessage } from '../../jsonrpc/messages.js';

const INPUT_ID_PREFIX = 'mcp-relay-input-';
/** The input request kinds a 2026-07-28 server may embed (mrtr: ElicitRequest | CreateMessageRequest | ListRootsRequest). */
const INPUT_METHODS = new Set(['elicitation/create', 'sampling/createMessage', 'roots/list']);

export type AskOutcome = { kind: 'answered'; responses: Record<string, unknown> } | { kind: 'failed'; error: JsonRpcError } | { kind: 'aborted' };

export class HostInputs {
  private seq = 0;
  private readonly waiting = new Map<JsonRpcId, (answer: JsonRpcMessage) => void>();

  constructor(
    private readonly deliver: (msg: JsonRpcMessage) => void,
    private readonly log: Logger,
  ) {}

  /** Take the host's answer to one of our input requests; false when `msg` is not one. */
  take(msg: JsonRpcMessage): boolean {
    if (!isResponse(msg)) return false;
    const waiter = this.waiting.get(msg.id);
    if (!waiter) return false;
    this.waiting.delete(msg.id);
    waiter(msg);
    return true;
  }

  /**
   * Ask the host every entry of `inputRequests` (at once) and collect the results by key.
   * A declined elicitation stays an answer ({action: 'decline'}); a host error for sampling or
   * roots fails the whole request with a message that says so.
   */
  async ask(inputRequests: unknown, signal: AbortSignal): Promise<AskOutcome> {
    if (!inputRequests || typeof inputRequests !== 'object' || Array.isArray(inputRequests)) {
      return { kind: 'failed', error: { code: RELAY_ERROR, message: 'mcp-relay: the server asked for input with an "inputRequests" that is not an object' } };
    }
    const entries = Object.entries(inputRequests as Record<string, unknown>);
    for (const [key, req] of entries) {
      const method = (req as { method?: unknown } | null)?.method;
      if (typeof method !== 'string' || !INPUT_METHODS.has(method)) {
        return {
          kind: 'failed',
          error: { code: RELAY_ERROR, message: `mcp-relay: the server asked for input "${key}" with an unknown kind ${JSON.stringify(method)}` },
        };
      }
    }
    const answers = await Promise.all(entries.map(([key, req]) => this.askOne(key, req as { method: string; params?: Record<string, unknown> }, signal)));
    if (signal.aborted) return { kind: 'aborted' };
    const responses: Record<string, unknown> = {};
    for (const [i, [key, req]] of entries.entries()) {
      const answer = answers[i]!;
      if (!answer.error) {
        responses[key] = answer.result ?? {};
        continue;
      }
      if ((req as { method: string }).method === 'elicitation/create') {
        // The host could not show the form: to the server that is the user declining.
        this.log.info(`the host could not answer elicitation "${key}" (${answer.error.message}); telling the server it was declined`);
        responses[key] = { action: 'decline' };
        continue;
      }
      return {
        kind: 'failed',
        error: {
          code: RELAY_ERROR,
          message: `mcp-relay: the server needs ${(req as { method: string }).method} from the host, and the host answered with an error: ${answer.error.message}`,
        },
      };
    }
    return { kind: 'answered', responses };
  }

  private askOne(key: string, req: { method: string; params?: Record<string, unknown> }, signal: AbortSignal): Promise<JsonRpcMessage> {
    const id = `${INPUT_ID_PREFIX}${++this.seq}`;
    let params = req.params;
    // 2025-11-25 URL-mode elicitation requires an elicitationId, which 2026-07-28 dropped.
    if (req.method === 'elicitation/create' && params?.mode === 'url' && params.elicitationId === undefined) params = { ...params, elicitationId: id };
    const cancelled: JsonRpcMessage = { jsonrpc: '2.0', id, error: { code: RELAY_ERROR, message: 'cancelled' } };
    if (signal.aborted) return Promise.resolve(cancelled);
    return new Promise<JsonRpcMessage>((resolve) => {
      const onAbort = () => {
        if (!this.waiting.delete(id)) return;
        // The request this input was for is gone: let the host close its dialog.
        this.deliver({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: 'the request that needed this input was cancelled' },
        });
        resolve(cancelled);
      };
      this.waiting.set(id, (answer) => {
        signal.removeEventListener('abort', onAbort);
        resolve(answer);
      });
      signal.addEventListener('abort', onAbort, { once: true });
      this.log.debug(`asking the host for input "${key}" (${req.method}) as ${id}`);
      this.deliver({ jsonrpc: '2.0', id, method: req.method, ...(params !== undefined ? { params } : {}) });
    });
  }
}
