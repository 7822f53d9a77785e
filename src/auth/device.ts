/**
 * RFC 8628 device authorization grant: for machines where no browser can open and no redirect can
 * land (SSH, containers). The user opens a short URL anywhere and types a code; the relay polls.
 * Used with --device-code, or automatically when the authorization server advertises a
 * device_authorization_endpoint and no browser can be opened here.
 *
 * Shared across processes like the browser login: the device code lives in pending.json
 * (kind "device") and the process polling it owns it; if that process dies, the next one keeps
 * polling the same code, so the user's approval is never wasted.
 */
import { RelayError } from '../errors.js';
import type { PendingLogin, StoredClient, StoredTokens } from '../store/store.js';
import { assertSafeBrowserUrl } from './browser.js';
import { clientAuthentication } from './client-auth.js';
import type { LoginContext } from './login.js';
import { usableTokens } from './login.js';
import { obtainClient } from './registration.js';
import { isTransientTokenFailure } from './retry.js';
import { oauthErrorCode, processTokenResponse, redact, tokenProblem, tokenRequest } from './token-endpoint.js';
import { toStored, tokenEndpoint } from './tokens.js';
import type { TokenDpop } from './dpop.js';
import { sleep } from '../sleep.js';
import { terminalLogin } from './login-notice.js';

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.2: default polling interval when the server names none. */
const DEFAULT_INTERVAL_S = 5;
/** RFC 8628 §3.5: slow_down adds 5 s to the interval. */
const SLOW_DOWN_STEP_S = 5;
/** Pseudo redirect URI recorded for a device login (there is no redirect). */
const DEVICE_REDIRECT = 'urn:ietf:params:oauth:grant-type:device_code';

interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  interval?: number;
}

/** Whether to use the device flow for this login. */
export function wantsDeviceFlow(ctx: LoginContext): boolean {
  const advertised = typeof (ctx.discovered.metadata as { device_authorization_endpoint?: unknown }).device_authorization_endpoint === 'string';
  if (ctx.config.auth.deviceCode) {
    if (!advertised)
      throw new RelayError('AUTH_FAILED', `--device-code was given but ${ctx.discovered.metadata.issuer} advertises no device_authorization_endpoint`);
    return true;
  }
  return advertised && (!ctx.browser.ok || ctx.config.auth.noBrowser) && !ctx.pasteHere;
}

/**
 * One POST to the device authorization endpoint (RFC 8628 §3.1) or the token endpoint (§3.4),
 * the client authenticated as at the token endpoint (client-auth.ts); the raw answer.
 */
function post(ctx: LoginContext, url: string, client: StoredClient, params: Record<string, string | undefined>, dpop?: TokenDpop): Promise<Response> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && k !== 'resource') body.set(k, v);
  const meta = ctx.discovered.metadata;
  const { apply } = clientAuthentication(client, { supported: meta.token_endpoint_auth_methods_supported, now: ctx.now });
  return tokenRequest({ endpoint: url, params: body, resource: params.resource, auth: apply, issuer: meta.issuer, fetch: ctx.fetch, dpop });
}

/** RFC 8628 §3.2: the device authorization response, checked field by field. */
export async function processDeviceAuthorizationResponse(res: Response): Promise<DeviceAuthorization> {
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = await res.json();
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    // not JSON: reported by the checks below
  }
  const error = oauthErrorCode(json);
  const da = json as unknown as DeviceAuthorization;
  const bad = (field: string, expected: string) =>
    new RelayError(
      'AUTH_FAILED',
      `the device authorization endpoint answered HTTP ${res.status}${error ? ` "${error}"` : ''}${res.status === 200 ? `: "${field}" must be ${expected}` : ''}`,
      {
        status: res.status,
        cause: { status: res.status, field, expected, ...(error ? { error } : {}) },
      },
    );
  if (res.status !== 200) throw bad('(status)', 'HTTP 200');
  for (const field of ['device_code', 'user_code', 'verification_uri'] as const) if (typeof da[field] !== 'string') throw bad(field, 'a string');
  if (da.verification_uri_complete !== undefined && typeof da.verification_uri_complete !== 'string') throw bad('verification_uri_complete', 'a string');
  if (typeof da.expires_in !== 'number' || !(da.expires_in > 0)) throw bad('expires_in', 'a positive number');
  if (da.interval !== undefined && (typeof da.interval !== 'number' || !(da.interval > 0))) throw bad('interval', 'a positive number');
  return da;
}

