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
import { RelayError, describeError } from '../errors.js';
import type { PendingLogin, StoredClient, StoredTokens } from '../store/store.js';
import { assertSafeBrowserUrl } from './browser.js';
import type { LoginContext } from './login.js';
import { usableTokens } from './login.js';
import { obtainClient } from './registration.js';
import { toStored } from './tokens.js';
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
    if (!advertised) throw new RelayError('AUTH_FAILED', `--device-code was given but ${ctx.discovered.metadata.issuer} advertises no device_authorization_endpoint`);
    return true;
  }
  return advertised && (!ctx.browser.ok || ctx.config.auth.noBrowser) && !ctx.pasteHere;
}

function authenticate(client: StoredClient, body: URLSearchParams, headers: Record<string, string>): void {
  const method = client.token_endpoint_auth_method ?? (client.client_secret ? 'client_secret_basic' : 'none');
  if (client.client_secret && method === 'client_secret_basic') {
    const enc = (s: string) => encodeURIComponent(s);
    headers.authorization = `Basic ${Buffer.from(`${enc(client.client_id)}:${enc(client.client_secret)}`).toString('base64')}`;
    return;
  }
  body.set('client_id', client.client_id);
  if (client.client_secret && method === 'client_secret_post') body.set('client_secret', client.client_secret);
}

async function post(ctx: LoginContext, url: string, client: StoredClient, params: Record<string, string | undefined>): Promise<{ status: number; json: Record<string, unknown> }> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) body.set(k, v);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  authenticate(client, body, headers);
  let res: Response;
  try {
    res = await ctx.fetch(url, { method: 'POST', headers, body: body.toString(), signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new RelayError('AUTH_FAILED', `cannot reach ${new URL(url).host}: ${describeError(err)}`, { cause: err });
  }
  let json: Record<string, unknown> = {};
  try {
    json = (await res.json()) as Record<string, unknown>;
  } catch {
    // a non-JSON body: handled by the status check of the caller
  }
  return { status: res.status, json };
}

/** Run (or take over) a device login until tokens exist. */
export async function deviceLogin(ctx: LoginContext): Promise<StoredTokens> {
  const meta = ctx.discovered.metadata as typeof ctx.discovered.metadata & { device_authorization_endpoint: string };
  const client = await ctx.store.withLock(() =>
    obtainClient({ store: ctx.store, auth: ctx.config.auth, discovered: ctx.discovered, redirectUri: `http://127.0.0.1/callback`, scope: ctx.scope, fetch: ctx.fetch, log: ctx.log, now: ctx.now, grantTypes: [DEVICE_GRANT_TYPE, 'refresh_token'] }),
  );
  let pending = await ctx.store.readPending();
  if (!(pending?.kind === 'device' && pending.expires_at > ctx.now() && pending.device_code)) {
    const { status, json } = await post(ctx, meta.device_authorization_endpoint, client, { scope: ctx.scope, resource: ctx.resource });
    const da = json as unknown as DeviceAuthorization;
    if (status !== 200 || typeof da.device_code !== 'string' || typeof da.user_code !== 'string' || typeof da.verification_uri !== 'string') {
      throw new RelayError('AUTH_FAILED', `the device authorization endpoint answered HTTP ${status}${json.error ? ` "${String(json.error)}"` : ''}`);
    }
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
    if (ctx.now() >= pending.expires_at) throw new RelayError('AUTH_TIMEOUT', `the device login was not approved in time; restart the relay or run \`${terminalLogin(ctx)}\``);
    const { status, json } = await post(ctx, ctx.discovered.metadata.token_endpoint, client, { grant_type: DEVICE_GRANT_TYPE, device_code: pending.device_code, resource: ctx.resource });
    if (status === 200 && typeof json.access_token === 'string') {
      const tokens = toStored(json as never, ctx.now(), { issuer: ctx.discovered.metadata.issuer, resource: ctx.resource, grant: 'device_code' });
      await ctx.store.withLock(async () => {
        await ctx.store.writeTokens(tokens);
        await ctx.store.clearPending();
      });
      ctx.log.info('device login approved; tokens stored');
      return tokens;
    }
    switch (json.error) {
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
        if (status >= 500) continue; // the authorization server is having a moment: keep polling
        throw new RelayError('AUTH_FAILED', `the token endpoint answered HTTP ${status}${json.error ? ` "${String(json.error)}"` : ''} while polling the device login`);
    }
  }
}
