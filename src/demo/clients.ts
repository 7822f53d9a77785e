/**
 * The demo authorization server's clients: pre-registered (static), dynamically registered
 * (RFC 7591) and Client ID Metadata Document clients; redirect URI matching and client
 * authentication at the token and revocation endpoints.
 */
import type { Logger } from '../log.js';
import { fetchClientMetadataDocument, isClientIdUrl } from './cimd.js';
import { HttpError, isLoopbackHttpUrl, parseBasicAuth, randomToken, safeEqual, tryParseUrl } from './http.js';
import type { StaticClient } from './types.js';

export type AuthMethod = 'none' | 'client_secret_post' | 'client_secret_basic';
export const AUTH_METHODS: readonly AuthMethod[] = ['none', 'client_secret_post', 'client_secret_basic'];

/** How long a fetched client metadata document is trusted before it is fetched again. */
const CIMD_CACHE_TTL_MS = 5 * 60_000;

export interface ClientRecord {
  client_id: string;
  client_secret?: string;
  /** Undefined: any loopback http redirect URI is accepted. */
  redirect_uris?: string[];
  authMethods: AuthMethod[];
  client_name?: string;
  kind: 'static' | 'registered' | 'metadata-document';
}

export interface ClientRegistryDeps {
  cimdEnabled: boolean;
  now: () => number;
  log: Logger;
  fetchFn?: typeof fetch;
}

/**
 * Redirect URI check (MCP 2025-11-25 "Open Redirection": exact match against registered values),
 * except that for loopback redirect URIs any port is allowed (RFC 8252 §7.3).
 */
export function redirectUriAllowed(client: ClientRecord, uri: string): boolean {
  const presented = tryParseUrl(uri);
  if (!presented || uri.includes('#')) return false;
  if (client.redirect_uris === undefined) return isLoopbackHttpUrl(presented);
  return client.redirect_uris.some((registered) => {
    if (registered === uri) return true;
    const r = tryParseUrl(registered);
    return (
      r !== undefined &&
      isLoopbackHttpUrl(r) &&
      isLoopbackHttpUrl(presented) &&
      r.hostname === presented.hostname &&
      r.pathname === presented.pathname &&
      r.search === presented.search &&
      r.username === presented.username &&
      r.password === presented.password
    );
  });
}

/** RFC 7591 §2: redirect URIs must be absolute, without fragment; MCP: localhost or https. */
function validateRedirectUris(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, 'invalid_redirect_uri', '"redirect_uris" must be a non-empty array');
  }
  for (const uri of value) {
    const url = typeof uri === 'string' && !uri.includes('#') ? tryParseUrl(uri) : undefined;
    if (!url || !(url.protocol === 'https:' || isLoopbackHttpUrl(url))) {
      throw new HttpError(400, 'invalid_redirect_uri', `redirect URI ${JSON.stringify(uri)} must be https or http on a loopback host, without fragment`);
    }
  }
  return value as string[];
}

export class ClientRegistry {
  private readonly clients = new Map<string, ClientRecord>();
  private readonly documents = new Map<string, { client: ClientRecord; fetchedAt: number }>();

  constructor(private readonly deps: ClientRegistryDeps) {}

  addStatic(c: StaticClient): void {
    this.clients.set(c.client_id, {
      client_id: c.client_id,
      kind: 'static',
      authMethods: c.client_secret ? ['client_secret_basic', 'client_secret_post'] : ['none'],
      ...(c.client_secret ? { client_secret: c.client_secret } : {}),
      ...(c.redirect_uris ? { redirect_uris: [...c.redirect_uris] } : {}),
      ...(c.client_name ? { client_name: c.client_name } : {}),
    });
  }

