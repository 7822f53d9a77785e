/**
 * The interactive authorization-code login (OAuth 2.1 + PKCE S256), shared across processes.
 *
 * The login in progress lives in the store (pending.json: state, verifier, redirect URI), and
 * ownership of it is the bound callback port: the kernel frees the port the instant its owner
 * dies, so a waiter that can bind the pending login's port takes the login over, and the user's
 * open browser tab still lands somewhere. Ten relays started at once therefore cause one
 * registration, one browser tab and one code exchange; the others wait for tokens.json.
 */
import { randomBytes } from 'node:crypto';
import { startAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Config } from '../config/config.js';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FetchFn } from '../http/fetch.js';
import type { PendingLogin, ServerStore, StoredTokens } from '../store/store.js';
import { assertSafeBrowserUrl, type Opener } from './browser.js';
import { bindAnyCallbackServer, bindCallbackServer, preferredCallbackPort, type CallbackServer } from './callback.js';
import type { Discovered } from './discovery.js';
import { obtainClient, registeredRedirectUris } from './registration.js';
import { complete, usableTokens } from './login-finish.js';
import type { TokenDpop } from './dpop.js';
import { deviceLogin, wantsDeviceFlow } from './device.js';
import { sleep } from '../sleep.js';
import { announce, terminalLogin, timeoutError } from './login-notice.js';

/** How often a waiting relay looks at the store for tokens another process wrote. */
export const STORE_POLL_MS = 500;
/** How often a waiter checks whether the login's owner died (its callback port became free). */
const OWNER_CHECK_MS = 2_000;

export interface LoginContext {
  store: ServerStore;
  config: Config;
  discovered: Discovered;
  scope: string | undefined;
  resource: string | undefined;
  fetch: FetchFn;
  log: Logger;
  opener: Opener;
  /** Whether a browser can reach the user here (false: print instructions for the paste flow). */
  browser: { ok: boolean; reason?: string | undefined };
  /** Human-readable instructions (stderr in the relay, the terminal in `login`). */
  notify(text: string): void;
  now(): number;
  /** The access token that failed, so a login another process just finished is recognised. */
  staleAccessToken?: string | undefined;
  signal?: AbortSignal | undefined;
  /** `mcp-relay login` in a terminal reads the pasted address itself: say "paste it here". */
  pasteHere?: boolean | undefined;
  /** Called when the user is being asked to act (a tab, a paste, or another process's login). */
  onWaiting?: (() => void) | undefined;
  /** RFC 9449: the new login's DPoP key; the code (or device) token request proves it and the tokens store it. */
  dpop?: TokenDpop | undefined;
}

type Outcome =
  | { kind: 'tokens'; tokens: StoredTokens }
  | { kind: 'code'; code: string; iss?: string | undefined }
  | { kind: 'retry' }
  | { kind: 'takeover'; server: CallbackServer };

function portOf(uri: string): number {
  const u = new URL(uri);
  return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
}

function hostOf(uri: string): string {
  return new URL(uri).hostname.replace(/^\[|\]$/g, '');
}

