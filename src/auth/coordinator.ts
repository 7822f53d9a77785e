/**
 * The auth coordinator: the remote's AuthHook over the shared store.
 *
 * - Read-only use of a valid token takes no lock (tokens are cached in memory and re-read from
 *   the store when they change hands).
 * - Refresh happens before expiry (REFRESH_MARGIN_MS) and on 401, single-flight in this process
 *   and under the store lock across processes, re-reading tokens.json first: if another relay
 *   already rotated the tokens we adopt its result instead of presenting a spent refresh token.
 * - A 403 insufficient_scope re-authorizes with the union of scopes (step-up) instead of
 *   refreshing with the old scope.
 * - A refused refresh (AUTH_GRANT_DEAD: invalid_grant & co, RFC 6749 §5.2) drops the tokens and
 *   starts a login. Transient token endpoint failures (5xx, temporarily_unavailable, resets,
 *   timeouts) are retried under the lock as retry.ts allows (Retry-After honoured, never past
 *   the lock's stale time), then reported as AUTH_SERVER_UNAVAILABLE; the tokens are kept.
 * - With a machine grant (--client-credentials, --workload-token, --idp-issuer; machine-grant.ts)
 *   there is no person: the grant replaces the login and the refresh alike (before expiry, on
 *   401, under the same lock), never a browser.
 * - DPoP (dpop.ts): a new login gets a new key when DPoP is on for the server; a refresh proves
 *   the key stored with the tokens (RFC 9449 §5: a refresh token bound to a key is only accepted
 *   with a proof of it), so every process and every refresh uses the one bound key.
 */
import type { Config } from '../config/config.js';
import { describeError, isRelayError, RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FetchFn } from '../http/fetch.js';
import type { AuthHook, DpopProofRequest, UnauthorizedInfo } from './hook.js';
import { accessTokenOf, authorizationValue, DpopNonces, isDpopBound, DpopProver, newLoginDpop, requestProof, tokenDpop, type TokenDpop } from './dpop.js';
import type { LoginStatus } from './login-status.js';
import type { ServerStore, StoredClient, StoredTokens } from '../store/store.js';
import type { Opener } from './browser.js';
import { discover, type Discovered } from './discovery.js';
import { cacheDiscovery, readCachedDiscovery } from './discovery-cache.js';
import { selectResource, selectScope } from './selection.js';
import { finish, interactiveLogin, usableTokens, type LoginContext } from './login.js';
import { checkPasted, issExpected, parsePasted } from './paste.js';
import { machineGrant } from './grants.js';
import { machineGrantLogin, type MachineGrant } from './machine-grant.js';
import { staticClient } from './registration.js';
import { expiresSoon, isDeadGrant, refreshTokens } from './tokens.js';
import { withTokenRetry } from './retry.js';
import { readTokensOrWarn } from '../store/open.js';

/** After a failed login, refuse to open another browser tab for this long (a retry storm of queued requests). */
const LOGIN_COOLDOWN_MS = 15_000;

export interface CoordinatorDeps {
  config: Config;
  store: ServerStore;
  fetch: FetchFn;
  log: Logger;
  opener: Opener;
  browser: { ok: boolean; reason?: string | undefined };
  notify(text: string): void;
  now?: () => number;
  /** Waits between token request retries (tests record them); default: a timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Running as `mcp-relay login`: instructions say "paste it here". */
  pasteHere?: boolean;
  /** The machine grant (setup.ts builds it with what it needs); default: from the options (grants.ts). */
  grant?: MachineGrant | undefined;
}

export class AuthCoordinator implements AuthHook, LoginStatus {
  private tokens: StoredTokens | undefined;
  private loaded = false;
  private discovered: Discovered | undefined;
  private resourceMetadataUrl: string | undefined;
  private busy: Promise<void> | undefined;
  private refreshing: Promise<void> | undefined;
  private failedLogin: { until: number; error: unknown } | undefined;
  private readonly closing = new AbortController();
  private readonly now: () => number;
  private waiting = false;
  private readonly listeners: Array<(event: 'waiting' | 'done') => void> = [];
  /** The machine grant of the options, if any (one object per coordinator: it may remember a refusal). */
  private readonly grant: MachineGrant | undefined;
  /** The MCP server's DPoP challenge, once it sent one (RFC 9449 §7.1): --dpop auto then binds new logins. */
  private dpopChallenge: { algs?: string[] | undefined } | undefined;
  private readonly prover: DpopProver;
  /** Nonces of the authorization server's token endpoint (RFC 9449 §8), per origin. */
  private readonly nonces = new DpopNonces();

