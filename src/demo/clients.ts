/**
 * The demo authorization server's clients: pre-registered (static), dynamically registered
 * (RFC 7591) and Client ID Metadata Document clients; redirect URI matching and client
 * authentication at the token and revocation endpoints (secrets, or RFC 7523 private_key_jwt
 * assertions verified with the client's registered public keys).
 */
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../log.js';
import { fetchClientMetadataDocument, isClientIdUrl } from './cimd.js';
import { HttpError, isLoopbackHttpUrl, parseBasicAuth, randomToken, safeEqual, tryParseUrl } from './http.js';
import type { StaticClient } from './types.js';

export type AuthMethod = 'none' | 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt';
/** Methods a client may register dynamically (private_key_jwt needs keys known in advance: static clients only). */
export const AUTH_METHODS: readonly AuthMethod[] = ['none', 'client_secret_post', 'client_secret_basic'];

/** RFC 7523 §2.2: the client_assertion_type of a JWT client assertion. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Asymmetric JWS algorithms accepted for client assertions (never "none", never a shared secret). */
const ASSERTION_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** An assertion may not live longer than this: it bounds how long each jti is remembered. */
const MAX_ASSERTION_LIFETIME_MS = 60 * 60_000;

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
  /** Public keys for private_key_jwt (static clients with `jwks`). */
  keys?: JWTVerifyGetKey;
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
  /** "client jti" → when the assertion expires (ms): RFC 7523 §3 item 7, each jti is used once. */
  private readonly usedJtis = new Map<string, number>();

  constructor(private readonly deps: ClientRegistryDeps) {}

  /** Throws when the options contradict themselves (a method without the credential it needs). */
  addStatic(c: StaticClient): void {
    const methods: AuthMethod[] = c.token_endpoint_auth_method
      ? [c.token_endpoint_auth_method]
      : [...(c.client_secret ? (['client_secret_basic', 'client_secret_post'] as const) : []), ...(c.jwks ? (['private_key_jwt'] as const) : [])];
    if (methods.length === 0) methods.push('none');
    if (methods.some((m) => m.startsWith('client_secret')) && !c.client_secret)
      throw new Error(`static client ${c.client_id}: ${methods.join(', ')} needs client_secret`);
    if (methods.includes('private_key_jwt') && !c.jwks) throw new Error(`static client ${c.client_id}: private_key_jwt needs jwks`);
    this.clients.set(c.client_id, {
      client_id: c.client_id,
      kind: 'static',
      authMethods: methods,
      ...(c.jwks ? { keys: createLocalJWKSet(c.jwks as unknown as JSONWebKeySet) } : {}),
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
      throw new HttpError(
        400,
        'invalid_client_metadata',
        `"token_endpoint_auth_method" must be one of ${AUTH_METHODS.join(', ')} (got ${JSON.stringify(method)})`,
      );
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
   * (RFC 6749 §2.3). Throws HttpError 401 invalid_client (RFC 6749 §5.2). `audiences` are the
   * values a client assertion's `aud` may hold (this server's issuer and the endpoint's URL);
   * without them assertions are refused.
   */
  async authenticate(authorization: string | undefined, form: Map<string, string>, opts: { audiences?: string[] } = {}): Promise<ClientRecord> {
    const usedBasic = /^Basic\s/i.test(authorization ?? '');
    if (form.has('client_assertion') || form.has('client_assertion_type')) {
      // RFC 6749 §2.3: the client MUST NOT use more than one authentication method per request.
      if (usedBasic || form.has('client_secret')) throw new HttpError(400, 'invalid_request', 'client authenticated with a client assertion and a secret');
      return this.verifyAssertion(form, opts.audiences ?? []);
    }
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

  /**
   * private_key_jwt (RFC 7523 §2.2, §3): a JWT signed with one of the client's registered keys,
   * iss = sub = client_id, aud naming this server, unexpired, with a jti never seen before.
   */
  private async verifyAssertion(form: Map<string, string>, audiences: string[]): Promise<ClientRecord> {
    const fail = (description: string): HttpError => new HttpError(401, 'invalid_client', description);
    if (form.get('client_assertion_type') !== JWT_BEARER_ASSERTION_TYPE) throw fail(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
    const assertion = form.get('client_assertion');
    if (!assertion) throw fail('client_assertion is missing');
    let sub: unknown;
    try {
      sub = decodeJwt(assertion).sub;
    } catch {
      throw fail('client_assertion is not a JWT');
    }
    if (typeof sub !== 'string' || sub === '') throw fail('client_assertion has no "sub" (the client_id)');
    const bodyId = form.get('client_id');
    if (bodyId !== undefined && bodyId !== sub) throw fail('client_id differs from the "sub" of client_assertion');
    const client = this.clients.get(sub);
    if (!client?.keys || !client.authMethods.includes('private_key_jwt')) throw fail(`client ${sub} has no keys registered for private_key_jwt`);
    if (audiences.length === 0) throw fail('client assertions are accepted at the token endpoint only');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(assertion, client.keys, {
        issuer: sub,
        subject: sub,
        audience: audiences,
        algorithms: ASSERTION_ALGS,
        requiredClaims: ['exp', 'jti'],
        currentDate: new Date(this.deps.now()),
      }));
    } catch (err) {
      this.deps.log.info({ client_id: sub, reason: err instanceof Error ? err.message : String(err) }, 'demo AS: client assertion rejected');
      throw fail(`client_assertion rejected: ${err instanceof Error ? err.message : String(err)}`);
    }
    const now = this.deps.now();
    const expiresAt = payload.exp! * 1000;
    if (expiresAt - now > MAX_ASSERTION_LIFETIME_MS) throw fail(`client_assertion must expire within ${MAX_ASSERTION_LIFETIME_MS / 60_000} minutes`);
    for (const [k, exp] of this.usedJtis) if (exp <= now) this.usedJtis.delete(k);
    const used = `${sub} ${payload.jti}`;
    if (this.usedJtis.has(used)) throw fail('client_assertion was already used (its jti was seen before)');
    this.usedJtis.set(used, expiresAt);
    return client;
  }
}
