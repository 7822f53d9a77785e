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
    params: { _meta: { [META_PROTOCOL_VERSION]: MODERN_PROTOCOL_VERSION, [META_CLIENT_INFO]: clientInfo ?? fallbackInfo, [META_CLIENT_CAPABILITIES]: capabilities ?? {} } },
  };
}

export type ProbeVerdict = { era: 'modern' } | { era: 'legacy'; reason: string };

/**
 * Read the answer to the probe. Modern evidence is deliberately narrow (as SDK v2's classifier):
 * a DiscoverResult listing a version we speak, or -32022 whose `data.supported` does. A -32022
 * that lists only initialize-era versions is a legacy verdict; one that lists neither names a
 * server the relay cannot talk to. Anything else from a 2xx/4xx answer is legacy: "Servers MUST
 * implement server/discover", so -32601 cannot come from a modern server. 5xx is not evidence.
 */
export function classifyProbeAnswer(answer: JsonRpcMessage, status: number): ProbeVerdict {
  if (status >= 500) throw new RelayError('REMOTE_HTTP', `the server answered HTTP ${status} to server/discover${answer.error ? `: ${answer.error.message}` : ''} (a server-side failure; the relay keeps running)`, { status });
  const result = answer.result as { supportedVersions?: unknown } | undefined;
  if (result && Array.isArray(result.supportedVersions)) {
    if (result.supportedVersions.includes(MODERN_PROTOCOL_VERSION)) return { era: 'modern' };
    return { era: 'legacy', reason: `server/discover lists versions ${JSON.stringify(result.supportedVersions)}, none of them ${MODERN_PROTOCOL_VERSION}` };
  }
  const error = answer.error;
  const supported = (error?.data as { supported?: unknown } | undefined)?.supported;
  if (error?.code === UNSUPPORTED_PROTOCOL_VERSION && Array.isArray(supported)) {
    if (supported.includes(MODERN_PROTOCOL_VERSION)) return { era: 'modern' };
    if (supported.some((v) => HOST_VERSIONS.includes(v as string))) return { era: 'legacy', reason: `the server supports ${JSON.stringify(supported)}` };
    throw new RelayError('REMOTE_PROTOCOL', `the server only speaks MCP ${supported.join(', ')}; mcp-relay speaks ${MODERN_PROTOCOL_VERSION} and ${HOST_VERSIONS.join(', ')}`, { status });
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
