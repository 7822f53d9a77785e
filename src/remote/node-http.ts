/**
 * A lean HTTP/1.1 client for MCP traffic over node:http / node:https, used when no proxy is
 * configured (behind a proxy undici's EnvHttpProxyAgent stays). Loading undici costs ~20 MB of
 * memory and its fetch and web streams cost ~3x the CPU per request of node:http (measured), for
 * nothing an MCP exchange needs: no redirects, no compression, no cookies, no CORS.
 *
 * The answer is shaped like a subset of the web `Response`, so the global fetch (and undici's)
 * satisfies {@link HttpFetch} too and callers are written once. Every body must be read to the
 * end or cancelled: an unread body holds its socket.
 */
import http from 'node:http';
import https from 'node:https';

/** One read from a body: `{done:false, value: chunk}` for each chunk, then `{done:true}`. */
export interface BodyReadResult {
  done: boolean;
  value?: Uint8Array | undefined;
}

/** Pull-based reader over a response body (the part of ReadableStreamDefaultReader we use). */
export interface BodyReader {
  read(): Promise<BodyReadResult>;
  /** Stop reading; a later read() resolves `{done:true}`. */
  cancel(reason?: unknown): Promise<void>;
  releaseLock(): void;
}

/** A response body (the part of ReadableStream we use). */
export interface HttpBody {
  getReader(): BodyReader;
  cancel(reason?: unknown): Promise<void>;
}

/** The part of the web `Response` the relay uses; a fetch `Response` satisfies it. */
export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  /** status in 200..299 */
  readonly ok: boolean;
  /** Case-insensitive; repeated fields are joined with ", ". */
  readonly headers: { get(name: string): string | null };
  readonly body: HttpBody | null;
  /** The whole body decoded as UTF-8. */
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface HttpRequestInit {
  method: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array | undefined;
  signal?: AbortSignal | undefined;
}

export type HttpFetch = (url: URL | string, init?: HttpRequestInit) => Promise<HttpResponse>;

/** Sockets per origin for MCP traffic; more in-flight requests queue for a free one. */
export const MAX_CONNECTIONS = 128;

/**
 * Idle time after which a pooled socket is closed, as undici does: below the 5 s keep-alive
 * timeout of Node servers, so a request rarely meets a socket the server is closing. (Node's
 * Agent ignores the server's `Keep-Alive: timeout` hint unless an agent timeout is set.) The
 * Agent destroys only idle sockets on this timeout; a quiet in-flight response is left alone.
 */
const IDLE_SOCKET_TIMEOUT_MS = 4_000;

/**
 * Errors that mean a reused keep-alive socket was already closed by the server: it restarted,
 * or closed the idle socket while the request was on its way (its FIN is read in the next poll
 * phase, after the request went out). Retried once on a fresh connection for every method, as
 * Node's http docs (`request.reusedSocket`) and browsers do (Chromium resends a request, POST
 * included, that fails on a reused connection before any response byte). A request that fails
 * this way again, or on a fresh socket, is reported.
 */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Request headers this module computes itself: bodies are always sent with a length. */
const OWN_HEADERS = new Set(['content-length', 'transfer-encoding']);

const utf8 = new TextDecoder();

type Target = { request: typeof http.request; agent: http.Agent };

/**
 * Create a fetch for MCP traffic over node:http / node:https with one keep-alive Agent per
 * protocol holding at most `maxSockets` sockets per origin (default {@link MAX_CONNECTIONS});
 * further requests queue, so 10,000 in flight never run out of descriptors. TLS trusts Node's
 * store, NODE_EXTRA_CA_CERTS included.
 *
 * The promise resolves when the response headers arrive. Network errors reject with Node's error
 * (with its `.code`); an abort rejects with `signal.reason` itself, before the headers or from
 * `read()` afterwards. `close()` destroys every pooled socket (shutdown).
 */
