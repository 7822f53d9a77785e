/**
 * The relay's own `subscriptions/listen` stream (MCP 2026-07-28, basic/patterns/subscriptions)
 * for a 2025-11-25 host: list_changed and resources/updated no longer come on a GET stream, but on
 * the SSE answer of one long-lived POST whose filter says what to send. The filter follows the
 * server's capabilities (listChanged) and the host's resources/subscribe set; changing it means a
 * new stream. The stream is re-opened with backoff whenever it ends.
 */
import { describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { METHOD_NOT_FOUND, type JsonRpcMessage, type RawMessage } from '../../jsonrpc/messages.js';
import { requestHeaders } from './headers.js';
import type { ModernHttp } from './post.js';
import { sleep } from '../../sleep.js';

/** Re-listen backoff when the stream ends or cannot be opened (the same bounds as the 2025 GET stream). */
const BACKOFF_INITIAL_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
const ACKNOWLEDGED = 'notifications/subscriptions/acknowledged';

/** SubscriptionFilter (schema.ts 2026-07-28): every field opt-in. */
export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

export interface ListenDeps {
  http: ModernHttp;
  log: Logger;
  newId(): string;
  /** The `_meta` for the listen request (protocol version, client info and capabilities). */
  meta(): Record<string, unknown>;
  deliver(msg: JsonRpcMessage, raw: RawMessage | undefined): void;
}

/** True when the filter asks for nothing (then no stream is opened). */
export function isEmptyFilter(f: ListenFilter): boolean {
  return !f.toolsListChanged && !f.promptsListChanged && !f.resourcesListChanged && !f.resourceSubscriptions?.length;
}

export class ListenStream {
  private current: { abort: AbortController; key: string } | undefined;
  /** The server answered -32601: it has no subscriptions/listen. */
  private unsupported = false;
  private closed = false;

  constructor(private readonly deps: ListenDeps) {}

  /** Listen with `filter` from now on: a no-op when it is what the open stream already asks for. */
  update(filter: ListenFilter): void {
    const key = JSON.stringify(filter);
    if (this.closed || this.unsupported || this.current?.key === key) return;
    this.current?.abort.abort();
    this.current = undefined;
    if (isEmptyFilter(filter)) return;
    const abort = new AbortController();
    this.current = { abort, key };
    void this.run(filter, abort.signal);
  }

  close(): void {
    this.closed = true;
    this.current?.abort.abort();
    this.current = undefined;
  }

  private async run(filter: ListenFilter, signal: AbortSignal): Promise<void> {
    const { http, log } = this.deps;
    let failures = 0;
    while (!signal.aborted) {
      const msg = {
        jsonrpc: '2.0' as const,
        id: this.deps.newId(),
        method: 'subscriptions/listen',
        params: { _meta: this.deps.meta(), notifications: filter },
      };
      let heard = false;
      try {
        const out = await http.post(msg, {
          headers: requestHeaders(msg),
          signal,
          idleMs: 0,
          // A background stream does not start a login; a host request will, and the next attempt picks up the token.
          authRetry: false,
          onNotification: (m, raw) => {
            heard = true;
            if (m.method === ACKNOWLEDGED)
              log.debug({ honored: (m.params as { notifications?: unknown } | undefined)?.notifications }, 'listen stream acknowledged');
            else this.deps.deliver(m, raw);
          },
        });
        if (out.kind === 'aborted') return;
        if (out.kind === 'answer' && out.msg.error) {
          // -32601: the server offers no subscriptions; do not ask again.
          if (out.msg.error.code === METHOD_NOT_FOUND) {
            log.info('the server does not offer subscriptions/listen; the host will get no list_changed or resource update notifications');
            this.unsupported = true;
            return;
          }
          log.warn(`the server refused subscriptions/listen: ${out.msg.error.message}`);
        } else {
          log.debug(`listen stream ended (${out.kind === 'answer' ? 'by the server' : out.kind === 'broken' ? out.reason : out.kind}); listening again`);
        }
      } catch (err) {
        if (signal.aborted) return;
        log.debug(`listen stream failed: ${describeError(err)}`);
      }
      failures = heard ? 1 : failures + 1;
      await sleep(Math.min(BACKOFF_INITIAL_MS * 2 ** (failures - 1), BACKOFF_MAX_MS), signal);
    }
  }
}