  constructor(private readonly deps: CoordinatorDeps) {
    this.now = deps.now ?? Date.now;
    this.grant = deps.grant ?? machineGrant(deps.config.auth);
    this.prover = new DpopProver(this.now);
  }

  private get log(): Logger {
    return this.deps.log;
  }

  async authorization(): Promise<string | undefined> {
    if (!this.loaded) {
      this.tokens = this.own(await readTokensOrWarn(this.deps.store, this.log));
      this.loaded = true;
    }
    const t = this.tokens;
    if (t && (t.refresh_token || this.machine) && expiresSoon(t, this.now()) && !this.busy) {
      try {
        await this.refreshOnce(t.access_token);
      } catch (err) {
        // The old token may still be valid for a few seconds; a 401 will bring us back here.
        this.log.warn(`refreshing before expiry failed: ${describeError(err)}`);
      }
    }
    return this.tokens ? authorizationValue(this.tokens) : undefined;
  }

  dpopProof(r: DpopProofRequest): Promise<string | undefined> {
    return requestProof(this.prover, this.tokens, r);
  }

  /** The key of a new login when DPoP is on for this server (dpop.ts), else undefined. */
  private newDpop(d: Discovered): Promise<TokenDpop | undefined> {
    return newLoginDpop({ mode: this.deps.config.auth.dpop, metadata: d.metadata, challenge: this.dpopChallenge, prover: this.prover, nonces: this.nonces });
  }

  /** The stored key of bound tokens, for the requests that renew them. */
  private boundDpop(t: StoredTokens | undefined): TokenDpop | undefined {
    return t?.dpop_key ? tokenDpop(t.dpop_key, this.prover, this.nonces) : undefined;
  }

