/**
 * The token endpoint as a request/process pair (after oauth4webapi): {@link tokenRequest} sends
 * one form-encoded POST (RFC 6749 §3.2, client authenticated through client-auth.ts) and returns
 * the raw Response; {@link processTokenResponse} is pure: it reads that Response and returns a
 * typed {@link TokenEndpointResponse} (RFC 6749 §5.1), validated field by field, or throws a
 * RelayError whose `cause` is a {@link TokenEndpointProblem} naming the OAuth error (§5.2) or the
 * field that was wrong. Callers decide on `cause.error`, `status` and `cause.retryAfter`, never on
 * message text.
 *
 * The SDK's exchangeAuthorization / refreshAuthorization / fetchToken are not used: they take
 * a client-authentication callback, but throw an OAuthError without the HTTP status or the
 * Retry-After header (which retries need), and validate with a schema whose errors do not name
 * the field.
 */
import { RelayError } from '../errors.js';
import type { FetchFn } from '../http/fetch.js';
import { networkError } from '../http/net-errors.js';
import type { ClientAuth } from './client-auth.js';
import type { TokenDpop } from './dpop.js';

/** One token request may take this long (connect, headers and body) before it counts as a timeout. */
export const TOKEN_REQUEST_TIMEOUT_MS = 30_000;
/** Longest `error_description` quoted in a message (it is the server's free text). */
const MAX_DESCRIPTION_CHARS = 200;
/** Control characters (C0 and DEL) in an error description become spaces: it goes into one log line. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\x00-\x1f\x7f]+/g;
/** RFC 6749 §5.2: error codes are %x20-21 / %x23-5B / %x5D-7E; anything else is not quoted back. */
const ERROR_CODE_PATTERN = /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

/** A successful token response (RFC 6749 §5.1), every field checked. */
export interface TokenEndpointResponse {
  access_token: string;
  token_type: string;
  /** Seconds, relative to when the response was received. */
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
  /** OpenID Connect Core §3.1.3.3: present when the scope had openid (an enterprise IdP login). */
  id_token?: string;
}

/** What went wrong, as the `cause` of the RelayError {@link processTokenResponse} throws. */
export interface TokenEndpointProblem {
  /** HTTP status of the answer. */
  status: number;
  /** The RFC 6749 §5.2 `error` code, when the body was an OAuth error. */
  error?: string;
  /** Its `error_description`, shortened, when it had one (the server's words). */
  error_description?: string;
  /** The raw Retry-After header (RFC 9110 §10.2.3), when the server sent one. */
  retryAfter?: string;
  /** A field of a 200 answer that failed validation, and what it must be. */
  field?: string;
  expected?: string;
}

/** `text` with every one of `secrets` (the request's own credentials) replaced, for messages. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}

/** The problem a RelayError from {@link processTokenResponse} carries, if it is one. */
export function tokenProblem(err: unknown): TokenEndpointProblem | undefined {
  const cause = err instanceof RelayError ? (err.cause as Partial<TokenEndpointProblem> | undefined) : undefined;
  return cause && typeof cause === 'object' && typeof cause.status === 'number' ? (cause as TokenEndpointProblem) : undefined;
}

/** The `error` of an RFC 6749 §5.2 error body, when it is one; no other text is ever quoted back. */
export function oauthErrorCode(body: unknown): string | undefined {
  const e = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  return typeof e === 'string' && ERROR_CODE_PATTERN.test(e) ? e : undefined;
}

export interface TokenRequest {
  /** The token endpoint from the metadata. */
  endpoint: string;
  /** The grant's parameters (grant_type and its own), without client authentication. */
  params: URLSearchParams;
  /** RFC 8707 §2 and MCP 2025-11-25 authorization: `resource` MUST be sent on token requests. */
  resource?: string | undefined;
  auth: ClientAuth;
  /** For a client assertion's `aud`: the issuer, else the endpoint (RFC 7523 §3). */
  issuer?: string | undefined;
  fetch: FetchFn;
  signal?: AbortSignal | undefined;
  /** RFC 9449 §5: send a DPoP proof (the token is to be bound to this key), for any grant. */
  dpop?: TokenDpop | undefined;
}

/**
 * Send one token request and return the raw answer (read it with {@link processTokenResponse}).
 * Redirects are not followed: the client's credentials and grant go to the endpoint the
 * metadata named, nowhere else.
 *
 * With `dpop`, the request carries a fresh proof; an answer `400 use_dpop_nonce` with a
 * `DPoP-Nonce` header (RFC 9449 §8) is sent once more with a new proof carrying that nonce (and
 * a new client assertion: each is single-use), and any `DPoP-Nonce` is remembered for the
 * endpoint's origin. That answer is the server asking for freshness, never a failed grant.
 *
 * @throws RelayError `AUTH_FAILED` whose cause is the network error when no answer came.
 */
export async function tokenRequest(r: TokenRequest): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const res = await tokenRequestOnce(r);
    if (!r.dpop) return res;
    const fresh = r.dpop.nonce(r.endpoint, res.headers.get('dpop-nonce'));
    if (attempt >= DPOP_NONCE_ATTEMPTS || !fresh || res.status !== 400) return res;
    const error = oauthErrorCode(
      await res
        .clone()
        .json()
        .catch(() => undefined),
    );
    if (error !== 'use_dpop_nonce') return res;
    await res.body?.cancel().catch(() => {});
  }
}

/** A token request is sent at most this often: once, and once more with the nonce the server asked for (RFC 9449 §8). */
const DPOP_NONCE_ATTEMPTS = 2;