export function createNodeHttpFetch(opts: { maxSockets?: number } = {}): HttpFetch & { close(): void } {
  const maxSockets = opts.maxSockets ?? MAX_CONNECTIONS;
  const agentOptions = { keepAlive: true, maxSockets, timeout: IDLE_SOCKET_TIMEOUT_MS };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const targets: Record<string, Target> = {
    'http:': { request: http.request, agent: httpAgent },
    'https:': { request: https.request, agent: httpsAgent },
  };

  const fetchFn = async (input: URL | string, init?: HttpRequestInit): Promise<HttpResponse> => {
    const url = new URL(input);
    const target = targets[url.protocol];
    if (!target) {
      throw Object.assign(new TypeError(`unsupported protocol ${url.protocol} in ${url.href}: only http: and https: URLs can be fetched`), {
        code: 'ERR_INVALID_PROTOCOL',
      });
    }
    const payload = typeof init?.body === 'string' ? Buffer.from(init.body, 'utf8') : init?.body;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(init?.headers ?? {})) {
      if (!OWN_HEADERS.has(name.toLowerCase())) headers[name] = value;
    }
    if (payload) headers['content-length'] = payload.byteLength;
    const exchange: Exchange = { url, method: init?.method ?? 'GET', headers, payload, signal: init?.signal };
    return send(target, exchange, false);
  };
  return Object.assign(fetchFn, {
    close(): void {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  });
}

type Exchange = { url: URL; method: string; headers: http.OutgoingHttpHeaders; payload: Uint8Array | undefined; signal: AbortSignal | undefined };

/**
 * One request/response exchange. A request that fails on a reused keep-alive socket before any
 * response is sent once more on a fresh, unpooled connection (`agent: false`), so the retry
 * cannot draw another stale socket from the pool. At most one such connection exists per stale
 * pooled socket, so descriptors stay bounded by twice the pool size.
 */
function send(target: Target, ex: Exchange, retry: boolean): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const { signal } = ex;
    if (signal?.aborted) return reject(signal.reason);
    let settled = false;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(signal?.reason);
    };
    const req = target.request(ex.url, { method: ex.method, headers: ex.headers, agent: retry ? false : target.agent }, (res) => {
      signal?.removeEventListener('abort', onAbort);
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      resolve(new NodeHttpResponse(res, signal));
    });
    // Kept for the request's whole life: once the response has started, a socket error also
    // destroys the response, and its body reports it.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (!retry && req.reusedSocket && STALE_SOCKET_CODES.has(err.code ?? '')) resolve(send(target, ex, true));
      else reject(err);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    req.end(ex.payload);
  });
}

class NodeHttpResponse implements HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  readonly body: NodeBody;

  constructor(res: http.IncomingMessage, signal: AbortSignal | undefined) {
    this.status = res.statusCode ?? 0;
    this.statusText = res.statusMessage ?? '';
    this.ok = this.status >= 200 && this.status <= 299;
    this.headers = {
      get: (name) => res.headersDistinct[name.toLowerCase()]?.join(', ') ?? null,
    };
    this.body = new NodeBody(res, signal);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return concat(await this.body.readAll()).buffer; // a fresh array owns its whole buffer
  }

  async text(): Promise<string> {
    const chunks = await this.body.readAll();
    return utf8.decode(chunks.length === 1 ? chunks[0] : concat(chunks));
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

/** The chunks in one new array, copied once at the end. */
function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
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
class NodeBody implements HttpBody {
  private readonly res: http.IncomingMessage;
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
    res.pause(); // before the 'data' listener, which would otherwise start the flow
    res.on('data', (chunk: Buffer) => {
      if (this.state !== 'reading') return; // draining after cancel()
      res.pause();
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve({ done: false, value: chunk });
      else this.queued.push(chunk);
      if (this.waiters.length > 0) res.resume();
    });
    res.on('end', () => {
      if (this.state !== 'reading') return;
      this.state = 'ended';
      this.settle();
    });
    res.on('error', (err) => this.fail(err));
    res.on('close', () => {
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
      this.res.destroy();
      return Promise.resolve();
    }
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
      this.res.resume();
    });
  }

  /** The body ends with `err`: pending and later reads reject with it (queued data is dropped). */
  private fail(err: unknown): void {
    if (this.state !== 'reading') return;
    this.state = 'failed';
    this.error = err;
    this.queued.length = 0;
    this.settle();
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
