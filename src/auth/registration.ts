/**
 * Which OAuth client the relay is, in the priority MCP 2025-11-25 authorization gives
 * ("Client Registration Approaches"): a pre-registered static client, else a Client ID Metadata
 * Document when the authorization server supports it, else RFC 7591 dynamic registration.
 */
import { registerClient } from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthOptions } from '../config/config.js';
import { describeError, RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FetchFn } from '../http/fetch.js';
import type { ServerStore, StoredClient } from '../store/store.js';
import type { Discovered } from './discovery.js';

export const CLIENT_NAME = 'mcp-relay';

/** The static client from the command line, if one was given. Never written to the store. */
export function staticClient(opts: AuthOptions, redirectUri: string, now: number): StoredClient | undefined {
  if (opts.clientInfo) {
    const info = opts.clientInfo as Record<string, unknown>;
    return {
      ...info,
      client_id: String(info.client_id),
      redirect_uris: Array.isArray(info.redirect_uris) ? (info.redirect_uris as string[]) : [redirectUri],
      kind: 'static',
      registered_at: now,
    } as StoredClient;
  }
  if (opts.clientId) {
    const c: StoredClient = { client_id: opts.clientId, redirect_uris: [redirectUri], kind: 'static', registered_at: now };
    if (opts.clientSecret) c.client_secret = opts.clientSecret;
    return c;
  }
  return undefined;
}

/** Pick the token endpoint auth method for a new registration from what the server supports. */
export function chooseAuthMethod(supported: string[] | undefined): string {
  // RFC 8414 §2: absent means client_secret_basic only.
  const list = supported ?? ['client_secret_basic'];
  if (list.includes('none')) return 'none'; // a public client with PKCE: no secret to leak
  if (list.includes('client_secret_basic')) return 'client_secret_basic';
  if (list.includes('client_secret_post')) return 'client_secret_post';
  // The SDK authenticates a registered client with basic, post or none only: registering as
  // private_key_jwt / tls_client_auth would succeed and every token request then fail. Ask for
  // a public PKCE client; the server accepts it or refuses the registration clearly (RFC 7591 §3.2.2).
  return 'none';
}

export interface ObtainClientOptions {
  store: ServerStore;
  auth: AuthOptions;
  discovered: Discovered;
  redirectUri: string;
  scope: string | undefined;
  fetch: FetchFn;
  log: Logger;
  now: () => number;
  /** Grant types to register (default: authorization_code + refresh_token). */
  grantTypes?: string[];
}

function secretExpired(c: StoredClient, now: number): boolean {
  return !!c.client_secret_expires_at && c.client_secret_expires_at * 1000 <= now;
}

/** Grant types a code login registers. */
const CODE_GRANT_TYPES = ['authorization_code', 'refresh_token'];
/** What a code login needs of a registration (a server may grant refresh_token or not, RFC 7591 §3.2.1). */
const CODE_GRANT_NEEDED = ['authorization_code'];

/**
 * Whether a stored dynamic registration can serve this login: same issuer, the exact redirect URI
 * (many servers match redirect URIs exactly, RFC 8252 §7.3 notwithstanding), the grant types (when
 * the registration lists them) and a live secret. With `sharedFrom`, i.e. a registration another
 * server made: also the scope it was registered with (RFC 7591 §2 lets a server limit the client
 * to it), so that one server's narrow registration never caps another's login.
 */
export function registrationFits(
  c: StoredClient,
  o: Pick<ObtainClientOptions, 'discovered' | 'redirectUri' | 'grantTypes' | 'scope'>,
  now: number,
  sharedFrom = false,
): boolean {
  const grants = Array.isArray(c.grant_types) ? (c.grant_types as unknown[]) : undefined;
  const registeredScope = sharedFrom && typeof c.scope === 'string' ? c.scope.split(' ') : undefined;
  return (
    c.kind === 'dynamic' &&
    (!c.issuer || c.issuer === o.discovered.metadata.issuer) &&
    c.redirect_uris.includes(o.redirectUri) &&
    (grants === undefined || (o.grantTypes ?? CODE_GRANT_NEEDED).every((g) => grants.includes(g))) &&
    (registeredScope === undefined || !o.scope || o.scope.split(' ').every((s) => registeredScope.includes(s))) &&
    !secretExpired(c, now)
  );
}

