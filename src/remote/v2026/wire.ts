/**
 * Pure pieces of the 2026-07-28 ⇄ 2025-11-25 translation: which era a host message belongs to,
 * the `server/discover` probe, how to read its answer (era evidence), and the InitializeResult a
 * 2025 host gets from a DiscoverResult.
 */
import { RelayError } from '../../errors.js';
import type { JsonRpcMessage } from '../../jsonrpc/messages.js';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO, MODERN_PROTOCOL_VERSION } from './headers.js';
import type { ListenFilter } from './listen.js';

/** The initialize-era versions the relay can serve a host (2025-11-25 transports and back to 2025-03-26). */
export const HOST_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'];
const DEFAULT_HOST_VERSION = '2025-11-25';
/** UnsupportedProtocolVersionError (2026-07-28 basic/versioning). */
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;
const PROBE_ID = 'mcp-relay-discover-probe';
/** Identity sent upstream when the host gave none. */
export const RELAY_CLIENT_INFO = { name: 'mcp-relay', version: '0' };

/** The per-request `_meta` a modern message carries, if any. */
function metaOf(msg: JsonRpcMessage): Record<string, unknown> | undefined {
  const meta = (msg.params as { _meta?: unknown } | undefined)?._meta;
  return meta && typeof meta === 'object' ? (meta as Record<string, unknown>) : undefined;
}

/** A message from a host that speaks 2026-07-28 or later: `server/discover`, or a modern protocolVersion in `_meta`. */
export function isModernHostMessage(msg: JsonRpcMessage): boolean {
  if (msg.method === 'server/discover') return true;
  const version = metaOf(msg)?.[META_PROTOCOL_VERSION];
  // Versions are dates; every modern one is 2026-07-28 or later (basic/versioning: "Modern").
  return typeof version === 'string' && version >= MODERN_PROTOCOL_VERSION;
}

/**
 * The `server/discover` probe (2026-07-28 streamable-http, Backward Compatibility), carrying the
 * host's identity and capabilities: from a 2025 host's initialize params, or a modern host's `_meta`.
 */
export function discoverProbe(hostMsg: JsonRpcMessage, fallbackInfo: { name: string; version: string }): JsonRpcMessage & { id: string } {
  const p = (hostMsg.params ?? {}) as Record<string, unknown>;
  const meta = metaOf(hostMsg) ?? {};
  const clientInfo = hostMsg.method === 'initialize' ? p.clientInfo : meta[META_CLIENT_INFO];
  const capabilities = hostMsg.method === 'initialize' ? p.capabilities : meta[META_CLIENT_CAPABILITIES];
  return {
    jsonrpc: '2.0',
    id: PROBE_ID,
    method: 'server/discover',
    params: {
      _meta: {
        [META_PROTOCOL_VERSION]: MODERN_PROTOCOL_VERSION,
        [META_CLIENT_INFO]: clientInfo ?? fallbackInfo,
        [META_CLIENT_CAPABILITIES]: capabilities ?? {},
      },
    },
  };
}

/** Modern versions the relay speaks upstream, most preferred first (2026-07-28 basic/versioning). */
export const UPSTREAM_VERSIONS = [MODERN_PROTOCOL_VERSION];
/** How much of an unexpected server answer an error message quotes. */
const QUOTE_MAX_CHARS = 300;

/**
 * A modern verdict carries `retryWith` when the server refused the version with -32022: the
 * version (from its `data.supported`) to resend the probe with, in both the header and `_meta`.
 */
export type ProbeVerdict = { era: 'modern'; retryWith?: string } | { era: 'legacy'; reason: string };

/** The version to use from a -32022 `data.supported`: the first of ours that the server lists. */
export function pickSupportedVersion(supported: unknown): string | undefined {
  return Array.isArray(supported) ? UPSTREAM_VERSIONS.find((v) => supported.includes(v)) : undefined;
}

/** `msg` with its `_meta` protocol version set to `version` (requestHeaders() derives the header from it). */
export function withProtocolVersion<M extends JsonRpcMessage>(msg: M, version: string): M {
  const params = (msg.params && typeof msg.params === 'object' ? msg.params : {}) as Record<string, unknown>;
  return { ...msg, params: { ...params, _meta: { ...(metaOf(msg) ?? {}), [META_PROTOCOL_VERSION]: version } } };
}

/** The DiscoverResult of a probe answer, or undefined when the answer is not one. */
export function discoverResultOf(answer: JsonRpcMessage): Record<string, unknown> | undefined {
  const r = answer.result;
  return r && typeof r === 'object' && !Array.isArray(r) && Array.isArray((r as { supportedVersions?: unknown }).supportedVersions)
    ? (r as Record<string, unknown>)
    : undefined;
}

/** What the server sent, for an error message (JSON, cut short). */
export function quoteAnswer(answer: JsonRpcMessage): string {
  const { jsonrpc: _jsonrpc, id: _id, ...rest } = answer;
  const text = JSON.stringify(rest) ?? String(rest);
  return text.length > QUOTE_MAX_CHARS ? `${text.slice(0, QUOTE_MAX_CHARS)}…` : text;
}

