/**
 * The HTTP clients: createFetch for metadata, token endpoints and the legacy SSE transport (a web
 * fetch), createMcpFetch for MCP traffic.
 *
 * Node 20's built-in fetch ignores HTTPS_PROXY/HTTP_PROXY/NO_PROXY, which corporate networks
 * need; undici's EnvHttpProxyAgent honours them (both upper and lower case), so when any proxy
 * variable is set we use undici's fetch with that agent. NODE_EXTRA_CA_CERTS is honoured by
 * Node's TLS stack for both paths.
 */
import type { TlsClientOptions } from '../config/tls.js';
import { noProxyMatcher } from './no-proxy.js';
import { createNodeHttpFetch, MAX_CONNECTIONS, type HttpFetch, type HttpRequestInit, type HttpResponse } from './node-http.js';

/** A web fetch (metadata, token endpoint, the legacy SSE transport). */
export type FetchFn = (input: string | URL, init?: RequestInit) => Promise<Response>;

const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

/** The proxy URL that applies, if any (for logs: credentials removed). */
export function proxyFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  for (const name of PROXY_VARS) {
    const v = env[name];
    if (v) {
      try {
        const u = new URL(v);
        u.username = '';
        u.password = '';
        return u.href;
      } catch {
        return '(unparseable proxy URL)';
      }
    }
  }
  return undefined;
}

/** The proxy variables, upper or lower case; an https:// target falls back to HTTP_PROXY. */
function proxySettings(env: NodeJS.ProcessEnv): { httpProxy?: string; httpsProxy?: string; noProxy?: string } {
  const httpProxy = env.HTTP_PROXY ?? env.http_proxy;
  const httpsProxy = env.HTTPS_PROXY ?? env.https_proxy ?? httpProxy;
  const noProxy = env.NO_PROXY ?? env.no_proxy;
  return { ...(httpProxy ? { httpProxy } : {}), ...(httpsProxy ? { httpsProxy } : {}), ...(noProxy ? { noProxy } : {}) };
}

type Undici = typeof import('undici');
type Dispatcher = InstanceType<Undici['Agent']>;

/**
 * undici (a CommonJS package), loaded on first use. Its exports are read from the namespace's
 * `default` (module.exports) when there is one: Node adds named exports to a CommonJS namespace
 * by reading the source, a bundled build (bin/build.mjs) gives `default` only.
 */
function importUndici(): Promise<Undici> {
  return import('undici').then((m) => (m as Undici & { default?: Undici }).default ?? m);
}

/**
 * The undici dispatchers for one set of TLS options, and the choice among them per request: direct
 * for NO_PROXY hosts (curl's rules, no-proxy.ts) and when no proxy applies, else a tunnel through
 * HTTPS_PROXY or HTTP_PROXY by the target's scheme. Every request the relay makes with undici
 * (MCP traffic behind a proxy, legacy SSE, discovery, registration, tokens, revocation) picks here.
 */
function proxyRouter(undici: Undici, env: NodeJS.ProcessEnv, agentOptions: Record<string, unknown>): { pick(url: URL): Dispatcher; close(): Promise<void> } {
  const { httpProxy, httpsProxy, noProxy } = proxySettings(env);
  const bypass = noProxyMatcher(noProxy);
  const direct = new undici.Agent(agentOptions);
  const tunnels = new Map<string, Dispatcher>();
  const tunnel = (uri: string) => {
    let agent = tunnels.get(uri);
    if (!agent) {
      // `connect` would be the TLS of the connection to the proxy: the client certificate is for the target (requestTls) only.
      agent = new undici.ProxyAgent({ ...agentOptions, connect: undefined, uri }) as unknown as Dispatcher;
      tunnels.set(uri, agent);
    }
    return agent;
  };
  return {
    pick: (url) => {
      const proxy = url.protocol === 'https:' ? httpsProxy : httpProxy;
      return proxy && !bypass(url) ? tunnel(proxy) : direct;
    },
    close: async () => {
      await Promise.all([direct, ...tunnels.values()].map((d) => d.close().catch(() => {})));
    },
  };
}

/**
 * --tls-* settings for a client: trust (`ca`) applies to every host; the client certificate is
 * presented only to the MCP server's host (`certHost`), so an authorization server elsewhere never
 * learns it. Absent: Node's TLS defaults.
 */
export interface ClientTls {
  options: TlsClientOptions;
  /** host[:port] of the MCP server: the only place the client certificate goes. */
  certHost: string;
}

/** The options for a connection to `host`: everything for the MCP server's host, only the trust store elsewhere. */
function tlsFor(tls: ClientTls | undefined, host: string): TlsClientOptions | undefined {
  if (!tls) return undefined;
  return host === tls.certHost ? tls.options : tls.options.ca ? { ca: tls.options.ca } : undefined;
}

/**
 * undici's agent options for `tls`: `connect` for direct connections, `requestTls` for the target
 * behind a proxy tunnel (ProxyAgent), and the extra CAs for the proxy itself (TLS-inspecting proxies).
 */
function undiciTls(tls: TlsClientOptions | undefined): Record<string, unknown> {
  if (!tls) return {};
  return { connect: { ...tls }, requestTls: { ...tls }, ...(tls.ca ? { proxyTls: { ca: tls.ca } } : {}) };
}

/**
 * A web fetch for metadata and token endpoints: Node's, or undici's through the proxy when one is
 * set, or with --tls-* options.
 */