  unauthorized(info: UnauthorizedInfo): Promise<void> {
    this.busy ??= this.recover(info).finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  waitingForUser(): boolean {
    return this.waiting;
  }

  subscribe(listener: (event: 'waiting' | 'done') => void): void {
    this.listeners.push(listener);
  }

  async authorizationUrl(): Promise<string | undefined> {
    const pending = await this.deps.store.readPending();
    return pending && pending.expires_at > this.now() ? pending.authorization_url : undefined;
  }

  private emit(event: 'waiting' | 'done'): void {
    this.waiting = event === 'waiting';
    for (const l of this.listeners) l(event);
  }

  /** Resolves when no refresh or login is in progress (never rejects). */
  idle(): Promise<void> {
    return this.busy
      ? this.busy.then(
          () => undefined,
          () => undefined,
        )
      : Promise.resolve();
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  /**
   * Finish the pending login with what the user pasted (the redirect address or the code).
   * Used by `mcp-relay login`; every relay waiting on this server picks the tokens up from the store.
   */
  async finishPasted(text: string): Promise<StoredTokens> {
    const pasted = parsePasted(text);
    const pending = await this.deps.store.readPending();
    if (!pending || pending.expires_at <= this.now()) {
      throw new RelayError('AUTH_FAILED', 'no login is waiting for this server (it finished, expired, or was never started); run the login again');
    }
    const discovered = await this.discovery(false);
    checkPasted(pasted, pending, issExpected(discovered.metadata));
    const tokens = await finish(this.loginContext(discovered, undefined, undefined, await this.newDpop(discovered)), pending, pasted.code, pasted.iss);
    this.tokens = tokens;
    return tokens;
  }

  /** A machine grant: the relay is a service identity (or an enterprise IdP's user), not a browser login. */
  private get machine(): boolean {
    return this.grant !== undefined;
  }

  /** With a machine grant, tokens another grant obtained (a person's login, same store key) are not ours to use. */
  private own(t: StoredTokens | undefined): StoredTokens | undefined {
    return !this.grant || t?.grant === this.grant.kind ? t : undefined;
  }

  private async recover(info: UnauthorizedInfo): Promise<void> {
    const rejected = accessTokenOf(info.rejected);
    if (info.challenge.resourceMetadata) this.resourceMetadataUrl = info.challenge.resourceMetadata;
    if (info.challenge.dpop) this.dpopChallenge = info.challenge.dpop;
    const stepUp = info.status === 403 && info.challenge.error === 'insufficient_scope';
    const current = this.own(await this.deps.store.readTokens());
    if (!stepUp && usableTokens(current, rejected, this.now())) {
      this.log.debug('another relay already has fresh tokens; using them');
      this.tokens = current;
      return;
    }
    if (this.machine) {
      const scope = (d: Discovered) => this.scope(d, info, stepUp ? current : undefined, current?.scope);
      return this.machineLogin(scope, rejected ?? (stepUp ? current?.access_token : undefined), !current);
    }
    // A server that takes only DPoP refused unbound tokens: refreshing them gives unbound tokens
    // again (RFC 9449 §5: the binding is made at the grant), so this is a new login with a key.
    const unbound = info.challenge.dpop?.only === true && this.deps.config.auth.dpop !== 'never' && !isDpopBound(current);
    if (!stepUp && current?.refresh_token && !unbound) {
      try {
        if (await this.refreshOnce(rejected)) return;
      } catch (err) {
        if (!isDeadGrant(err)) throw err;
      }
    }
    await this.login(info, current, rejected, stepUp);
  }

  /** Single-flight refresh. Resolves true when usable tokens are in place, false when a login is needed. */
  private refreshOnce(stale: string | undefined): Promise<boolean> {
    const run =
      this.refreshing ??
      (this.refreshing = this.refreshLocked(stale)
        .then(() => undefined)
        .finally(() => (this.refreshing = undefined)));
    return run.then(() => usableTokens(this.tokens, stale, this.now()));
  }

  private async refreshLocked(stale: string | undefined): Promise<void> {
    if (this.machine) {
      // No refresh token in this grant: renewing is asking again, for the scope we hold.
      const held = this.tokens?.scope;
      return this.machineLogin((d) => this.deps.config.auth.scope ?? held ?? d.resourceMetadata?.scopes_supported?.join(' '), stale, false);
    }
    await this.deps.store.withLock(async () => {
      // Re-read under the lock: another process may have refreshed while we waited.
      const cur = await this.deps.store.readTokens();
      if (cur && cur.access_token !== stale && !expiresSoon(cur, this.now())) {
        this.tokens = cur;
        return;
      }
      if (!cur?.refresh_token) {
        this.tokens = cur;
        return;
      }
      const discovered = await this.discovery(false);
      const client = await this.client();
      if (!client) {
        this.tokens = undefined;
        return;
      }
      try {
        // No abort signal on the request itself: a refresh cut off after the server rotated the
        // refresh token would lose the new one.
        const base = { discovered, client, resource: this.resource(discovered), fetch: this.deps.fetch, now: this.now, dpop: this.boundDpop(cur) };
        const fresh = await withTokenRetry(() => refreshTokens(base, cur), this.retryDeps());
        await this.deps.store.writeTokens(fresh);
        this.tokens = fresh;
        this.log.info('access token refreshed');
      } catch (err) {
        if (isDeadGrant(err)) {
          // Under the lock and re-read: nobody rotated it behind our back, so the grant is really dead.
          this.log.warn(`${describeError(err)}; the stored tokens are removed`);
          await this.deps.store.clearTokens();
          this.tokens = undefined;
        }
        throw err;
      }
    });
  }

  /** How token requests under the lock are retried (retry.ts). */
  private retryDeps() {
    return { now: this.now, sleep: this.deps.sleep, signal: this.closing.signal, log: this.log };
  }

  private async login(info: UnauthorizedInfo, current: StoredTokens | undefined, rejected: string | undefined, stepUp: boolean): Promise<void> {
    if (this.failedLogin && this.now() < this.failedLogin.until) throw this.failedLogin.error;
    try {
      const discovered = await this.discovery(true);
      const scope = this.scope(discovered, info, stepUp ? current : undefined);
      const dpop = await this.newDpop(discovered);
      const tokens = await interactiveLogin(this.loginContext(discovered, scope, rejected ?? (stepUp ? current?.access_token : undefined), dpop));
      this.tokens = tokens;
      this.failedLogin = undefined;
    } catch (err) {
      this.failedLogin = { until: this.now() + LOGIN_COOLDOWN_MS, error: err };
      throw isRelayError(err) ? err : new RelayError('AUTH_FAILED', `login failed: ${describeError(err)}`, { cause: err });
    } finally {
      if (this.waiting) this.emit('done');
    }
  }

  /**
   * The machine grant, after a 401/403 or before expiry: never a browser or pending.json. A
   * failure is an AUTH_FAILED naming what to check; for LOGIN_COOLDOWN_MS it is
   * answered again rather than sent to the authorization server once per queued request.
   */
  private async machineLogin(scope: (d: Discovered) => string | undefined, stale: string | undefined, freshDiscovery: boolean): Promise<void> {
    if (this.failedLogin && this.now() < this.failedLogin.until) throw this.failedLogin.error;
    const grant = this.grant!;
    try {
      const discovered = await this.discovery(freshDiscovery);
      const { store, fetch, log, config } = this.deps;
      const c = {
        allowHttp: config.allowHttp,
        store,
        fetch,
        log,
        auth: config.auth,
        discovered,
        scope: scope(discovered),
        resource: this.resource(discovered),
        now: this.now,
        staleAccessToken: stale,
        retry: this.retryDeps(),
        signal: this.closing.signal,
        onWaiting: () => {
          if (!this.waiting) this.emit('waiting');
        },
        // The grant is this identity's login: it keeps its bound key, or gets one if it has none.
        dpopFor: async (cur: StoredTokens | undefined) => (cur?.grant === grant.kind && this.boundDpop(cur)) || this.newDpop(discovered),
      };
      this.tokens = await machineGrantLogin(grant, c);
      this.failedLogin = undefined;
    } catch (err) {
      this.failedLogin = { until: this.now() + LOGIN_COOLDOWN_MS, error: err };
      throw isRelayError(err) ? err : new RelayError('AUTH_FAILED', `${grant.label} failed: ${describeError(err)}`, { cause: err });
    } finally {
      if (this.waiting) this.emit('done');
    }
  }

  private loginContext(discovered: Discovered, scope: string | undefined, stale: string | undefined, dpop?: TokenDpop): LoginContext {
    return {
      dpop,
      store: this.deps.store,
      config: this.deps.config,
      discovered,
      scope,
      resource: this.resource(discovered),
      fetch: this.deps.fetch,
      log: this.log,
      opener: this.deps.opener,
      browser: this.deps.browser,
      notify: this.deps.notify,
      now: this.now,
      staleAccessToken: stale,
      signal: this.closing.signal,
      pasteHere: this.deps.pasteHere,
      onWaiting: () => {
        if (!this.waiting) this.emit('waiting');
      },
    };
  }

  private scope(d: Discovered, info: UnauthorizedInfo, previous: StoredTokens | undefined, held?: string): string | undefined {
    return selectScope({
      configured: this.deps.config.auth.scope,
      challenge: info.challenge.scope,
      previous: previous?.scope,
      held,
      supported: d.resourceMetadata?.scopes_supported,
    });
  }

  private resource(d: Discovered): string | undefined {
    return selectResource(this.deps.config, d);
  }

  private async client(): Promise<StoredClient | undefined> {
    return staticClient(this.deps.config.auth, '', this.now()) ?? (await this.deps.store.readClient());
  }

  private async discovery(fresh: boolean): Promise<Discovered> {
    if (this.discovered && !fresh) return this.discovered;
    const cached = fresh ? undefined : await readCachedDiscovery(this.deps.store, this.now());
    if (cached) return (this.discovered = cached);
    const d = await discover({
      serverUrl: this.deps.config.serverUrl,
      resourceMetadataUrl: this.resourceMetadataUrl,
      allowHttp: this.deps.config.allowHttp,
      fetch: this.deps.fetch,
      log: this.log,
      // A machine grant sends no authorization request, so there is no PKCE to refuse over.
      requirePkce: !this.machine,
    });
    this.discovered = d;
    await cacheDiscovery(this.deps.store, d, this.resourceMetadataUrl, this.now(), this.log);
    return d;
  }
}
