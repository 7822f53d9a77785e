/**
 * The enterprise IdP login of enterprise-managed authorization, when no --idp-id-token is given:
 * an OpenID Connect code flow with PKCE (scope openid) at the IdP, run by the same machinery as
 * any login (login.ts: browser, paste-back or device flow; pending.json; one owner across
 * processes), in a store of its own keyed by the IdP issuer and the IdP client (store/open.ts
 * openIdpStore). So one IdP login serves every MCP server behind that IdP and every relay process.
 * The ID token and the IdP refresh token live there; an ID token about to expire is renewed
 * silently by refresh under that store's lock (re-read first, as every refresh), and only a dead
 * refresh token leads to a new login.
 */
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { decodeJwt } from 'jose';
import type { Config, EnterpriseOptions } from '../config/config.js';
import { describeError, RelayError } from '../errors.js';
import type { FetchFn } from '../http/fetch.js';
import type { Logger } from '../log.js';
import type { ServerStore, StoredTokens } from '../store/store.js';
import type { Opener } from './browser.js';
import type { Discovered } from './discovery.js';
import type { IdTokenLogin } from './enterprise.js';
import { interactiveLogin } from './login.js';
import { isDeadGrant, REFRESH_MARGIN_MS, refreshTokens } from './tokens.js';
import { staticClient } from './registration.js';

/** OpenID Connect Core §3.1.2.1: the scope that makes it an OpenID request (and brings an ID token). */
const OPENID_SCOPE = 'openid';
/** Asked for too where the IdP lists it: most IdPs issue a refresh token only for it (OIDC Core §11). */
const OFFLINE_SCOPE = 'offline_access';

export interface IdpLoginDeps {
  /** The IdP's own store (openIdpStore), shared by every server behind it. */
  store: ServerStore;
  config: Config;
  fetch: FetchFn;
  log: Logger;
  opener: Opener;
  browser: { ok: boolean; reason?: string | undefined };
  notify(text: string): void;
  now?: () => number;
  pasteHere?: boolean | undefined;
}

/**
 * An ID token still good for `marginMs` (its `exp`, OIDC Core §2), else undefined. A stored one
 * must last REFRESH_MARGIN_MS (renewed before it runs out); one just issued only has to be
 * unexpired (an IdP may issue ID tokens shorter-lived than the margin).
 */
export function freshIdToken(t: StoredTokens | undefined, now: number, marginMs = REFRESH_MARGIN_MS): string | undefined {
  if (!t?.id_token) return undefined;
  try {
    const exp = decodeJwt(t.id_token).exp;
    return typeof exp === 'number' && exp * 1000 - marginMs > now ? t.id_token : undefined;
  } catch {
    return undefined;
  }
}

/** The IdP as login.ts sees it: its metadata, the relay's IdP client, scope openid, no resource. */
function idpLoginConfig(config: Config, o: EnterpriseOptions): Config {
  return {
    ...config,
    auth: {
      ...config.auth,
      clientId: o.idpClientId,
      clientSecret: o.idpClientSecret,
      clientInfo: undefined,
      clientMetadataUrl: undefined,
      clientCredentials: false,
      clientKey: undefined,
      workloadToken: undefined,
      enterprise: undefined,
      resource: undefined,
      omitResource: true,
    },
  };
}

/**
 * A function that yields a current ID token from the IdP: the stored one, else a silent refresh,
 * else a login (one per IdP across processes).
 */
export function idpLogin(o: EnterpriseOptions, d: IdpLoginDeps): IdTokenLogin {
  const now = d.now ?? Date.now;
  const config = idpLoginConfig(d.config, o);
  const forget = (idToken: string) =>
    d.store.withLock(async () => {
      // Under the lock and re-read: only this ID token goes (another relay may have replaced it);
      // the refresh token stays, so the next attempt renews silently if the IdP still allows it.
      const cur = await d.store.readTokens();
      if (cur?.id_token !== idToken) return;
      const { id_token: _refused, ...rest } = cur;
      await d.store.writeTokens(rest);
      d.log.warn('the identity provider refused the stored ID token; it is dropped (a refresh or a new sign-in replaces it)');
    });
  const login = async (metadata: AuthorizationServerMetadata, r: Parameters<IdTokenLogin>[1]): Promise<string> => {
    const discovered: Discovered = { authorizationServerUrl: o.idpIssuer, metadata };
    const stored = await d.store.readTokens();
    const current = freshIdToken(stored, now());
    if (current) return current;
    if (stored?.refresh_token) {
      const renewed = await renew(d, discovered, config, now);
      if (renewed) return renewed;
    }
    const offline = metadata.scopes_supported?.includes(OFFLINE_SCOPE) ? ` ${OFFLINE_SCOPE}` : '';
    d.log.info(`signing in at the identity provider ${o.idpIssuer}`);
    const tokens = await interactiveLogin({
      store: d.store,
      config,
      discovered,
      scope: `${OPENID_SCOPE}${offline}`,
      resource: undefined,
      fetch: d.fetch,
      log: d.log,
      opener: d.opener,
      browser: d.browser,
      notify: d.notify,
      now,
      // The stored access token is not what is missing (the ID token is): do not accept it again.
      staleAccessToken: stored?.access_token,
      pasteHere: d.pasteHere,
      signal: r.signal,
      onWaiting: r.onWaiting,
    });
    await recordIdp(d.store, o.idpIssuer, now());
    const idToken = freshIdToken(tokens, now(), 0);
    if (!idToken) {
      throw new RelayError(
        'AUTH_FAILED',
        `the identity provider ${o.idpIssuer} answered the login without a current ID token ("id_token"); it must be an OpenID Connect provider`,
      );
    }
    return idToken;
  };
  return Object.assign(login, { forget });
}

/** server.json of the IdP's store, so `status` lists the IdP login under the IdP's issuer (best effort). */
async function recordIdp(store: ServerStore, issuer: string, now: number): Promise<void> {
  try {
    if (!(await store.readServer())) await store.writeServer({ url: issuer, created_at: now, last_used_at: now });
  } catch {
    // Only what `status` shows; the login itself is stored.
  }
}

/** Refresh at the IdP under its store lock; undefined when a new login is needed (no or dead refresh token). */
async function renew(d: IdpLoginDeps, discovered: Discovered, config: Config, now: () => number): Promise<string | undefined> {
  const client = staticClient(config.auth, '', now());
  if (!client) return undefined;
  return d.store.withLock(async () => {
    // Re-read under the lock: another relay may have renewed it (rotating refresh tokens).
    const cur = await d.store.readTokens();
    const fresh = freshIdToken(cur, now());
    if (fresh || !cur?.refresh_token) return fresh;
    try {
      const t = await refreshTokens({ discovered, client, resource: undefined, fetch: d.fetch, now }, cur);
      await d.store.writeTokens(t);
      d.log.info('ID token renewed at the identity provider');
      return freshIdToken(t, now(), 0);
    } catch (err) {
      if (!isDeadGrant(err)) throw err;
      d.log.warn(`the identity provider refused the refresh (${describeError(err)}); signing in again`);
      await d.store.clearTokens();
      return undefined;
    }
  });
}