/** Run (or join, or take over) the interactive login until tokens exist. */
export async function interactiveLogin(ctx: LoginContext): Promise<StoredTokens> {
  const deadline = ctx.now() + ctx.config.auth.authTimeoutMs;
  if (wantsDeviceFlow(ctx)) return deviceLogin(ctx);
  /** The state of the other process's login this relay last announced (so it is said once). */
  let joined: string | undefined;
  for (;;) {
    if (ctx.now() >= deadline) throw timeoutError(ctx);
    const tokens = await ctx.store.readTokens();
    if (usableTokens(tokens, ctx.staleAccessToken, ctx.now())) return tokens;
    let pending = await ctx.store.readPending();
    if (pending && pending.expires_at <= ctx.now()) {
      await ctx.store.clearPending();
      pending = undefined;
    }
    let server: CallbackServer | undefined;
    if (pending?.kind === 'device') return deviceLogin(ctx);
    if (pending) {
      server = await bindCallbackServer({
        host: hostOf(pending.redirect_uri),
        port: portOf(pending.redirect_uri),
        path: new URL(pending.redirect_uri).pathname,
        log: ctx.log,
      });
      if (!server) {
        ctx.log.info('another mcp-relay process is logging in to this server; waiting for it to finish');
        // This relay's host log is where its user looks: give the URL here too, once per login.
        ctx.onWaiting?.();
        if (joined !== pending.state) announce(ctx, pending, 'joined');
        joined = pending.state;
        const outcome = await waitFor(ctx, undefined, pending, deadline);
        if (outcome.kind === 'tokens') return outcome.tokens;
        if (outcome.kind === 'takeover') {
          server = outcome.server;
        } else {
          continue;
        }
      }
      ctx.log.info('the process that started this login is gone; taking it over (the browser tab you have open still works)');
      const previousOwner = pending.pid;
      pending = { ...pending, pid: process.pid };
      await ctx.store.writePending(pending);
      announce(ctx, pending, 'took-over', previousOwner);
    } else {
      const started = await start(ctx);
      if (started.kind === 'tokens') return started.tokens;
      if (started.kind === 'retry') continue;
      ({ server, pending } = started);
      announce(ctx, pending, 'started');
      if (ctx.browser.ok && !ctx.config.auth.noBrowser) await ctx.opener(pending.authorization_url);
    }
    const outcome = await waitFor(ctx, server, pending, deadline);
    if (outcome.kind === 'tokens') return outcome.tokens;
    if (outcome.kind === 'code') {
      const done = await complete(ctx, pending, outcome.code, outcome.iss);
      if (done.kind === 'tokens') return done.tokens;
    }
  }
}

/** A callback listener whose redirect URI is exactly one of `uris` (first free one), if any. */
async function bindRegistered(ctx: LoginContext, uris: readonly string[]): Promise<CallbackServer | undefined> {
  for (const uri of new Set(uris)) {
    // Only loopback callbacks with an explicit port (a device-flow registration names a
    // placeholder without one: port 80 is never ours to bind).
    const port = URL.canParse(uri) ? new URL(uri).port : '';
    if (port === '') continue;
    // A port we may not bind (EACCES) is only a hint that did not work out: use the usual one.
    const server = await bindCallbackServer({ host: ctx.config.auth.callbackHost, port: Number(port), path: ctx.config.auth.callbackPath, log: ctx.log }).catch(
      () => undefined,
    );
    if (server?.redirectUri === uri) return server;
    await server?.close();
  }
  return undefined;
}

type Started = { kind: 'started'; server: CallbackServer; pending: PendingLogin } | { kind: 'tokens'; tokens: StoredTokens } | { kind: 'retry' };

