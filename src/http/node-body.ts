/**
 * The body of a node:http response, read on demand (node-http.ts), decompressed when the server
 * compressed it (RFC 9110 §8.4: gzip, deflate; RFC 7932: br).
 */
import type http from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import type { BodyReader, BodyReadResult, HttpBody } from './node-http.js';

/** The content codings the relay asks for (on remote hosts) and undoes. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';
const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** The chunks in one new array, copied once at the end. */
export function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

const prematureClose = () => Object.assign(new Error('the response body ended before it was complete'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

type Waiter = { resolve(r: BodyReadResult): void; reject(err: unknown): void };

/**
 * A response body read on demand: the message stays paused and is resumed for one chunk per
 * read(), so Node's own buffer (one high-water mark) is all that is held ahead of the reader, and
 * the socket is throttled by TCP beyond that. Chunks are the Buffers Node produced, not copies.
 */
export class NodeBody implements HttpBody {
  private readonly res: http.IncomingMessage;
  /** Where the chunks come from: the message itself, or the decoder it is piped into. */
  private readonly source: NodeJS.ReadableStream & { destroy(err?: Error): void };
  private readonly decoder: Transform | undefined;
  private readonly signal: AbortSignal | undefined;
  private state: 'reading' | 'ended' | 'failed' = 'reading';
  private error: unknown;
  private readonly queued: Buffer[] = [];
  private readonly waiters: Waiter[] = [];
  private locked = false;
  private disturbed = false;
  private readonly onAbort = (): void => this.fail(this.signal?.reason);

  constructor(res: http.IncomingMessage, signal: AbortSignal | undefined) {
    this.res = res;
    this.signal = signal;
    const coding = (res.headers['content-encoding'] ?? '').trim().toLowerCase();
    this.decoder = DECODERS[coding]?.();
    const source = this.decoder ? res.pipe(this.decoder) : res;
    this.source = source;
    source.pause(); // before the 'data' listener, which would otherwise start the flow
    source.on('data', (chunk: Buffer) => {
      if (this.state !== 'reading') return; // draining after cancel()
      source.pause();
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve({ done: false, value: chunk });
      else this.queued.push(chunk);
      if (this.waiters.length > 0) source.resume();
    });
    source.on('end', () => {
      if (this.state !== 'reading') return;
      this.state = 'ended';
      this.settle();
    });
    // A corrupt compressed body fails the read with zlib's code (Z_DATA_ERROR, ...).
    source.on('error', (err) => this.fail(err));
    res.on('error', (err) => this.fail(err));
    const closed = () => {
      if (this.state === 'reading' && !(this.decoder && res.complete)) this.fail(prematureClose());
    };
    res.on('close', closed);
    this.decoder?.on('close', () => {
      if (this.state === 'reading') this.fail(prematureClose());
    });
    if (signal?.aborted) this.fail(signal.reason);
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  getReader(): BodyReader {
    if (this.locked) throw new TypeError('the response body is already locked to a reader');
    this.locked = true;
    return { read: () => this.read(), cancel: () => this.cancel(), releaseLock: () => void (this.locked = false) };
  }

  /**
   * Stop reading; idempotent. A body that has fully arrived is drained instead, and the promise
   * waits for that, so the socket is back in the pool for the next request (a 202 answering a
   * notification is cancelled on every message). An incomplete body is destroyed with its socket,
   * which is never reused mid-body.
   */
  cancel(): Promise<void> {
    this.disturbed = true;
    if (this.state !== 'reading') return Promise.resolve();
    this.state = 'ended';
    this.queued.length = 0;
    this.settle();
    if (!this.res.complete) {
      this.decoder?.destroy();
      this.res.destroy();
      return Promise.resolve();
    }
    if (this.decoder) {
      // Nothing more to decompress: stop the decoder and drain the raw bytes instead.
      this.res.unpipe(this.decoder);
      this.decoder.destroy();
    }
    // Piped into a decoder, the raw message may have ended already.
    if (this.res.readableEnded) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.res.once('end', resolve).once('close', resolve).resume();
    });
  }

  /** Every chunk to the end (for text/json/arrayBuffer), like fetch's one-shot body consumers. */
  async readAll(): Promise<Uint8Array[]> {
    if (this.disturbed || this.locked) throw new TypeError('the response body has already been read');
    const reader = this.getReader();
    const chunks: Uint8Array[] = [];
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) if (r.value) chunks.push(r.value);
    } finally {
      reader.releaseLock();
    }
    return chunks;
  }

  private read(): Promise<BodyReadResult> {
    this.disturbed = true;
    const chunk = this.queued.shift();
    if (chunk) return Promise.resolve({ done: false, value: chunk });
    if (this.state === 'failed') return Promise.reject(this.error);
    if (this.state === 'ended') return Promise.resolve({ done: true, value: undefined });
    return new Promise<BodyReadResult>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.source.resume();
    });
  }

  /** The body ends with `err`: pending and later reads reject with it (queued data is dropped). */
  private fail(err: unknown): void {
    if (this.state !== 'reading') return;
    this.state = 'failed';
    this.error = err;
    this.queued.length = 0;
    this.settle();
    this.decoder?.destroy();
    this.res.destroy();
  }

  /** The exchange is over: release the signal and answer every pending read. */
  private settle(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    for (const waiter of this.waiters.splice(0)) {
      if (this.state === 'failed') waiter.reject(this.error);
      else waiter.resolve({ done: true, value: undefined });
    }
  }
}