  /** RFC 7591 §3.2.1 registration; returns the response body. Throws HttpError (§3.2.2). */
  register(body: unknown): Record<string, unknown> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new HttpError(400, 'invalid_client_metadata', 'registration body must be a JSON object');
    }
    const meta = body as Record<string, unknown>;
    const redirectUris = validateRedirectUris(meta.redirect_uris);
    // RFC 7591 §2: token_endpoint_auth_method defaults to client_secret_basic.
    const method = meta.token_endpoint_auth_method ?? 'client_secret_basic';
    if (typeof method !== 'string' || !(AUTH_METHODS as readonly string[]).includes(method)) {
      throw new HttpError(400, 'invalid_client_metadata', `"token_endpoint_auth_method" must be one of ${AUTH_METHODS.join(', ')} (got ${JSON.stringify(method)})`);
    }
    for (const field of ['grant_types', 'response_types'] as const) {
      const v = meta[field];
      if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))) {
        throw new HttpError(400, 'invalid_client_metadata', `"${field}" must be an array of strings`);
      }
    }
    if (meta.client_name !== undefined && typeof meta.client_name !== 'string') {
      throw new HttpError(400, 'invalid_client_metadata', '"client_name" must be a string');
    }
    const clientId = `demo-${randomToken(12)}`;
    const secret = method === 'none' ? undefined : randomToken();
    this.clients.set(clientId, {
      client_id: clientId,
      kind: 'registered',
      redirect_uris: redirectUris,
      authMethods: [method as AuthMethod],
      ...(secret ? { client_secret: secret } : {}),
      ...(typeof meta.client_name === 'string' ? { client_name: meta.client_name } : {}),
    });
    this.deps.log.info({ client_id: clientId, method }, 'demo AS: client registered');
    return {
      ...meta,
      redirect_uris: redirectUris,
      token_endpoint_auth_method: method,
      grant_types: meta.grant_types ?? ['authorization_code'],
      response_types: meta.response_types ?? ['code'],
      client_id: clientId,
      client_id_issued_at: Math.floor(this.deps.now() / 1000),
      ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    };
  }

  /**
   * Look a client up; a URL client_id is resolved through its metadata document when that is
   * enabled. Throws HttpError(401, invalid_client) when the document cannot be used.
   */
  async find(clientId: string): Promise<ClientRecord | undefined> {
    const known = this.clients.get(clientId);
    if (known || !this.deps.cimdEnabled || !isClientIdUrl(clientId)) return known;
    const cached = this.documents.get(clientId);
    if (cached && this.deps.now() - cached.fetchedAt < CIMD_CACHE_TTL_MS) return cached.client;
    try {
      const doc = await fetchClientMetadataDocument(clientId, this.deps.fetchFn);
      const client: ClientRecord = {
        client_id: clientId,
        kind: 'metadata-document',
        redirect_uris: doc.redirect_uris,
        authMethods: ['none'],
        ...(doc.client_name ? { client_name: doc.client_name } : {}),
      };
      this.documents.set(clientId, { client, fetchedAt: this.deps.now() });
      return client;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.deps.log.warn({ client_id: clientId, reason }, 'demo AS: client metadata document rejected');
      throw new HttpError(401, 'invalid_client', `client metadata document unusable: ${reason}`);
    }
  }

  /**
   * Authenticate the client of a token or revocation request with the method it registered
   * (RFC 6749 §2.3). Throws HttpError 401 invalid_client (RFC 6749 §5.2).
   */
  async authenticate(authorization: string | undefined, form: Map<string, string>): Promise<ClientRecord> {
    const usedBasic = /^Basic\s/i.test(authorization ?? '');
    const fail = (description: string): HttpError =>
      new HttpError(401, 'invalid_client', description, usedBasic ? { 'WWW-Authenticate': 'Basic realm="mcp-relay-demo"' } : {});
    const basic = parseBasicAuth(authorization);
    if (usedBasic && !basic) throw fail('malformed Basic authorization header');
    const bodyId = form.get('client_id');
    const bodySecret = form.get('client_secret');
    if (basic && bodySecret !== undefined) {
      // RFC 6749 §2.3: the client MUST NOT use more than one authentication method per request.
      throw new HttpError(400, 'invalid_request', 'client authenticated with both Basic and client_secret in the body');
    }
    if (basic && bodyId !== undefined && bodyId !== basic.id) throw fail('client_id in the body differs from the Basic credentials');
    const clientId = basic?.id ?? bodyId;
    if (!clientId) throw fail('client_id is missing');
    const client = await this.find(clientId);
    if (!client) throw fail(`unknown client_id ${clientId}`);
    const method: AuthMethod = basic ? 'client_secret_basic' : bodySecret !== undefined ? 'client_secret_post' : 'none';
    if (!client.authMethods.includes(method)) {
      throw fail(`client ${clientId} must authenticate with ${client.authMethods.join(' or ')} (got ${method})`);
    }
    const secret = basic?.secret ?? bodySecret;
    if (method !== 'none' && !(client.client_secret !== undefined && secret !== undefined && safeEqual(secret, client.client_secret))) {
      throw fail('client authentication failed');
    }
    return client;
  }
}