/** Under the lock: re-check, bind the callback port, pick the client, write pending.json. */
async function start(ctx: LoginContext): Promise<Started> {
  return ctx.store.withLock(async () => {
    const tokens = await ctx.store.readTokens();
    if (usableTokens(tokens, ctx.staleAccessToken, ctx.now())) return { kind: 'tokens', tokens };
    if (await ctx.store.readPending()) return { kind: 'retry' };
    const host = ctx.config.auth.callbackHost;
    const preferred = ctx.config.auth.callbackPort ?? preferredCallbackPort(ctx.store.key);
    const path = ctx.config.auth.callbackPath;
    // Without --callback-port, a port some registration already names comes first: the login can
    // then reuse that client (this server's, or one another server made with the same issuer).
    let server =
      ctx.config.auth.callbackPort === undefined
        ? await bindRegistered(ctx, await registeredRedirectUris(ctx.store, ctx.discovered.metadata.issuer))
        : undefined;
    server ??= await bindCallbackServer({ host, port: preferred, path, log: ctx.log });
    if (!server) {
      if (ctx.config.auth.callbackPort !== undefined) {
        throw new RelayError('AUTH_FAILED', `--callback-port ${preferred} is in use by another program; free it or choose another port`);
      }
      server = await bindAnyCallbackServer({ host, exclude: [preferred], path, log: ctx.log });
      ctx.log.info(`callback port ${preferred} is busy; using ${server.port} instead`);
    }
    try {
      const client = await obtainClient({
        store: ctx.store,
        auth: ctx.config.auth,
        discovered: ctx.discovered,
        redirectUri: server.redirectUri,
        scope: ctx.scope,
        fetch: ctx.fetch,
        log: ctx.log,
        now: ctx.now,
      });
      const state = randomBytes(32).toString('base64url');
      // PKCE S256 (MCP 2025-11-25 authorization: MUST) and resource (RFC 8707: MUST) on the request.
      // The resource goes in as the string it was published as (RFC 9728 §3.3): the SDK copies a
      // string verbatim, while `new URL(...)` would re-serialise "http://host:port" as ".../".
      const { authorizationUrl, codeVerifier } = await startAuthorization(ctx.discovered.authorizationServerUrl, {
        metadata: ctx.discovered.metadata,
        clientInformation: { client_id: client.client_id, ...(client.client_secret ? { client_secret: client.client_secret } : {}) },
        redirectUrl: server.redirectUri,
        scope: ctx.scope,
        state,
        resource: ctx.resource,
      });
      const url = assertSafeBrowserUrl(authorizationUrl.href, { allowHttp: ctx.config.allowHttp }).href;
      const pending: PendingLogin = {
        state,
        code_verifier: codeVerifier,
        redirect_uri: server.redirectUri,
        authorization_url: url,
        pid: process.pid,
        created_at: ctx.now(),
        expires_at: ctx.now() + ctx.config.auth.authTimeoutMs,
        issuer: ctx.discovered.metadata.issuer,
      };
      if (ctx.scope) pending.scope = ctx.scope;
      if (ctx.resource) pending.resource = ctx.resource;
      await ctx.store.writePending(pending);
      return { kind: 'started', server, pending };
    } catch (err) {
      await server.close();
      throw err;
    }
  });
}

/** Wait for the callback on our listener, tokens written by another process, or the owner's death. */
async function waitFor(ctx: LoginContext, server: CallbackServer | undefined, pending: PendingLogin, deadline: number): Promise<Outcome> {
  const stop = new AbortController();
  const signals = ctx.signal ? AbortSignal.any([stop.signal, ctx.signal]) : stop.signal;
  const racers: Promise<Outcome>[] = [pollStore(ctx, pending, !server, deadline, signals)];
  if (server) {
    racers.push(
      server
        .waitForCallback(pending.state, { timeoutMs: Math.max(0, deadline - ctx.now()), signal: signals, retryHint: `run \`${terminalLogin(ctx)}\`` })
        .then((r) => ({ kind: 'code' as const, code: r.code, iss: r.iss })),
    );
  }
  try {
    return await Promise.race(racers);
  } finally {
    stop.abort();
    await server?.close().catch(() => {});
    await Promise.allSettled(racers);
  }
}

async function pollStore(ctx: LoginContext, pending: PendingLogin, watchOwner: boolean, deadline: number, signal: AbortSignal): Promise<Outcome> {
  let lastOwnerCheck = ctx.now();
  while (!signal.aborted) {
    await sleep(STORE_POLL_MS, signal);
    if (signal.aborted) break;
    const tokens = await ctx.store.readTokens();
    if (usableTokens(tokens, ctx.staleAccessToken, ctx.now())) return { kind: 'tokens', tokens };
    if (ctx.now() >= deadline) throw timeoutError(ctx);
    if (!watchOwner) continue;
    const current = await ctx.store.readPending();
    if (!current || current.state !== pending.state) return { kind: 'retry' };
    if (ctx.now() - lastOwnerCheck >= OWNER_CHECK_MS) {
      lastOwnerCheck = ctx.now();
      const server = await bindCallbackServer({
        host: hostOf(pending.redirect_uri),
        port: portOf(pending.redirect_uri),
        path: new URL(pending.redirect_uri).pathname,
        log: ctx.log,
      });
      if (server) return { kind: 'takeover', server };
    }
  }
  return { kind: 'retry' };
}

export { finish, usableTokens } from './login-finish.js';
