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

/**
 * The client to use with `redirectUri`. Dynamic registrations are stored and reused while they
 * belong to the same issuer and cover the redirect URI; otherwise the relay registers again.
 * Call under the server's lock so concurrent relays register once.
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
  if (
    stored &&
    stored.kind === 'dynamic' &&
    (!stored.issuer || stored.issuer === meta.issuer) &&
    stored.redirect_uris.includes(o.redirectUri) &&
    (o.grantTypes ?? []).every((g) => !Array.isArray(stored.grant_types) || (stored.grant_types as string[]).includes(g)) &&
    !secretExpired(stored, now)
  ) {
    return stored;
  }
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
        grant_types: o.grantTypes ?? ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: chooseAuthMethod(meta.token_endpoint_auth_methods_supported),
        ...(o.scope ? { scope: o.scope } : {}),
      } as Parameters<typeof registerClient>[1]['clientMetadata'],
      fetchFn: o.fetch,
    });
  } catch (err) {
    throw new RelayError('AUTH_FAILED', `dynamic client registration at ${meta.registration_endpoint} failed: ${describeError(err)}`, { cause: err });
  }
  const client: StoredClient = {
    ...(registered as unknown as Record<string, unknown>),
    client_id: registered.client_id,
    redirect_uris: registered.redirect_uris?.map(String) ?? redirectUris,
    issuer: meta.issuer,
    kind: 'dynamic',
    registered_at: now,
  } as StoredClient;
  await o.store.writeClient(client);
  o.log.info(`registered OAuth client with ${meta.issuer}`);
  return client;
}