export function createFetch(env: NodeJS.ProcessEnv = process.env, tls?: ClientTls): FetchFn {
  if (!proxyFromEnv(env) && !tls) return (input, init) => fetch(input, init);
  // undici is loaded only when a proxy or TLS options are configured (it costs ~18 MB of memory to load).
  const loaded = importUndici();
  const routers = new Map<string, ReturnType<typeof proxyRouter>>();
  return async (input, init) => {
    const undici = await loaded;
    const url = new URL(input);
    const options = tlsFor(tls, url.host);
    const key = options === tls?.options ? 'cert' : options ? 'ca' : 'plain';
    let router = routers.get(key);
    if (!router) {
      router = proxyRouter(undici, env, undiciTls(options));
      routers.set(key, router);
    }
    return undici.fetch(input, { ...(init as Parameters<Undici['fetch']>[1]), dispatcher: router.pick(url) }) as unknown as Promise<Response>;
  };
}

/**
 * The client for MCP traffic (every message to the server), with at most MAX_CONNECTIONS sockets
 * per origin (Node's global fetch pools without a limit: 10,000 requests written at once opened
 * one socket each, EMFILE under a 1024-descriptor limit).
 * - Without a proxy: node:http / node:https (node-http.ts). `npm run bench` measured undici's
 *   fetch and its web streams at about 3x the CPU per request, and loading undici at ~20 MB of
 *   the relay's resident memory (docs/performance.md).
 * - With HTTPS_PROXY / HTTP_PROXY set: undici's fetch over an EnvHttpProxyAgent with the same
 *   limit (NO_PROXY honoured), loaded only then.
 * Either way redirects are followed within the server's origin only.
 */
export function createMcpFetch(env: NodeJS.ProcessEnv = process.env, userAgent?: string, tls?: TlsClientOptions): HttpFetch & { close(): void } {
  if (!proxyFromEnv(env)) {
    const direct = createNodeHttpFetch({ maxSockets: MAX_CONNECTIONS, tls });
    return Object.assign((input: string | URL, init?: HttpRequestInit) => sameOriginRedirects(direct, input, withUserAgent(init, userAgent)), {
      close: () => direct.close(),
    });
  }
  const pooled = undiciPooled(env, tls);
  return Object.assign(async (input: string | URL, init?: HttpRequestInit) => sameOriginRedirects(pooled.fetch, input, withUserAgent(init, userAgent)), {
    close: pooled.close,
  });
}

/**
 * A web fetch for the legacy HTTP+SSE transport, which hands it to the SDK (its EventSource
 * needs real web streams): undici's fetch over the same bounded pool (a burst of POSTs to
 * /messages must not open a socket each), loaded only when a legacy server is met, with the same
 * same-origin redirect rule.
 */
export function createLegacyFetch(env: NodeJS.ProcessEnv = process.env, tls?: TlsClientOptions): FetchFn & { close(): void } {
  const pooled = undiciPooled(env, tls);
  return Object.assign((input: string | URL, init?: RequestInit) => sameOriginRedirects(pooled.fetch, input, init), { close: pooled.close });
}

/** undici's fetch over agents of MAX_CONNECTIONS sockets per origin (direct or through the proxy per request), loaded on first use. */
function undiciPooled(env: NodeJS.ProcessEnv, tls: TlsClientOptions | undefined): { fetch: FetchFn; close(): void } {
  let ready: Promise<{ fetch: FetchFn; close(): Promise<void> }> | undefined;
  const load = () =>
    (ready ??= importUndici().then((undici) => {
      const router = proxyRouter(undici, env, { connections: MAX_CONNECTIONS, ...undiciTls(tls) });
      const pooledFetch: FetchFn = (input, init) =>
        undici.fetch(input, {
          ...(init as Parameters<Undici['fetch']>[1]),
          dispatcher: router.pick(new URL(input)),
          redirect: 'manual',
        }) as unknown as Promise<Response>;
      return { fetch: pooledFetch, close: () => router.close() };
    }));
  return {
    fetch: async (input, init) => (await load()).fetch(input, init),
    close: () => void ready?.then((r) => r.close()).catch(() => {}),
  };
}

/** Say who is calling (node:http sends no User-Agent, and some gateways refuse requests without one), unless --header set it. */
function withUserAgent(init: HttpRequestInit | undefined, userAgent: string | undefined): HttpRequestInit | undefined {
  if (!userAgent || !init) return init;
  const headers = init.headers ?? {};
  if (Object.keys(headers).some((k) => k.toLowerCase() === 'user-agent')) return init;
  return { ...init, headers: { ...headers, 'user-agent': userAgent } };
}

/** Redirects an MCP request may take (same origin only). */
const MAX_REDIRECTS = 5;
/** The redirect statuses that keep the method and body (RFC 9110 §15.4.8, §15.4.9). */
const BODY_PRESERVING = new Set([307, 308]);

/**
 * Follow 307/308 redirects within the server's origin only. Credentials and --header values
 * (API keys) must never travel to another origin; any other redirect is returned as it is, and
 * the relay reports it ("answered HTTP 302 ... update the URL").
 */
async function sameOriginRedirects<I, R extends HttpResponse>(f: (input: URL, init?: I) => Promise<R>, input: string | URL, init: I | undefined): Promise<R> {
  let url = new URL(input);
  for (let hop = 0; ; hop++) {
    const res = await f(url, init);
    const location = res.headers.get('location');
    if (!BODY_PRESERVING.has(res.status) || !location || hop >= MAX_REDIRECTS) return res;
    const next = new URL(location, url);
    if (next.origin !== url.origin) return res;
    await res.body?.cancel().catch(() => {});
    url = next;
  }
}
