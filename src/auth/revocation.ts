/**
 * OAuth 2.0 Token Revocation (RFC 7009) as a request/process pair (after oauth4webapi's
 * `revocationRequest` + `processRevocationResponse`), and {@link revokeStoredTokens}, which
 * applies it to what the store held for one server. The CLI (`mcp-relay logout`) only formats
 * the {@link RevocationReport} this returns.
 */
import { describeError, RelayError } from '../errors.js';
import type { FetchFn } from '../http/fetch.js';
import type { StoredClient, StoredTokens } from '../store/store.js';
import { clientAuthentication, type ClientAuth } from './client-auth.js';
import { assertSafeEndpoint } from './discovery.js';
import { oauthErrorCode } from './token-endpoint.js';

/** One revocation request may take this long before it counts as failed. */
export const REVOCATION_TIMEOUT_MS = 15_000;

/** RFC 7009 §2.1 token_type_hint values the relay sends. */
export type RevocationTokenHint = 'refresh_token' | 'access_token';

export interface RevocationRequest {
  endpoint: string;
  token: string;
  hint: RevocationTokenHint;
  /** The client authenticated as at the token endpoint (RFC 7009 §2.1). */
  auth: ClientAuth;
  /** For a client assertion's `aud` (RFC 7523 §3): the issuer, else the endpoint. */
  issuer?: string | undefined;
  fetch: FetchFn;
  timeoutMs?: number | undefined;
}

/**
 * RFC 7009 §2.1: POST the form-encoded token and its type hint, the client authenticated
 * through client-auth.ts. Returns the raw answer (read it with {@link processRevocationResponse}).
 * No redirects: the token must not be carried to another address.
 *
 * @throws RelayError `AUTH_SERVER_UNAVAILABLE` when no answer came (network error, timeout).
 */
export async function revocationRequest(r: RevocationRequest): Promise<Response> {
  const body = new URLSearchParams({ token: r.token, token_type_hint: r.hint });
  const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' });
  await r.auth({ headers, body, audience: r.issuer ?? r.endpoint });
  try {
    return await r.fetch(r.endpoint, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(r.timeoutMs ?? REVOCATION_TIMEOUT_MS) });
  } catch (err) {
    throw new RelayError('AUTH_SERVER_UNAVAILABLE', `the request failed (${describeError(err)})`, { cause: err });
  }
}

/** What a revocation endpoint answered. */
export type RevocationResult = { revoked: true };

/** The `cause` of a RelayError from {@link processRevocationResponse}. */
export interface RevocationProblem {
  status: number;
  /** The RFC 6749 §5.2 `error` code, when the body was an OAuth error. */
  error?: string;
}

/**
 * Pure: RFC 7009 §2.2 — 200 means revoked (or the token was already invalid). Anything else
 * throws a RelayError with `status` and a {@link RevocationProblem} cause:
 * `AUTH_SERVER_UNAVAILABLE` for 5xx or `temporarily_unavailable` (§2.2.1: try later),
 * `AUTH_FAILED` otherwise (e.g. `unsupported_token_type`, `invalid_client`).
 * No text of the body but a well-formed error code is ever quoted back.
 */
export async function processRevocationResponse(res: Response): Promise<RevocationResult> {
  if (res.status === 200) {
    await res.body?.cancel().catch(() => undefined);
    return { revoked: true };
  }
  const error = oauthErrorCode(await res.json().catch(() => undefined));
  const problem: RevocationProblem = { status: res.status, ...(error !== undefined ? { error } : {}) };
  const code = res.status >= 500 || error === 'temporarily_unavailable' ? 'AUTH_SERVER_UNAVAILABLE' : 'AUTH_FAILED';
  throw new RelayError(code, error === undefined ? `HTTP ${res.status}` : `HTTP ${res.status} ("${error}")`, { status: res.status, cause: problem });
}

/** A metadata field that must be a list of strings (e.g. `*_auth_methods_supported`), else undefined. */
export function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

/** What the store held for one server, as far as revocation needs it. */
export interface StoredForRevocation {
  tokens?: StoredTokens | undefined;
  client?: StoredClient | undefined;
  /** The cached authorization server metadata (discovery.json). */
  metadata?: Record<string, unknown> | undefined;
}

