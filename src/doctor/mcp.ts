/**
 * The HTTP steps of `mcp-relay doctor`: the proxy in use, whether the server answers an MCP POST,
 * which protocol revision and transport it speaks (the relay's own `server/discover` probe and
 * its classifier, then a 2025 initialize), and the clock offset against its `Date` header.
 */
import type { Config } from '../config/config.js';
import { describeError } from '../errors.js';
import { bearerChallenge } from '../http/challenge.js';
import { proxyFromEnv, type FetchFn } from '../http/fetch.js';
import { noProxyMatcher } from '../http/no-proxy.js';
import type { JsonRpcMessage } from '../jsonrpc/messages.js';
import { requestHeaders } from '../remote/v2026/headers.js';
import { classifyProbeAnswer, discoverProbe, discoverResultOf, HOST_VERSIONS, RELAY_CLIENT_INFO } from '../remote/v2026/wire.js';
import { step, STEP_TIMEOUT_MS, type DoctorStep } from './step.js';

/** A clock further off than this makes token expiry and signed assertions unreliable. */
export const CLOCK_WARN_MS = 60_000;
/** Most of an answer body the doctor reads (it wants one JSON-RPC message). */
const MAX_BODY_CHARS = 64 * 1024;

export function checkProxy(url: URL, env: NodeJS.ProcessEnv): DoctorStep {
  const proxy = proxyFromEnv(env);
  const noProxy = env.NO_PROXY ?? env.no_proxy;
  if (!proxy) return step('proxy', 'ok', `no proxy (HTTPS_PROXY/HTTP_PROXY unset): the relay connects to ${url.host} directly`);
  if (noProxyMatcher(noProxy)(url))
    return step('proxy', 'ok', `${url.host} matches NO_PROXY (${noProxy}): the relay connects to it directly, not through ${proxy}`);
  return step(
    'proxy',
    'ok',
    `requests go through ${proxy}${noProxy ? ` unless NO_PROXY matches (NO_PROXY=${noProxy})` : ''}; the dns/tcp/tls steps above test the direct path`,
  );
}

/** One answer to an MCP POST, as much as the doctor needs of it. */
export interface Answer {
  status: number;
  contentType: string;
  date: string | null;
  challenge: string | null;
  msg: JsonRpcMessage | undefined;
}

/** The first JSON-RPC message of a JSON or SSE body. */
function firstMessage(text: string, contentType: string): JsonRpcMessage | undefined {
  const json = contentType.includes('text/event-stream')
    ? text
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())[0]
    : text;
  try {
    const v = JSON.parse(json ?? '') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as JsonRpcMessage) : undefined;
  } catch {
    return undefined;
  }
}

/** An error and its causes (undici's "fetch failed" hides the reason in `cause`), codes included. */
function explain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    const text = e instanceof Error ? e.message : describeError(e);
    parts.push(code && !text.includes(code) ? `${text} (${code})` : text);
  }
  return parts.join(': ');
}

/**
 * The stored login as the doctor presents it: the same Authorization value and DPoP proofs as the
 * relay's exchange (remote/exchange.ts), so a DPoP-bound token is not mistaken for a refused one.
 */
export interface DoctorAuth {
  /** Headers for one request: Authorization, plus a fresh DPoP proof for a bound login (RFC 9449 §7.1). */
  headers(method: string, url: URL): Promise<Record<string, string>>;
  /** A `DPoP-Nonce` the server answered with (RFC 9449 §9); true when the next proof can carry it. */
  nonce(url: URL, value: string | null): boolean;
}

