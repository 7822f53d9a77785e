/**
 * Memory bounds for what servers send, checked as bytes arrive and before they are kept:
 * - one message (a JSON body, an SSE event, an SSE line without its newline) may not pass
 *   `maxMessageBytes`;
 * - all answers being assembled at once share one `ByteBudget`, so many large answers in flight
 *   together cannot exhaust memory either.
 * Over a bound, the body is cancelled (which drops its connection) and the one request it
 * belonged to fails with REMOTE_TOO_LARGE; the relay and every other request go on.
 */
import { RelayError } from '../errors.js';
import type { HttpBody, HttpResponse } from './node-http.js';

/** Bytes of server answers the relay holds at once, across all requests, by default (2 x the largest message). */
export const DEFAULT_INFLIGHT_BYTES = 512 * 1024 * 1024;

/** A shared allowance of bytes held in memory at once. */
export class ByteBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Take `bytes` if they fit; false (and nothing taken) if not. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  get inUse(): number {
    return this.used;
  }
}

export interface Bounds {
  /** The largest single message accepted. */
  maxMessageBytes: number;
  /** Shared by every answer being read (absent: only the per-message bound applies). */
  budget?: ByteBudget | undefined;
}

export function tooLarge(what: string, bytes: number, limit: number, declared = false): RelayError {
  const seen = declared ? `${formatBytes(bytes)} announced by its Content-Length, none of it read` : `${formatBytes(bytes)} so far`;
  return new RelayError(
    'REMOTE_TOO_LARGE',
    `${what} of over ${formatBytes(limit)} (${seen}); the relay dropped it to stay within its memory bounds (--max-message-mb)`,
  );
}

export function inflightExceeded(budget: ByteBudget): RelayError {
  return new RelayError(
    'REMOTE_TOO_LARGE',
    `answers in flight hold over ${formatBytes(budget.limit)} at once; this one was dropped to keep the relay within its memory bounds (retry it)`,
  );
}

/**
 * Read a whole body (a JSON answer) within `bounds`: a Content-Length over the limit is refused
 * before a byte is read; otherwise every chunk is counted as it arrives. The body is cancelled
 * on any failure. Network errors are rethrown as they are (the caller maps them).
 */
export async function readBounded(res: Pick<HttpResponse, 'headers' | 'body'>, bounds: Bounds): Promise<Buffer> {
  const body: HttpBody | null = res.body;
  if (!body) return Buffer.alloc(0);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > bounds.maxMessageBytes) {
    await body.cancel().catch(() => {});
    throw tooLarge('a JSON answer', declared, bounds.maxMessageBytes, true);
  }
  const reader = body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!value || value.length === 0) continue;
      total += value.length;
      if (total > bounds.maxMessageBytes) throw tooLarge('a JSON answer', total, bounds.maxMessageBytes);
      if (bounds.budget && !bounds.budget.take(value.length)) {
        total -= value.length;
        throw inflightExceeded(bounds.budget);
      }
      chunks.push(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  } finally {
    bounds.budget?.give(total);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/** Up to `maxBytes` of a body as text (an error page: enough to describe it), then the rest is cancelled. */
export async function readPrefix(res: Pick<HttpResponse, 'body'>, maxBytes: number): Promise<string> {
  const body = res.body;
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const { value, done } = await reader.read();
      if (done) return Buffer.concat(chunks).toString('utf8');
      if (!value) continue;
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      total += value.length;
    }
    await reader.cancel().catch(() => {});
    return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round(n / (1024 * 1024))} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} bytes`;
}