/** Run (or take over) a device login until tokens exist. */
export async function deviceLogin(ctx: LoginContext): Promise<StoredTokens> {
  const meta = ctx.discovered.metadata as typeof ctx.discovered.metadata & { device_authorization_endpoint: string };
  const client = await ctx.store.withLock(() =>
    obtainClient({
      store: ctx.store,
      auth: ctx.config.auth,
      discovered: ctx.discovered,
      redirectUri: `http://127.0.0.1/callback`,
      scope: ctx.scope,
      fetch: ctx.fetch,
      log: ctx.log,
      now: ctx.now,
      grantTypes: [DEVICE_GRANT_TYPE, 'refresh_token'],
    }),
  );
  let pending = await ctx.store.readPending();
  if (!(pending?.kind === 'device' && pending.expires_at > ctx.now() && pending.device_code)) {
    const da = await processDeviceAuthorizationResponse(
      await post(ctx, meta.device_authorization_endpoint, client, { scope: ctx.scope, resource: ctx.resource }),
    );
    const shown = assertSafeBrowserUrl(da.verification_uri_complete ?? da.verification_uri, { allowHttp: ctx.config.allowHttp }).href;
    pending = {
      kind: 'device',
      state: 'device',
      code_verifier: 'device',
      redirect_uri: DEVICE_REDIRECT,
      authorization_url: shown,
      device_code: da.device_code,
      user_code: da.user_code,
      interval_s: da.interval ?? DEFAULT_INTERVAL_S,
      pid: process.pid,
      created_at: ctx.now(),
      expires_at: ctx.now() + Math.min(da.expires_in * 1000, ctx.config.auth.authTimeoutMs),
    } satisfies PendingLogin;
    await ctx.store.writePending(pending);
    ctx.onWaiting?.();
    ctx.notify(
      [
        `mcp-relay: ${ctx.config.serverUrl.href} needs you to log in.`,
        `  On any device, open  ${assertSafeBrowserUrl(da.verification_uri, { allowHttp: ctx.config.allowHttp }).href}`,
        `  and enter the code   ${da.user_code}`,
        da.verification_uri_complete ? `  (or open ${shown} directly)` : '',
        `  Waiting up to ${Math.round((pending.expires_at - ctx.now()) / 60_000) || 1} min.`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
    if (ctx.browser.ok && !ctx.config.auth.noBrowser) await ctx.opener(shown);
  } else {
    ctx.onWaiting?.();
    ctx.log.info('continuing the device login that another mcp-relay process started');
  }
  return poll(ctx, client, pending);
}

async function poll(ctx: LoginContext, client: StoredClient, pending: PendingLogin): Promise<StoredTokens> {
  let intervalS = pending.interval_s ?? DEFAULT_INTERVAL_S;
  for (;;) {
    await sleep(intervalS * 1000, ctx.signal);
    if (ctx.signal?.aborted) throw new RelayError('SHUTTING_DOWN', 'the relay is shutting down');
    const stored = await ctx.store.readTokens();
    if (usableTokens(stored, ctx.staleAccessToken, ctx.now())) return stored;
    if (ctx.now() >= pending.expires_at)
      throw new RelayError('AUTH_TIMEOUT', `the device login was not approved in time; restart the relay or run \`${terminalLogin(ctx)}\``);
    let tokens: StoredTokens;
    try {
      const res = await post(
        ctx,
        tokenEndpoint(ctx.discovered),
        client,
        {
          grant_type: DEVICE_GRANT_TYPE,
          device_code: pending.device_code,
          resource: ctx.resource,
        },
        ctx.dpop,
      );
      // RFC 9449 §5: the device grant's token request proves the login's key like any other.
      const t = await processTokenResponse(res, { dpop: ctx.dpop !== undefined });
      tokens = toStored(t, ctx.now(), { issuer: ctx.discovered.metadata.issuer, resource: ctx.resource, grant: 'device_code', dpop: ctx.dpop });
    } catch (err) {
      // RFC 8628 §3.5: the polling answers.
      switch (tokenProblem(err)?.error) {
        case 'authorization_pending':
          continue;
        case 'slow_down':
          intervalS += SLOW_DOWN_STEP_S;
          continue;
        case 'access_denied':
          await ctx.store.clearPending();
          throw new RelayError('AUTH_FAILED', 'the device login was denied');
        case 'expired_token':
          await ctx.store.clearPending();
          throw new RelayError('AUTH_TIMEOUT', 'the device code expired before it was approved; start the login again');
        default:
          // The authorization server is having a moment (5xx, temporarily_unavailable, a reset): keep polling.
          if (isTransientTokenFailure(err)) continue;
          throw new RelayError(
            'AUTH_FAILED',
            `${redact(err instanceof Error ? err.message : String(err), [pending.device_code, client.client_secret])} while polling the device login`,
            { cause: err },
          );
      }
    }
    await ctx.store.withLock(async () => {
      await ctx.store.writeTokens(tokens);
      await ctx.store.clearPending();
    });
    ctx.log.info('device login approved; tokens stored');
    return tokens;
  }
}