async function tokenRequestOnce(r: TokenRequest): Promise<Response> {
  const body = new URLSearchParams(r.params);
  if (r.resource !== undefined) body.set('resource', r.resource);
  const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' });
  await r.auth({ headers, body, audience: r.issuer ?? r.endpoint });
  // RFC 9449 §4.1: exactly one DPoP header, a new proof for every request sent.
  if (r.dpop) headers.set('dpop', await r.dpop.proof(r.endpoint));
  const timeout = AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS);
  try {
    return await r.fetch(r.endpoint, { method: 'POST', headers, body, redirect: 'manual', signal: r.signal ? AbortSignal.any([r.signal, timeout]) : timeout });
  } catch (err) {
    const net = networkError(err, new URL(r.endpoint), 'the token endpoint');
    throw new RelayError('AUTH_FAILED', net.message, { cause: err });
  }
}

function fail(message: string, problem: TokenEndpointProblem): RelayError {
  return new RelayError('AUTH_FAILED', message, { status: problem.status, cause: problem });
}

function fieldError(status: number, field: string, expected: string, got: unknown): RelayError {
  const kind = got === null ? 'null' : Array.isArray(got) ? 'an array' : got === undefined ? 'missing' : typeof got;
  return fail(`"${field}" in the token response must be ${expected} (got ${kind})`, { status, field, expected });
}

/**
 * Validate a token endpoint answer (RFC 6749 §5.1 / §5.2). Pure: reads only `res`.
 * - 200 with a JSON object whose `access_token` is a non-empty string, `token_type` a string
 *   (Bearer, RFC 6750; or DPoP when the request carried a proof, `opts.dpop`, RFC 9449 §5: any
 *   other type is refused, the relay cannot present it), `expires_in` a non-negative number when
 *   present, `refresh_token` and `scope` strings when present. A DPoP `token_type` comes back
 *   spelled `DPoP`.
 * - Anything else throws `AUTH_FAILED` with `status` and a {@link TokenEndpointProblem} cause.
 */
export async function processTokenResponse(res: Response, opts: { dpop?: boolean } = {}): Promise<TokenEndpointResponse> {
  const status = res.status;
  const retryAfter = res.headers.get('retry-after') ?? undefined;
  const text = await res.text().catch(() => undefined);
  let json: unknown;
  try {
    json = text === undefined ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (status !== 200) {
    const error = oauthErrorCode(json);
    const problem: TokenEndpointProblem = { status, ...(retryAfter !== undefined ? { retryAfter } : {}) };
    if (error === undefined) {
      // Only the status: a body that is not an OAuth error may echo the request (secrets).
      throw fail(`the token endpoint answered HTTP ${status} with a body that is not an OAuth error`, problem);
    }
    const raw = (json as { error_description?: unknown }).error_description;
    const description = typeof raw === 'string' ? raw.replace(CONTROL_CHARS, ' ').slice(0, MAX_DESCRIPTION_CHARS).trim() : '';
    throw fail(`the token endpoint answered HTTP ${status} "${error}"${description ? ` (${description})` : ''}`, {
      ...problem,
      error,
      ...(description ? { error_description: description } : {}),
    });
  }
  if (json === undefined)
    throw fail('the token endpoint answered HTTP 200 with a body that is not valid JSON', { status, field: '(body)', expected: 'a JSON object' });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fieldError(status, '(body)', 'a JSON object', json);
  const t = json as Record<string, unknown>;
  if (typeof t.access_token !== 'string' || t.access_token === '') throw fieldError(status, 'access_token', 'a non-empty string', t.access_token);
  if (typeof t.token_type !== 'string') throw fieldError(status, 'token_type', 'a string', t.token_type);
  // RFC 6749 §5.1: token_type is case-insensitive; the relay presents Bearer tokens, and DPoP
  // tokens when it sent a proof (RFC 9449 §5: a DPoP token without our key is unusable).
  const type = t.token_type.toLowerCase();
  if (type !== 'bearer' && !(opts.dpop && type === 'dpop')) {
    const expected = opts.dpop ? 'DPoP or Bearer' : 'Bearer';
    throw fail(`"token_type" in the token response must be ${expected} (got ${JSON.stringify(t.token_type.slice(0, 32))})`, {
      status,
      field: 'token_type',
      expected,
    });
  }
  const out: TokenEndpointResponse = { access_token: t.access_token, token_type: type === 'dpop' ? 'DPoP' : t.token_type };
  if (t.expires_in !== undefined) {
    // RFC 6749 §5.1 makes it a number; some servers send digits as a string (the SDK accepted
    // that, so the relay still does), nothing else.
    const seconds = typeof t.expires_in === 'string' && /^\d+$/.test(t.expires_in) ? Number(t.expires_in) : t.expires_in;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) throw fieldError(status, 'expires_in', 'a non-negative number', t.expires_in);
    out.expires_in = seconds;
  }
  if (t.refresh_token !== undefined) {
    if (typeof t.refresh_token !== 'string' || t.refresh_token === '') throw fieldError(status, 'refresh_token', 'a non-empty string', t.refresh_token);
    out.refresh_token = t.refresh_token;
  }
  if (t.scope !== undefined) {
    if (typeof t.scope !== 'string') throw fieldError(status, 'scope', 'a string', t.scope);
    out.scope = t.scope;
  }
  if (t.id_token !== undefined) {
    if (typeof t.id_token !== 'string' || t.id_token === '') throw fieldError(status, 'id_token', 'a non-empty string', t.id_token);
    out.id_token = t.id_token;
  }
  return out;
}
