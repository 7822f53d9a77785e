/**
 * The OAuth loopback redirect listener (RFC 8252 §7.3, §8.3).
 *
 * Contract: binds node:http directly on a loopback address and keeps that socket for the whole
 * flow. (get-port only probes a port by binding and closing it; probing then binding would let
 * another process take the port in between.) It answers exactly one valid authorization
 * response for the state it waits for, then closes; stale tabs, forged hosts and cross-origin
 * requests are answered but never complete the flow. Codes and states are never logged.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { isIPv4 } from 'node:net';
import type { AddressInfo } from 'node:net';
import getPort from 'get-port';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_BRAND, callbackReplies } from './callback-pages.js';
import { CallbackListener } from './callback-listener.js';

/**
 * Preferred ports live in 33418–49151: above the ports dev servers and debuggers like
 * (3000, 5173, 8080, 9229, …) and below the IANA dynamic range (49152+) that macOS and Windows
 * hand out as outgoing source ports. Linux's ephemeral range (32768–60999) overlaps it, so a
 * preferred port can occasionally be busy: callers treat `undefined` from bindCallbackServer
 * as "busy" and fall back.
 */
export const PREFERRED_PORT_MIN = 33_418;
export const PREFERRED_PORT_MAX = 49_151;
/** RFC 8252 §8.3: loopback IP literal rather than "localhost" (which may resolve elsewhere). */
export const DEFAULT_CALLBACK_HOST = '127.0.0.1';
export const DEFAULT_CALLBACK_PATH = '/callback';
/** How often bindAnyCallbackServer picks a new port after losing a bind race to another process. */
const BIND_RACE_ATTEMPTS = 5;

export interface CallbackResult {
  code: string;
  state: string;
  /** RFC 9207 issuer identifier, when the authorization server sent one; the caller verifies it. */
  iss?: string;
}

export interface CallbackServer {
  /** The bound address (127.x or ::1; "localhost" binds 127.0.0.1). */
  readonly host: string;
  readonly port: number;
  /** `http://<host>:<port><path>`, with the host as the caller named it ("localhost" stays). */
  readonly redirectUri: string;
  /**
   * Wait for the authorization response carrying `expectedState`. Responses that arrived before
   * this call were held and are answered now. Rejects with `AUTH_FAILED` (authorization server
   * `error=`, cancelled via `signal`, listener closed) or `AUTH_TIMEOUT`; the listener is closed
   * (port released) before it settles either way, except on success where it closes right after.
   */
  waitForCallback(expectedState: string, opts: { timeoutMs: number; signal?: AbortSignal; retryHint?: string }): Promise<CallbackResult>;
  /** Stop listening, answer held requests, reject a pending waiter. Idempotent. */
  close(): Promise<void>;
}

export interface BindCallbackOptions {
  /** Loopback only: 127.0.0.0/8, ::1 or "localhost" (bound as 127.0.0.1). Default 127.0.0.1. */
  host?: string;
  port: number;
  /** Path of the redirect URI. Default "/callback". */
  path?: string;
  log: Logger;
  /** Name shown on the browser pages. */
  brand?: string;
}

export interface BindAnyCallbackOptions extends Omit<BindCallbackOptions, 'port'> {
  /** Ports never to use (e.g. a preferred port another process holds). */
  exclude?: number[];
  /** Picks a free port to try; default get-port. Injected by tests to simulate losing a race. */
  pickPort?: (opts: { host: string; exclude: number[] }) => Promise<number>;
}

/**
 * A stable port for a server, so a redirect URI registered with a static client (or cached in
 * a dynamic registration) keeps working across restarts. Derived from the server key (the
 * store's hex hash); spread over {@link PREFERRED_PORT_MIN}–{@link PREFERRED_PORT_MAX}.
 */
export function preferredCallbackPort(serverKey: string): number {
  const digest = createHash('sha256').update(serverKey).digest();
  const span = PREFERRED_PORT_MAX - PREFERRED_PORT_MIN + 1;
  return PREFERRED_PORT_MIN + (digest.readUInt32BE(0) % span);
}

export interface Loopback {
  bindHost: string;
  urlHost: string;
}

/** RFC 8252 §8.3: the listener must only be reachable from this machine. */
function resolveLoopback(host: string): Loopback {
  const h = host.trim().toLowerCase();
  if (h === 'localhost') return { bindHost: DEFAULT_CALLBACK_HOST, urlHost: 'localhost' };
  if (h === '::1' || h === '[::1]') return { bindHost: '::1', urlHost: '[::1]' };
  if (isIPv4(h) && h.startsWith('127.')) return { bindHost: h, urlHost: h };
  throw new RelayError('BAD_CONFIG', `callback host must be a loopback address (127.0.0.1, ::1 or localhost), got ${JSON.stringify(host)}`);
}

function validatePath(path: string): string {
  if (!/^\/[A-Za-z0-9\-._~/]*$/.test(path) || path.startsWith('//')) {
    throw new RelayError('BAD_CONFIG', `callback path must be a plain absolute path like "/callback", got ${JSON.stringify(path)}`);
  }
  return path;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Bind the callback listener on `host:port`.
 * @returns the listener, or `undefined` when the port is in use (the caller decides what that means).
 * @throws RelayError `BAD_CONFIG` for a non-loopback host, a bad path, or a port we may not bind.
 */
export async function bindCallbackServer(opts: BindCallbackOptions): Promise<CallbackServer | undefined> {
  const where = resolveLoopback(opts.host ?? DEFAULT_CALLBACK_HOST);
  const path = validatePath(opts.path ?? DEFAULT_CALLBACK_PATH);
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) {
    throw new RelayError('BAD_CONFIG', `callback port must be an integer 0–65535, got ${opts.port}`);
  }
  const server = createServer();
  try {
    await listen(server, opts.port, where.bindHost);
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'EADDRINUSE') return undefined;
    const code = errno === 'EACCES' || errno === 'EADDRNOTAVAIL' ? 'BAD_CONFIG' : 'AUTH_FAILED';
    throw new RelayError(code, `could not listen for the login callback on ${where.urlHost}:${opts.port} (${errno ?? 'error'})`, { cause: err });
  }
  const port = (server.address() as AddressInfo).port;
  return new CallbackListener(server, where, port, path, opts.log, callbackReplies(opts.brand ?? DEFAULT_BRAND));
}

/**
 * Bind the callback listener on any free loopback port. The port is bound directly (never
 * probed then bound); losing a race to another process just means trying another port.
 */
export async function bindAnyCallbackServer(opts: BindAnyCallbackOptions): Promise<CallbackServer> {
  const { bindHost } = resolveLoopback(opts.host ?? DEFAULT_CALLBACK_HOST);
  const exclude = opts.exclude ?? [];
  const pick = opts.pickPort ?? ((o: { host: string; exclude: number[] }) => getPort(o));
  for (let attempt = 1; attempt <= BIND_RACE_ATTEMPTS; attempt++) {
    const port = await pick({ host: bindHost, exclude });
    // get-port applies `exclude` to the ports it was asked about, not to the OS-assigned one.
    if (exclude.includes(port)) continue;
    const server = await bindCallbackServer({ ...opts, port });
    if (server) return server;
    opts.log.debug({ port, attempt }, 'callback port was taken before we could bind it; trying another');
  }
  throw new RelayError('AUTH_FAILED', `could not bind a free loopback port for the login callback after ${BIND_RACE_ATTEMPTS} attempts`);
}