export async function post(fetch: FetchFn, config: Config, msg: JsonRpcMessage, extra: Record<string, string>, auth?: DoctorAuth): Promise<Answer> {
  const send = async () =>
    fetch(config.serverUrl, {
      method: 'POST',
      headers: {
        ...config.headers,
        ...extra,
        ...(await auth?.headers('POST', config.serverUrl)),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify(msg),
      signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
      redirect: 'manual',
    });
  let res = await send();
  const newNonce = auth?.nonce(config.serverUrl, res.headers.get('dpop-nonce')) ?? false;
  // RFC 9449 §9: a 401 use_dpop_nonce asks for the same request again with the server's nonce; once.
  if (newNonce && res.status === 401 && bearerChallenge(res.headers).dpop?.error === 'use_dpop_nonce') {
    await res.body?.cancel().catch(() => {});
    res = await send();
    auth?.nonce(config.serverUrl, res.headers.get('dpop-nonce'));
  }
  const contentType = res.headers.get('content-type') ?? '';
  let text = '';
  if (res.body) {
    // Read until one message is complete or the cap: an SSE stream may stay open.
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    try {
      while (text.length < MAX_BODY_CHARS && firstMessage(text, contentType) === undefined) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
  return {
    status: res.status,
    contentType,
    date: res.headers.get('date'),
    challenge: res.headers.get('www-authenticate'),
    msg: firstMessage(text, contentType),
  };
}

const INITIALIZE: JsonRpcMessage = {
  jsonrpc: '2.0',
  id: 'doctor-init',
  method: 'initialize',
  params: { protocolVersion: HOST_VERSIONS[0], capabilities: {}, clientInfo: { name: 'mcp-relay-doctor', version: RELAY_CLIENT_INFO.version } },
};

export interface ProtocolFindings {
  http: DoctorStep;
  protocol: DoctorStep;
  /** The first answer (its Date header, its challenge), when the server answered at all. */
  first?: Answer | undefined;
}

/**
 * POST the `server/discover` probe (what the relay sends first), then a 2025 initialize when the
 * server is not modern. `auth` presents a stored, unexpired login (to the server it was issued
 * for), so a server that requires a login can still tell its revision.
 */
export async function checkProtocol(fetch: FetchFn, config: Config, auth: DoctorAuth | undefined): Promise<ProtocolFindings> {
  const probe = discoverProbe({ jsonrpc: '2.0', method: 'initialize', params: {} }, { name: 'mcp-relay-doctor', version: RELAY_CLIENT_INFO.version });
  let first: Answer;
  try {
    first = await post(fetch, config, probe, requestHeaders(probe), auth);
  } catch (err) {
    return {
      http: step(
        'http',
        'fail',
        `POST ${config.serverUrl.href} failed: ${explain(err)}`,
        "see the steps above; behind a proxy, check HTTPS_PROXY and the proxy's own CA (--tls-ca)",
      ),
      protocol: step('protocol', 'skip', 'not checked: the server did not answer'),
    };
  }
  const s = first.status;
  if (s === 401 || s === 403) {
    const http = step(
      'http',
      'ok',
      `the server answers (HTTP ${s}: it asks for a login${first.challenge ? `; WWW-Authenticate: ${first.challenge.split(/[ ,]/)[0]}` : ''})`,
    );
    return {
      first,
      http,
      protocol: step(
        'protocol',
        'warn',
        `not known: the server wants a login before it answers${auth ? ' (and refused the stored access token)' : ''}`,
        `log in with \`mcp-relay login ${config.serverUrl.href}\`, then run doctor again`,
      ),
    };
  }
  if (s >= 300 && s < 400) {
    return {
      first,
      http: step('http', 'fail', `the server redirects (HTTP ${s}) to another address`, 'use the final URL of the MCP endpoint'),
      protocol: step('protocol', 'skip', 'not checked'),
    };
  }
  if (s >= 500) {
    return {
      first,
      http: step(
        'http',
        'fail',
        `the server (or a proxy on the way) fails (HTTP ${s})`,
        'a server-side or proxy error: try later, check the proxy settings (NO_PROXY), or tell the server operator',
      ),
      protocol: step('protocol', 'skip', 'not checked'),
    };
  }
  const http = step('http', 'ok', `the server answers an MCP POST (HTTP ${s}, ${first.contentType || 'no content type'})`);
  if (first.msg) {
    try {
      const verdict = classifyProbeAnswer(first.msg, s);
      const result = discoverResultOf(first.msg);
      if (verdict.era === 'modern') {
        const versions = result ? JSON.stringify(result.supportedVersions) : 'negotiated with -32022';
        return { first, http, protocol: step('protocol', 'ok', `MCP 2026-07-28 or later (server/discover; supported versions ${versions}), Streamable HTTP`) };
      }
    } catch (err) {
      return { first, http, protocol: step('protocol', 'fail', describeError(err)) };
    }
  }
  return { first, http, protocol: await checkInitialize(fetch, config, auth) };
}

async function checkInitialize(fetch: FetchFn, config: Config, auth: DoctorAuth | undefined): Promise<DoctorStep> {
  let a: Answer;
  try {
    a = await post(fetch, config, INITIALIZE, { 'mcp-protocol-version': HOST_VERSIONS[0]! }, auth);
  } catch (err) {
    return step('protocol', 'fail', `initialize failed: ${explain(err)}`);
  }
  const result = a.msg?.result as { protocolVersion?: unknown; serverInfo?: { name?: unknown } } | undefined;
  if (a.status < 300 && typeof result?.protocolVersion === 'string') {
    const name = typeof result.serverInfo?.name === 'string' ? ` (server "${result.serverInfo.name}")` : '';
    return step('protocol', 'ok', `MCP ${result.protocolVersion} over Streamable HTTP${name}; no 2026-07-28 server/discover`);
  }
  if (a.status === 404 || a.status === 405) {
    return step(
      'protocol',
      'warn',
      `initialize answered HTTP ${a.status}: maybe a legacy HTTP+SSE endpoint (MCP 2024-11-05)`,
      'the relay falls back to it with --transport auto; check that the URL is the MCP endpoint (often ends in /mcp or /sse)',
    );
  }
  return step('protocol', 'fail', `initialize answered HTTP ${a.status} without an InitializeResult`, 'check that the URL is the MCP endpoint of the server');
}

/** The offset of the local clock against the server's Date header (second resolution). */
export function checkClock(date: string | null | undefined, now: number): DoctorStep {
  if (!date) return step('clock', 'skip', 'the server sent no Date header');
  const server = Date.parse(date);
  if (Number.isNaN(server)) return step('clock', 'warn', `the server's Date header is not a date (${date.slice(0, 60)})`);
  const offset = Math.round((now - server) / 1000);
  // The header has one-second resolution, so a second either way is agreement.
  const text =
    Math.abs(offset) <= 1
      ? "local clock agrees with the server's Date header (within 1 s)"
      : `local clock is ${Math.abs(offset)} s ${offset >= 0 ? 'ahead of' : 'behind'} the server's Date header`;
  if (Math.abs(offset) * 1000 > CLOCK_WARN_MS)
    return step('clock', 'warn', text, 'token expiry is judged by the local clock: turn on time synchronisation (NTP)');
  return step('clock', 'ok', text);
}
