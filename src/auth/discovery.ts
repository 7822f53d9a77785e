/**
 * Discovery: RFC 9728 protected resource metadata, then RFC 8414 / OpenID Connect discovery of
 * the authorization server, via the SDK's fetchers, plus the validation the SDK leaves out
 * (issuer match, safe endpoint URLs, PKCE S256 support, resource match). Validators are pure.
 */
import { discoverAuthorizationServerMetadata, discoverOAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata, OAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { isLoopbackHost } from '../config/config.js';
import { describeError, RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FetchFn } from '../http/fetch.js';
import { assertSafeBrowserUrl } from './browser.js';

export interface Discovered {
  /** The resource server's metadata, when it publishes RFC 9728 metadata. */
  resourceMetadata?: OAuthProtectedResourceMetadata | undefined;
  authorizationServerUrl: string;
  metadata: AuthorizationServerMetadata;
}

/**
 * An endpoint URL from metadata must be https, or http on loopback (MCP 2025-11-25 authorization,
 * communication security: all authorization server endpoints MUST be served over HTTPS).
 */
export function assertSafeEndpoint(raw: unknown, field: string, allowHttp: boolean): string {
  if (typeof raw !== 'string') throw new RelayError('DISCOVERY_FAILED', `"${field}" in authorization server metadata is missing`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RelayError('UNSAFE_URL', `"${field}" in authorization server metadata is not a valid URL`);
  }
  const ok = url.protocol === 'https:' || (url.protocol === 'http:' && (allowHttp || isLoopbackHost(url.hostname)));
  if (!ok)
    throw new RelayError(
      'UNSAFE_URL',
      `"${field}" in authorization server metadata must be an https URL (got scheme "${url.protocol}" for host "${url.host}")`,
    );
  if (url.username || url.password) throw new RelayError('UNSAFE_URL', `"${field}" in authorization server metadata must not contain credentials`);
  return url.href;
}

/** Pure validation of authorization server metadata fetched for `expectedIssuer`. */
export function validateAuthorizationServerMetadata(
  metadata: AuthorizationServerMetadata,
  expectedIssuer: string,
  allowHttp: boolean,
  requirePkce = true,
): AuthorizationServerMetadata {
  // RFC 8414 §3.3: the issuer in the metadata MUST be identical to the issuer URL used to fetch it.
  if (sameUrl(metadata.issuer, expectedIssuer) === false) {
    throw new RelayError('DISCOVERY_FAILED', `"issuer" in authorization server metadata must equal ${expectedIssuer} (got ${metadata.issuer})`);
  }
  // MCP 2025-11-25 authorization, PKCE: if code_challenge_methods_supported is absent or lacks
  // S256, the client MUST refuse to proceed.
  // (The client credentials grant has no authorization request, so no PKCE to refuse over.)
  if (requirePkce && !metadata.code_challenge_methods_supported?.includes('S256')) {
    throw new RelayError(
      'DISCOVERY_FAILED',
      `the authorization server ${expectedIssuer} does not advertise PKCE S256 ("code_challenge_methods_supported"), which MCP requires; refusing to log in`,
    );
  }
  assertSafeEndpoint(metadata.authorization_endpoint, 'authorization_endpoint', allowHttp);
  try {
    assertSafeBrowserUrl(metadata.authorization_endpoint, { allowHttp });
  } catch (err) {
    throw new RelayError('UNSAFE_URL', `"authorization_endpoint" in authorization server metadata of ${expectedIssuer}: ${describeError(err)}`, { cause: err });
  }
  assertSafeEndpoint(metadata.token_endpoint, 'token_endpoint', allowHttp);
  for (const field of ['registration_endpoint', 'revocation_endpoint', 'device_authorization_endpoint'] as const) {
    const v = (metadata as Record<string, unknown>)[field];
    if (v !== undefined) assertSafeEndpoint(v, field, allowHttp);
  }
  return metadata;
}

/**
 * RFC 9728 §3.3: the `resource` in the metadata must identify the server we asked about. Like the
 * SDK we accept the server URL or a path prefix of it on the same origin.
 */
export function validateResourceMetadata(meta: OAuthProtectedResourceMetadata, serverUrl: URL): OAuthProtectedResourceMetadata {
  let resource: URL;
  try {
    resource = new URL(meta.resource);
  } catch {
    throw new RelayError('DISCOVERY_FAILED', '"resource" in protected resource metadata is not a URL');
  }
  const prefix = resource.pathname.endsWith('/') ? resource.pathname : `${resource.pathname}/`;
  const path = serverUrl.pathname.endsWith('/') ? serverUrl.pathname : `${serverUrl.pathname}/`;
  if (resource.origin !== serverUrl.origin || !path.startsWith(prefix)) {
    throw new RelayError('DISCOVERY_FAILED', `"resource" in protected resource metadata must be ${serverUrl.href} (got ${meta.resource})`);
  }
  return meta;
}

function sameUrl(a: string, b: string): boolean | undefined {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}

/**
 * The authorization server a 2025-03-26 server implies when it publishes no metadata (MCP
 * 2025-03-26 authorization §2.3.3, "Fallbacks for Servers without Metadata Discovery"): the
 * default paths at the authorization base URL. It advertises no `iss` parameter support (so the
 * redirect need not carry one, RFC 9207 §2.4), and PKCE S256 is used as with every server (2025-03-26
 * §2.1.1: PKCE is REQUIRED for all clients).
 */
export function legacyDefaultMetadata(baseUrl: string): AuthorizationServerMetadata {
  const base = new URL(baseUrl).origin;
  return {
    issuer: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/register`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
  };
}

/** Throws DISCOVERY_FAILED when `url` gives no HTTP answer at all (the body is not read). */
async function assertAnswers(url: string, fetchFn: FetchFn): Promise<void> {
  try {
    const res = await fetchFn(url, { signal: AbortSignal.timeout(REACHABILITY_TIMEOUT_MS) });
    await res.body?.cancel().catch(() => {});
  } catch (err) {
    throw new RelayError('DISCOVERY_FAILED', `cannot reach ${new URL(url).origin} to discover its OAuth metadata: ${describeError(err)}`, { cause: err });
  }
}

/** How long the reachability check before the 2025-03-26 fallback waits. */
const REACHABILITY_TIMEOUT_MS = 10_000;

export interface DiscoverOptions {
  serverUrl: URL;
  /** From the 401's WWW-Authenticate `resource_metadata`. */
  resourceMetadataUrl?: string | undefined;
  allowHttp: boolean;
  fetch: FetchFn;
  log: Logger;
  /** False for the client credentials grant, which sends no authorization request. */
  requirePkce?: boolean;
}

/** Fetch and validate everything the login needs. Throws DISCOVERY_FAILED / UNSAFE_URL with the field named. */
export async function discover(opts: DiscoverOptions): Promise<Discovered> {
  let resourceMetadata: OAuthProtectedResourceMetadata | undefined;
  if (opts.resourceMetadataUrl) assertSafeEndpoint(opts.resourceMetadataUrl, 'resource_metadata (WWW-Authenticate)', opts.allowHttp);
  try {
    // Header URL first, else the path-aware well-known URL, else the root (RFC 9728 §3.1, MCP 2025-11-25).
    resourceMetadata = await discoverOAuthProtectedResourceMetadata(opts.serverUrl, { resourceMetadataUrl: opts.resourceMetadataUrl }, opts.fetch);
  } catch (err) {
    if (opts.resourceMetadataUrl)
      throw new RelayError('DISCOVERY_FAILED', `cannot load protected resource metadata from ${opts.resourceMetadataUrl}: ${describeError(err)}`, {
        cause: err,
      });
  }
  if (resourceMetadata) validateResourceMetadata(resourceMetadata, opts.serverUrl);
  const asUrl = resourceMetadata?.authorization_servers?.[0] ?? opts.serverUrl.origin;
  assertSafeEndpoint(asUrl, 'authorization_servers[0]', opts.allowHttp);
  let metadata: AuthorizationServerMetadata | undefined;
  try {
    metadata = await discoverAuthorizationServerMetadata(asUrl, { fetchFn: opts.fetch });
  } catch (err) {
    throw new RelayError('DISCOVERY_FAILED', `cannot load authorization server metadata for ${asUrl}: ${describeError(err)}`, { cause: err });
  }
  if (!metadata && !resourceMetadata) {
    // The SDK's discovery reads "no answer at all" as "no metadata": an unreachable server is no
    // evidence of a metadata-less 2025-03-26 server, so it must answer (any status) first.
    await assertAnswers(`${new URL(asUrl).origin}/.well-known/oauth-authorization-server`, opts.fetch);
    // MCP 2025-03-26 authorization §2.3.3: without metadata discovery, the default endpoints at
    // the authorization base URL (the server URL without its path) are used.
    opts.log.info(
      `${opts.serverUrl.origin} publishes no OAuth metadata (neither RFC 9728 nor RFC 8414): it follows MCP 2025-03-26, so the relay uses its default endpoints /authorize, /token and /register there`,
    );
    metadata = legacyDefaultMetadata(asUrl);
  } else if (!resourceMetadata) {
    opts.log.info('the server publishes no protected resource metadata; assuming its origin is the authorization server (pre-2025-06 servers)');
  }
  if (!metadata) {
    throw new RelayError(
      'DISCOVERY_FAILED',
      `${asUrl} publishes no OAuth authorization server metadata (RFC 8414) or OpenID configuration; the relay cannot log in there`,
    );
  }
  return {
    resourceMetadata,
    authorizationServerUrl: asUrl,
    metadata: validateAuthorizationServerMetadata(metadata, asUrl, opts.allowHttp, opts.requirePkce ?? true),
  };
}