/** One token the endpoint did not revoke. */
export interface RevocationFailure {
  hint: RevocationTokenHint;
  /** `HTTP 503 ("temporarily_unavailable")`, or `the request failed (…)`. */
  detail: string;
  code: 'AUTH_FAILED' | 'AUTH_SERVER_UNAVAILABLE';
}

/** What {@link revokeStoredTokens} did, for the CLI to print. */
export type RevocationReport =
  | { outcome: 'no-tokens' } // nothing to revoke
  | { outcome: 'unsupported' } // the authorization server advertises no revocation endpoint
  | { outcome: 'skipped'; reason: 'unsafe-endpoint'; detail: string }
  | { outcome: 'skipped'; reason: 'issuer-mismatch'; what: 'tokens' | 'client'; from: string; endpointIssuer: string }
  | { outcome: 'skipped'; reason: 'no-client' }
  | { outcome: 'skipped'; reason: 'client-auth'; detail: string } // the stored client cannot authenticate (e.g. no secret)
  | { outcome: 'revoked' | 'failed'; endpoint: string; failures: RevocationFailure[] };

export type RevocationOutcome = RevocationReport['outcome'];

/**
 * Revoke the refresh token, then the access token, at the endpoint the cached metadata names.
 * Never throws: every refusal to send and every failed request is in the report.
 */
export async function revokeStoredTokens(s: StoredForRevocation, deps: { fetch: FetchFn; allowHttp: boolean }): Promise<RevocationReport> {
  if (!s.tokens) return { outcome: 'no-tokens' };
  const meta = s.metadata;
  if (meta?.revocation_endpoint === undefined) return { outcome: 'unsupported' };
  const issuer = typeof meta.issuer === 'string' ? meta.issuer : undefined;
  let endpoint: string;
  try {
    // MCP 2025-11-25 authorization, communication security: authorization server endpoints MUST be https.
    endpoint = assertSafeEndpoint(meta.revocation_endpoint, 'revocation_endpoint', deps.allowHttp);
  } catch (err) {
    return { outcome: 'skipped', reason: 'unsafe-endpoint', detail: describeError(err) };
  }
  // A token goes only to the authorization server that issued it (MCP 2025-11-25 authorization,
  // token audience binding); cached metadata of another issuer must not receive it.
  for (const [what, from] of [
    ['tokens', s.tokens.issuer],
    ['client', s.client?.issuer],
  ] as const) {
    if (from !== undefined && issuer !== undefined && from !== issuer)
      return { outcome: 'skipped', reason: 'issuer-mismatch', what, from, endpointIssuer: issuer };
  }
  if (!s.client) return { outcome: 'skipped', reason: 'no-client' };
  // RFC 7009 §2.1: the client authenticates as it does at the token endpoint.
  const supported = stringList(meta.revocation_endpoint_auth_methods_supported) ?? stringList(meta.token_endpoint_auth_methods_supported);
  let auth: ClientAuth;
  try {
    auth = clientAuthentication(s.client, { supported }).apply;
  } catch (err) {
    return { outcome: 'skipped', reason: 'client-auth', detail: describeError(err) };
  }
  const failures: RevocationFailure[] = [];
  for (const [hint, token] of [
    ['refresh_token', s.tokens.refresh_token],
    ['access_token', s.tokens.access_token],
  ] as const) {
    if (token === undefined) continue;
    try {
      await processRevocationResponse(await revocationRequest({ endpoint, token, hint, auth, issuer, fetch: deps.fetch }));
    } catch (err) {
      const e = err instanceof RelayError ? err : new RelayError('AUTH_FAILED', describeError(err), { cause: err });
      // RFC 7009 §2.2.1: a server that cannot revoke access tokens says unsupported_token_type.
      if (hint === 'access_token' && (e.cause as RevocationProblem | undefined)?.error === 'unsupported_token_type') continue;
      failures.push({ hint, detail: e.message, code: e.code === 'AUTH_SERVER_UNAVAILABLE' ? 'AUTH_SERVER_UNAVAILABLE' : 'AUTH_FAILED' });
    }
  }
  return { outcome: failures.length ? 'failed' : 'revoked', endpoint, failures };
}
