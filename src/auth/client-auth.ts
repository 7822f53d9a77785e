/**
 * Client authentication at the authorization server's endpoints, written once (after
 * oauth4webapi's `None` / `ClientSecretBasic` / `ClientSecretPost` / `PrivateKeyJwt`): every
 * token, device authorization and revocation request the relay makes authenticates through
 * {@link clientAuthentication}. (RFC 7591 registration itself is unauthenticated, and the relay
 * makes no RFC 7592 registration-management requests.)
 *
 * - `none` (RFC 6749 §2.1, OAuth 2.1 §2.4): a public client sends only `client_id`.
 * - `client_secret_basic` (RFC 6749 §2.3.1): HTTP Basic with the client id and secret each
 *   encoded with application/x-www-form-urlencoded (RFC 6749 Appendix B) before they are joined
 *   with ":" and base64-encoded, so an id or secret holding ":", "+", "%", a space or non-ASCII
 *   arrives intact at a server that decodes as the RFC says.
 * - `client_secret_post` (RFC 6749 §2.3.1): `client_id` and `client_secret` in the form body.
 * - `private_key_jwt` (RFC 7523 §2.2, §3; OpenID Connect Core §9): a signed, single-use JWT
 *   assertion in the body.
 * RFC 6749 §2.3: a client MUST NOT use more than one method in a request; each helper sets one.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ClientKey } from '../config/config.js';
import { RelayError } from '../errors.js';

/** RFC 7523 §2.2: the client_assertion_type of a JWT client assertion. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/**
 * Lifetime of one client assertion. It is used at once; the margin absorbs clock skew between
 * this machine and the authorization server, and the unique `jti` stops a replay meanwhile.
 */
export const ASSERTION_LIFETIME_S = 300;

export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** What an authentication helper may change on one request. */
export interface ClientAuthTarget {
  headers: Headers;
  body: URLSearchParams;
  /**
   * Who the request is for, for a client assertion's `aud` (RFC 7523 §3): the authorization
   * server's issuer identifier when known, else the endpoint URL (both allowed by §3).
   */
  audience: string;
}

/** Adds one client's credentials to one request. */
export type ClientAuth = (target: ClientAuthTarget) => Promise<void>;

/**
 * RFC 6749 Appendix B: the application/x-www-form-urlencoded encoding of one value (the URL
 * Standard's serializer, as URLSearchParams uses: space → "+", everything outside
 * `*-._` and alphanumerics percent-encoded as UTF-8).
 */
export function formUrlEncode(value: string): string {
  return new URLSearchParams([['v', value]]).toString().slice(2);
}

/** A public client (RFC 6749 §2.1): only `client_id` in the body. */
export function None(clientId: string): ClientAuth {
  return async ({ body }) => {
    body.set('client_id', clientId);
  };
}

/** RFC 6749 §2.3.1 HTTP Basic, with both parts form-urlencoded first (see the module header). */
export function ClientSecretBasic(clientId: string, secret: string): ClientAuth {
  const credentials = Buffer.from(`${formUrlEncode(clientId)}:${formUrlEncode(secret)}`, 'utf8').toString('base64');
  return async ({ headers }) => {
    headers.set('authorization', `Basic ${credentials}`);
  };
}

/** RFC 6749 §2.3.1: `client_id` and `client_secret` in the request body. */
export function ClientSecretPost(clientId: string, secret: string): ClientAuth {
  return async ({ body }) => {
    body.set('client_id', clientId);
    body.set('client_secret', secret);
  };
}

/**
 * RFC 7523 §2.2 `private_key_jwt`: iss = sub = client_id, aud = the authorization server (its
 * issuer, one value, as draft-ietf-oauth-rfc7523bis requires), exp bounds the assertion, a
 * random `jti` makes it single-use (§3 items 1-7). Signed here rather than with the SDK's
 * createPrivateKeyJwtAuth, which sets no `kid`, reads PKCS#8 only and makes its `jti` from
 * Math.random.
 */
export function PrivateKeyJwt(clientId: string, key: ClientKey, now: () => number = Date.now): ClientAuth {
  return async ({ body, audience }) => {
    const iat = Math.floor(now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(key.keyId !== undefined ? { kid: key.keyId } : {}) })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_LIFETIME_S)
      .setJti(randomUUID())
      .sign(key.key);
    body.set('client_id', clientId);
    body.set('client_assertion_type', JWT_BEARER_ASSERTION_TYPE);
    body.set('client_assertion', assertion);
  };
}

/** The client as the relay knows it (a stored registration or the command-line client). */
export interface ClientIdentity {
  client_id: string;
  client_secret?: string | undefined;
  /** From the registration (RFC 7591 §2), when the server told us. */
  token_endpoint_auth_method?: string | undefined;
}

const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post']);

/**
 * Which method to use, in the SDK's order (so a client that worked through the SDK keeps its
 * method): the registered method when the server lists it (or lists nothing); else, with an
 * empty list, client_secret_basic for a secret (RFC 8414 §2 default) or none; else basic, post,
 * none in that order of preference. With a private key, private_key_jwt.
 */
export function selectClientAuthMethod(client: ClientIdentity, supported: readonly string[] | undefined, hasKey = false): ClientAuthMethod {
  if (hasKey) return 'private_key_jwt';
  const list = supported ?? [];
  const hasSecret = client.client_secret !== undefined;
  const registered = client.token_endpoint_auth_method;
  if (registered && (registered === 'none' || SECRET_METHODS.has(registered)) && (list.length === 0 || list.includes(registered))) {
    return registered as ClientAuthMethod;
  }
  if (list.length === 0) return hasSecret ? 'client_secret_basic' : 'none';
  if (hasSecret && list.includes('client_secret_basic')) return 'client_secret_basic';
  if (hasSecret && list.includes('client_secret_post')) return 'client_secret_post';
  if (list.includes('none')) return 'none';
  return hasSecret ? 'client_secret_post' : 'none';
}

export interface ClientAuthOptions {
  /** The endpoint's `*_auth_methods_supported` from the authorization server metadata. */
  supported?: readonly string[] | undefined;
  /** A private key for private_key_jwt (--client-key-file). */
  key?: ClientKey | undefined;
  now?: (() => number) | undefined;
}

/**
 * The one way the relay authenticates a client: picks the method ({@link selectClientAuthMethod})
 * and returns it with the helper that applies it.
 *
 * @throws RelayError `AUTH_FAILED` when the chosen method needs a secret the client lacks.
 */
export function clientAuthentication(client: ClientIdentity, opts: ClientAuthOptions = {}): { method: ClientAuthMethod; apply: ClientAuth } {
  const method = selectClientAuthMethod(client, opts.supported, opts.key !== undefined);
  switch (method) {
    case 'private_key_jwt':
      return { method, apply: PrivateKeyJwt(client.client_id, opts.key!, opts.now) };
    case 'none':
      return { method, apply: None(client.client_id) };
    default: {
      const secret = client.client_secret;
      if (secret === undefined)
        throw new RelayError('AUTH_FAILED', `client ${client.client_id} is registered for ${method} but no client secret is known; pass --client-secret`);
      return { method, apply: method === 'client_secret_basic' ? ClientSecretBasic(client.client_id, secret) : ClientSecretPost(client.client_id, secret) };
    }
  }
}