/**
 * The client to use with `redirectUri`. Call under the server's lock.
 *
 * Dynamic registrations are stored and reused while they fit ({@link registrationFits}). A server
 * without one of its own takes the registration another server made with the same authorization
 * server (the issuer record, `issuers/<key>/client.json`), under the issuer's lock so that N
 * relays of M servers still register once; the copy in the server's client.json is marked
 * `reused: true` so that a refusal (invalid_client) falls back to {@link registerOwnClient}.
 * Lock order is always server, then issuer.
 */
export async function obtainClient(o: ObtainClientOptions): Promise<StoredClient> {
  const now = o.now();
  const fixed = staticClient(o.auth, o.redirectUri, now);
  if (fixed) return fixed;
  const meta = o.discovered.metadata as typeof o.discovered.metadata & { client_id_metadata_document_supported?: boolean };
  if (o.auth.clientMetadataUrl) {
    if (meta.client_id_metadata_document_supported) {
      return {
        client_id: o.auth.clientMetadataUrl,
        redirect_uris: [o.redirectUri],
        kind: 'metadata-document',
        registered_at: now,
        token_endpoint_auth_method: 'none',
      };
    }
    o.log.info('the authorization server does not support Client ID Metadata Documents; using dynamic registration instead');
  }
  const stored = await o.store.readClient();
  if (stored && registrationFits(stored, o, now)) return stored;
  const shared = o.store.issuerStore(meta.issuer);
  return shared.withLock(async () => {
    const record = await shared.readClient();
    if (record && registrationFits(record, o, now, true)) {
      const reused: StoredClient = { ...record, reused: true };
      await o.store.writeClient(reused);
      o.log.info(`reusing the OAuth client registered with ${meta.issuer} for another server`);
      return reused;
    }
    const client = await register(o);
    await shared.writeClient(client);
    await o.store.writeClient(client);
    return client;
  });
}

/**
 * Register a client for this server alone (not shared), after the authorization server refused
 * the registration another server made (invalid_client). Call under the server's lock.
 */
export async function registerOwnClient(o: ObtainClientOptions): Promise<StoredClient> {
  const client = await register(o);
  await o.store.writeClient(client);
  return client;
}

/** RFC 7591 dynamic registration for `o.redirectUri`. */
async function register(o: ObtainClientOptions): Promise<StoredClient> {
  const now = o.now();
  const meta = o.discovered.metadata;
  if (!meta.registration_endpoint) {
    throw new RelayError(
      'AUTH_FAILED',
      `the authorization server ${meta.issuer} does not offer dynamic client registration; register a client there and pass --client-id (and --client-secret) or --client-info`,
    );
  }
  const redirectUris = [o.redirectUri];
  let registered;
  try {
    registered = await registerClient(o.discovered.authorizationServerUrl, {
      metadata: o.discovered.metadata,
      clientMetadata: {
        client_name: CLIENT_NAME,
        // MCP 2026-07-28 authorization (client registration): clients MUST send an appropriate
        // application_type; a CLI with a loopback redirect is "native". Harmless for older servers.
        application_type: 'native',
        redirect_uris: redirectUris,
        grant_types: o.grantTypes ?? CODE_GRANT_TYPES,
        response_types: ['code'],
        token_endpoint_auth_method: chooseAuthMethod(meta.token_endpoint_auth_methods_supported),
        ...(o.scope ? { scope: o.scope } : {}),
      } as Parameters<typeof registerClient>[1]['clientMetadata'],
      fetchFn: o.fetch,
    });
  } catch (err) {
    throw new RelayError('AUTH_FAILED', `dynamic client registration at ${meta.registration_endpoint} failed: ${describeError(err)}`, { cause: err });
  }
  o.log.info(`registered OAuth client with ${meta.issuer}`);
  return {
    ...(registered as unknown as Record<string, unknown>),
    client_id: registered.client_id,
    redirect_uris: registered.redirect_uris?.map(String) ?? redirectUris,
    issuer: meta.issuer,
    kind: 'dynamic',
    registered_at: now,
  } as StoredClient;
}

/**
 * Redirect URIs worth binding first for a login: those of this server's own registration, then
 * those of the issuer record, so that a second server of the same authorization server can
 * reuse a registration (exact redirect-URI match) when that port is free. Read without a lock:
 * a hint only, {@link obtainClient} decides under the locks.
 */
export async function registeredRedirectUris(store: ServerStore, issuer: string): Promise<string[]> {
  const own = await store.readClient();
  const record = await store.issuerStore(issuer).readClient();
  return [own, record].flatMap((c) => (c?.kind === 'dynamic' && (!c.issuer || c.issuer === issuer) ? c.redirect_uris : []));
}
