/**
 * A lean HTTP/1.1 client for MCP traffic over node:http / node:https, used when no proxy is
 * configured (behind a proxy undici's EnvHttpProxyAgent stays). Loading undici costs ~20 MB of
 * memory and its fetch and web streams cost ~3x the CPU per request of node:http (measured), for
 * nothing an MCP exchange needs: no redirects (fetch.ts handles them), no cookies, no CORS.
 * Compressed answers are asked for on remote hosts and decoded (node-body.ts).
 *
 * The answer is shaped like a subset of the web `Response`, so the global fetch (and undici's)
 * satisfies {@link HttpFetch} too and callers are written once. Every body must be read to the
 * end or cancelled: an unread body holds its socket.
 */
import http from 'node:http';
import https from 'node:https';
import type { TlsClientOptions } from '../config/tls.js';
import { ACCEPT_ENCODING, concat, NodeBody } from './node-body.js';

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

/**
 * The client the relay sends MCP traffic with (createMcpFetch in fetch.ts builds it).
 *
 * What a caller MUST do: read every response body to its end or cancel it (an unread body holds
 * its pooled socket, and the pool has MAX_CONNECTIONS per origin); pass a `signal` for anything
 * that may wait on the server.
 *
 * What an implementation promises:
 * - at most MAX_CONNECTIONS sockets per origin; further requests queue;
 * - a request that fails because a reused keep-alive socket was already closed by the server is
 *   sent again, once, on a fresh connection (never on a fresh socket's failure);
 * - 307/308 redirects are followed only within the request's origin, so credentials and
 *   --header values never travel to another host; any other redirect is returned as it is;
 * - aborting `signal` rejects the pending promise, or ends a body being read, and frees the socket;
 * - compressed answers it asked for are decoded before the body is handed over.
 */
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
export interface NodeHttpOptions {
  maxSockets?: number;
  /**
   * Ask for compressed answers (gzip, deflate, br): always, never, or 'remote' (not for loopback
   * hosts, where compressing costs both ends CPU and saves nothing). Compressed answers are
   * decoded whenever a server sends them. Default 'remote'.
   */
  compress?: boolean | 'remote';
  /** Client certificate and extra trusted CAs for https (--tls-*); absent: Node's defaults. */
  tls?: TlsClientOptions | undefined;
}

/** Loopback hosts, where compression only costs time. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host);
}

export function createNodeHttpFetch(opts: NodeHttpOptions = {}): HttpFetch & { close(): void } {
  const compress = opts.compress ?? 'remote';
  const maxSockets = opts.maxSockets ?? MAX_CONNECTIONS;
  const agentOptions = { keepAlive: true, maxSockets, timeout: IDLE_SOCKET_TIMEOUT_MS };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent({ ...agentOptions, ...opts.tls });
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
    const wantsCompression = compress === 'remote' ? !isLoopback(url.hostname) : compress;
    if (wantsCompression && !Object.keys(headers).some((k) => k.toLowerCase() === 'accept-encoding')) headers['accept-encoding'] = ACCEPT_ENCODING;
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