/**
 * Read the answer to the probe. Modern evidence is deliberately narrow (as SDK v2's classifier):
 * a DiscoverResult listing a version we speak, or -32022 whose `data.supported` does (then the
 * probe must be sent again with that version: the -32022 itself carries no DiscoverResult). A -32022
 * that lists only initialize-era versions is a legacy verdict; one that lists neither names a
 * server the relay cannot talk to. Anything else from a 2xx/4xx answer is legacy: "Servers MUST
 * implement server/discover", so -32601 cannot come from a modern server. 5xx is not evidence.
 */
export function classifyProbeAnswer(answer: JsonRpcMessage, status: number): ProbeVerdict {
  if (status >= 500)
    throw new RelayError(
      'REMOTE_HTTP',
      `the server answered HTTP ${status} to server/discover${answer.error ? `: ${answer.error.message}` : ''} (a server-side failure; the relay keeps running)`,
      { status },
    );
  const result = discoverResultOf(answer);
  if (result) {
    const versions = result.supportedVersions as unknown[];
    if (versions.includes(MODERN_PROTOCOL_VERSION)) return { era: 'modern' };
    return { era: 'legacy', reason: `server/discover lists versions ${JSON.stringify(versions)}, none of them ${MODERN_PROTOCOL_VERSION}` };
  }
  const error = answer.error;
  const data = error?.data;
  const supported = data && typeof data === 'object' ? (data as { supported?: unknown }).supported : undefined;
  if (error?.code === UNSUPPORTED_PROTOCOL_VERSION && Array.isArray(supported)) {
    // 2026-07-28 basic/versioning: the client picks a version from `supported` and sends again.
    const retryWith = pickSupportedVersion(supported);
    if (retryWith) return { era: 'modern', retryWith };
    if (supported.some((v) => HOST_VERSIONS.includes(v as string))) return { era: 'legacy', reason: `the server supports ${JSON.stringify(supported)}` };
    throw new RelayError(
      'REMOTE_PROTOCOL',
      `the server only speaks MCP ${JSON.stringify(supported)}; mcp-relay speaks ${MODERN_PROTOCOL_VERSION} and ${HOST_VERSIONS.join(', ')}`,
      { status },
    );
  }
  return { era: 'legacy', reason: error ? `server/discover answered ${error.code} ${error.message}` : 'server/discover answered without a DiscoverResult' };
}

interface Capabilities {
  tools?: { listChanged?: boolean };
  prompts?: { listChanged?: boolean };
  resources?: { subscribe?: boolean; listChanged?: boolean };
  [k: string]: unknown;
}

/** The ServerCapabilities of a DiscoverResult. */
export function discoverCapabilities(discover: Record<string, unknown>): Capabilities {
  const caps = discover.capabilities;
  return caps && typeof caps === 'object' ? (caps as Capabilities) : {};
}

/**
 * The InitializeResult for a 2025 host, built from the server's DiscoverResult (MCP 2026-07-28
 * server/discover, "Response" and "DiscoverResult"; basic/versioning, "Backward Compatibility with
 * Initialization-Based Versions"): the host's own version when the relay can serve it, the
 * server's capabilities (minus what a 2025 host cannot use), its identity from `_meta` (or a
 * top-level `serverInfo`, as the draft page shows), and its instructions.
 */
export function initializeResultFrom(discover: Record<string, unknown>, requestedVersion: unknown, fallbackName: string): Record<string, unknown> {
  const { extensions: _extensions, ...caps } = discoverCapabilities(discover);
  if (caps.resources) {
    const { subscribe, ...rest } = caps.resources;
    // resources/subscribe is served by the relay through subscriptions/listen, so only when the server can do resourceSubscriptions.
    caps.resources = subscribe === true ? { ...rest, subscribe: true } : rest;
  }
  const meta = (discover._meta ?? {}) as Record<string, unknown>;
  const serverInfo = meta[META_SERVER_INFO] ?? discover.serverInfo ?? { name: fallbackName, version: 'unknown' };
  return {
    protocolVersion: typeof requestedVersion === 'string' && HOST_VERSIONS.includes(requestedVersion) ? requestedVersion : DEFAULT_HOST_VERSION,
    capabilities: caps,
    serverInfo,
    ...(typeof discover.instructions === 'string' ? { instructions: discover.instructions } : {}),
  };
}

/** What the relay's listen stream asks for: every list the server announces changes of, and the host's subscriptions. */
export function listenFilter(discover: Record<string, unknown>, subscriptions: Iterable<string>): ListenFilter {
  const caps = discoverCapabilities(discover);
  const filter: ListenFilter = {};
  if (caps.tools?.listChanged) filter.toolsListChanged = true;
  if (caps.prompts?.listChanged) filter.promptsListChanged = true;
  if (caps.resources?.listChanged) filter.resourcesListChanged = true;
  const uris = [...subscriptions].sort();
  if (uris.length && caps.resources?.subscribe) filter.resourceSubscriptions = uris;
  return filter;
}
