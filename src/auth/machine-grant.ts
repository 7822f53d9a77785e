/**
 * The non-interactive ("machine") logins in one place: a {@link MachineGrant} obtains tokens with
 * no person, no browser, no redirect and no pending.json, and renewing is simply asking again.
 * - client credentials (RFC 6749 §4.4; client-credentials.ts),
 * - workload identity: the platform's JWT as an RFC 7523 jwt-bearer assertion (jwt-bearer.ts),
 * - enterprise-managed authorization: an ID-JAG from the company IdP (RFC 8693 token exchange),
 *   then the jwt-bearer grant at the MCP authorization server (enterprise.ts).
 * The coordinator only knows this interface: grants.ts picks the grant from the options,
 * {@link machineGrantLogin} runs it under the store lock shared by every relay.
 */
import type { AuthOptions, MachineGrantKind } from '../config/config.js';
import { RelayError } from '../errors.js';
import type { FetchFn } from '../http/fetch.js';
import type { Logger } from '../log.js';
import type { ServerStore, StoredTokens } from '../store/store.js';
import type { Discovered } from './discovery.js';
import { withTokenRetry, type TokenRetryDeps } from './retry.js';
import { redact, tokenProblem } from './token-endpoint.js';
import { expiresSoon } from './tokens.js';
import type { TokenDpop } from './dpop.js';

/** What one machine grant needs for one attempt. */
export interface MachineGrantRequest {
  auth: AuthOptions;
  discovered: Discovered;
  scope: string | undefined;
  /** The RFC 8707 resource exactly as published (selection.ts). */
  resource: string | undefined;
  fetch: FetchFn;
  now: () => number;
  /** --allow-http: endpoints outside the metadata (the IdP's) may be plain http. Default false. */
  allowHttp?: boolean | undefined;
  log: Logger;
  /** A grant that signs a person in (the enterprise IdP login): called when the user is asked to act. */
  onWaiting?: (() => void) | undefined;
  /** The relay is closing: a login waiting for the user stops. */
  signal?: AbortSignal | undefined;
  /** RFC 9449 §5: prove possession of this key at the MCP authorization server; the token is bound to it. */
  dpop?: TokenDpop | undefined;
}

export interface MachineGrant {
  readonly kind: MachineGrantKind;
  /** For messages, e.g. "workload identity grant" ("access token obtained with the …"). */
  readonly label: string;
  /**
   * One attempt (no store, no lock, no retry): the tokens, recorded with `grant: kind`, without a
   * refresh token (renewal asks again). Throws a RelayError saying what the server answered and
   * what to check; `status` and `cause` are kept so retry.ts can tell passing failures.
   */
  request(r: MachineGrantRequest): Promise<StoredTokens>;
  /**
   * What may wait for a person and so must not hold this server's lock (the enterprise IdP login,
   * which has a lock of its own): run before the lock is taken.
   */
  beforeLock?(r: MachineGrantRequest): Promise<void>;
}

export interface MachineGrantLogin extends MachineGrantRequest {
  store: ServerStore;
  /** The access token that was rejected or is expiring, so a replacement from another relay is recognised. */
  staleAccessToken: string | undefined;
  /** How transient failures are retried under the lock (default: retry.ts with timers). */
  retry?: TokenRetryDeps | undefined;
  /** The DPoP key for the grant, chosen under the lock from the stored tokens (absent: no DPoP). */
  dpopFor?: ((current: StoredTokens | undefined) => Promise<TokenDpop | undefined>) | undefined;
}

/**
 * Get a token with `grant` under the store lock, shared by every relay of this server: after
 * taking the lock the store is read again, and a token of this grant that another relay fetched
 * meanwhile is used instead of asking for one more (N relays started at once make one request).
 */
export async function machineGrantLogin(grant: MachineGrant, c: MachineGrantLogin): Promise<StoredTokens> {
  await grant.beforeLock?.(c);
  return c.store.withLock(async () => {
    const cur = await c.store.readTokens();
    if (cur?.grant === grant.kind && cur.access_token !== c.staleAccessToken && !expiresSoon(cur, c.now())) {
      c.log.debug(`another relay already obtained a token with the ${grant.label}; using it`);
      return cur;
    }
    const dpop = await c.dpopFor?.(cur);
    const fresh = await withTokenRetry(() => grant.request({ ...c, dpop }), c.retry ?? { now: c.now, log: c.log });
    await c.store.writeTokens(fresh);
    c.log.info(`access token obtained with the ${grant.label}`);
    return fresh;
  });
}

/**
 * A failed token request → a RelayError that names the step (`what`, e.g. "the token exchange at
 * the IdP https://idp.example"), quotes the server's OAuth error, and says what to check (`hints`,
 * by RFC 6749 §5.2 error code). `secrets` (the request's own credentials) never appear in it.
 * `status` and `cause` are kept: retry.ts decides on them.
 */
export function grantFailure(label: string, what: string, err: unknown, hints: Record<string, string>, secrets: ReadonlyArray<string | undefined>): RelayError {
  const problem = tokenProblem(err);
  const status = err instanceof RelayError ? err.status : undefined;
  const opts = { cause: err instanceof RelayError ? err.cause : err, ...(status !== undefined ? { status } : {}) };
  const hide = (text: string) => redact(text, secrets);
  if (problem?.error !== undefined) {
    const next = hints[problem.error] ?? 'the relay asks again on the next request';
    const said = hide(problem.error_description ?? '') || 'no description';
    return new RelayError('AUTH_FAILED', `${label} failed: ${what} answered "${problem.error}" (${said}); ${next}`, opts);
  }
  const said = hide(err instanceof Error ? err.message : String(err)) || 'no description';
  return new RelayError('AUTH_FAILED', `${label} failed: ${what} could not be used (${said})`, opts);
}

/** The server answered the grant with an OAuth error (not a passing failure): asking again with the same input is pointless. */
export function isRefusal(err: unknown): boolean {
  const p = tokenProblem(err);
  return p?.error !== undefined && p.status < 500 && p.error !== 'temporarily_unavailable';
}
