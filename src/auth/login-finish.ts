/**
 * The end of an interactive login: the code exchange under the server's lock (also for
 * `mcp-relay login` with a pasted address), and the fall-back to a client of this server's own
 * when the authorization server refuses a registration reused from another server of the same
 * issuer (registration.ts).
 */
import type { PendingLogin, StoredClient, StoredTokens } from '../store/store.js';
import { RelayError } from '../errors.js';
import type { LoginContext } from './login.js';
import { registerOwnClient, staticClient } from './registration.js';
import { tokenProblem } from './token-endpoint.js';
import { exchangeCode, isExpired } from './tokens.js';

/** Tokens that can serve now: not the one that just failed, and not expired. */
export function usableTokens(t: StoredTokens | undefined, stale: string | undefined, now: number): t is StoredTokens {
  return !!t && t.access_token !== stale && !isExpired(t, now);
}

/** The client the pending login was started with. */
async function clientFor(ctx: LoginContext, redirectUri: string): Promise<StoredClient> {
  const fixed = staticClient(ctx.config.auth, redirectUri, ctx.now());
  if (fixed) return fixed;
  if (
    ctx.config.auth.clientMetadataUrl &&
    (ctx.discovered.metadata as { client_id_metadata_document_supported?: boolean }).client_id_metadata_document_supported
  ) {
    return { client_id: ctx.config.auth.clientMetadataUrl, redirect_uris: [redirectUri], kind: 'metadata-document', registered_at: ctx.now() };
  }
  const stored = await ctx.store.readClient();
  if (!stored) throw new RelayError('AUTH_FAILED', 'the OAuth client registration disappeared during the login; start the login again');
  return stored;
}

/**
 * Exchange the code for tokens under the lock and store them. Exported for `mcp-relay login`,
 * which finishes a pending login with a pasted redirect URL.
 */
export async function finish(ctx: LoginContext, pending: PendingLogin, code: string, iss: string | undefined): Promise<StoredTokens> {
  const done = await complete(ctx, pending, code, iss);
  if (done.kind === 'tokens') return done.tokens;
  throw new RelayError(
    'AUTH_FAILED',
    'the authorization server refused the client registration this server shared with another server of the same issuer; a client of its own is now registered: start the login again',
  );
}

/** OAuth error codes with which a token endpoint refuses the client itself (RFC 6749 §5.2). */
const CLIENT_REFUSED = new Set(['invalid_client', 'unauthorized_client']);

/**
 * {@link finish}, or `retry` when the authorization server refused a registration reused from
 * another server of the same issuer: this server then gets a client of its own (written to its
 * client.json, the issuer record is left to the servers it works for) and the login starts over.
 */
export async function complete(
  ctx: LoginContext,
  pending: PendingLogin,
  code: string,
  iss: string | undefined,
): Promise<{ kind: 'tokens'; tokens: StoredTokens } | { kind: 'retry' }> {
  // RFC 9207 §2.4 (required by MCP 2026-07-28, applied to every era): a server that advertises
  // authorization_response_iss_parameter_supported MUST send iss; when iss is present it MUST
  // equal the recorded issuer, compared as plain strings.
  const issRequired =
    (ctx.discovered.metadata as { authorization_response_iss_parameter_supported?: unknown }).authorization_response_iss_parameter_supported === true;
  if (iss === undefined && issRequired) {
    throw new RelayError(
      'AUTH_FAILED',
      `the authorization response carries no "iss", which ${ctx.discovered.metadata.issuer} promises to send; refusing it (possible mix-up attack). If you pasted only the code, paste the whole address instead`,
    );
  }
  if (iss !== undefined && iss !== ctx.discovered.metadata.issuer) {
    throw new RelayError(
      'AUTH_FAILED',
      `the authorization response came from issuer ${iss}, expected ${ctx.discovered.metadata.issuer}; refusing it (possible mix-up attack)`,
    );
  }
  return ctx.store.withLock(async () => {
    const tokens = await ctx.store.readTokens();
    if (usableTokens(tokens, ctx.staleAccessToken, ctx.now())) return { kind: 'tokens' as const, tokens };
    const client = await clientFor(ctx, pending.redirect_uri);
    let fresh: StoredTokens;
    try {
      fresh = await exchangeCode(
        { discovered: ctx.discovered, client, resource: pending.resource ?? ctx.resource, fetch: ctx.fetch, now: ctx.now, dpop: ctx.dpop },
        code,
        pending.code_verifier,
        pending.redirect_uri,
      );
    } catch (err) {
      const refused = tokenProblem(err instanceof RelayError ? err.cause : undefined)?.error;
      if (client.reused !== true || refused === undefined || !CLIENT_REFUSED.has(refused)) throw err;
      ctx.log.warn(
        `${ctx.discovered.metadata.issuer} refused the client registration shared with another server (${refused}); registering a client for this server`,
      );
      await registerOwnClient({
        store: ctx.store,
        auth: ctx.config.auth,
        discovered: ctx.discovered,
        redirectUri: pending.redirect_uri,
        scope: pending.scope ?? ctx.scope,
        fetch: ctx.fetch,
        log: ctx.log,
        now: ctx.now,
      });
      await ctx.store.clearPending();
      return { kind: 'retry' as const };
    }
    await ctx.store.writeTokens(fresh);
    await ctx.store.clearPending();
    ctx.log.info('logged in; tokens stored');
    return { kind: 'tokens' as const, tokens: fresh };
  });
}
