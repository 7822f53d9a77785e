/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00), as the
 * MCP 2025-11-25 authorization spec asks authorization servers to support them: a client_id
 * that is a URL names a JSON document describing the client.
 */
import { isLoopbackHttpUrl, tryParseUrl } from './http.js';

/** The draft suggests a small limit (§6.5: e.g. 5 KB); a little headroom for long redirect lists. */
export const MAX_CIMD_BYTES = 16 * 1024;
/** A client metadata host that does not answer quickly must not hold the authorization page. */
export const CIMD_FETCH_TIMEOUT_MS = 5_000;

export interface ClientMetadataDocument {
  client_id: string;
  client_name?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: 'none';
}

/**
 * Whether a client_id is meant as a metadata document URL: https with a path (draft §3), or,
 * for local tests and demos, http on a loopback host.
 */
export function isClientIdUrl(clientId: string): boolean {
  const url = tryParseUrl(clientId);
  if (!url || url.hash || url.username || url.password || clientId.includes('#')) return false;
  if (url.pathname === '/' || url.pathname === '') return false;
  return url.protocol === 'https:' || isLoopbackHttpUrl(url);
}

/** Validate a fetched document (pure). Throws an Error naming the offending field. */
export function parseClientMetadataDocument(clientId: string, doc: unknown): ClientMetadataDocument {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('client metadata document is not a JSON object');
  const d = doc as Record<string, unknown>;
  // MCP 2025-11-25 "Client ID Metadata Documents": the AS MUST validate that the document's client_id matches the URL exactly.
  if (d.client_id !== clientId) {
    throw new Error(`"client_id" in the client metadata document must equal ${clientId} (got ${JSON.stringify(d.client_id)})`);
  }
  const uris = d.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0 || !uris.every((u) => typeof u === 'string')) {
    throw new Error('"redirect_uris" in the client metadata document must be a non-empty array of strings');
  }
  const method = d.token_endpoint_auth_method ?? 'none';
  if (method !== 'none') {
    throw new Error(`"token_endpoint_auth_method" ${JSON.stringify(method)} is not supported for metadata-document clients (only "none")`);
  }
  if ('client_secret' in d) throw new Error('a client metadata document must not contain "client_secret"');
  const name = typeof d.client_name === 'string' ? d.client_name : undefined;
  return { client_id: clientId, redirect_uris: uris as string[], token_endpoint_auth_method: 'none', ...(name ? { client_name: name } : {}) };
}

/** Fetch and validate the document behind a URL client_id: no redirects, bounded size and time. */
export async function fetchClientMetadataDocument(clientId: string, fetchFn: typeof fetch = fetch): Promise<ClientMetadataDocument> {
  const res = await fetchFn(clientId, {
    headers: { Accept: 'application/json' },
    redirect: 'error',
    signal: AbortSignal.timeout(CIMD_FETCH_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`client metadata document ${clientId} answered HTTP ${res.status}`);
  const text = await res.text();
  if (Buffer.byteLength(text) > MAX_CIMD_BYTES) throw new Error(`client metadata document is over ${MAX_CIMD_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('client metadata document is not valid JSON');
  }
  return parseClientMetadataDocument(clientId, doc);
}
