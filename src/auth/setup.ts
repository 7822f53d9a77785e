/**
 * Builds the auth side for one server from Config: the store, the coordinator, the opener.
 * Shared by the proxy and the account commands so both see the same server key.
 */
import type { Config } from '../config.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FetchFn } from '../remote/fetch.js';
import { defaultStoreRoot, serverKey } from '../store/paths.js';
import { CredentialStore, type ServerStore } from '../store/store.js';
import { canOpenBrowser, systemOpener, type Opener } from './browser.js';
import { AuthCoordinator } from './coordinator.js';

export function openStore(config: Config, env: NodeJS.ProcessEnv, log: Logger): { store: CredentialStore; server: ServerStore } {
  const store = new CredentialStore(config.storeRoot ?? defaultStoreRoot(env), log);
  const key = serverKey({ serverUrl: config.serverUrl.href, resource: config.auth.resource, clientId: config.auth.clientId ?? (config.auth.clientInfo?.client_id as string | undefined) });
  return { store, server: store.server(key) };
}

/** Record the server in server.json (what `status` lists) and its last use. Best effort. */
export async function recordServer(server: ServerStore, config: Config, log: Logger, now = Date.now()): Promise<void> {
  try {
    const existing = await server.readServer();
    await server.writeServer({ url: config.serverUrl.href, created_at: existing?.created_at ?? now, last_used_at: now, ...(config.auth.resource ? { resource: config.auth.resource } : {}) });
  } catch (err) {
    log.warn(`could not record the server in the store: ${describeError(err)}`);
  }
}

export interface AuthSetupDeps {
  env: NodeJS.ProcessEnv;
  fetch: FetchFn;
  log: Logger;
  notify(text: string): void;
  /** Injected in tests; default: the system browser (URL validated before launch). */
  opener?: Opener;
  /** `mcp-relay login`: instructions say "paste it here". */
  pasteHere?: boolean;
}

export function createCoordinator(config: Config, server: ServerStore, deps: AuthSetupDeps): AuthCoordinator {
  return new AuthCoordinator({
    config,
    store: server,
    fetch: deps.fetch,
    log: deps.log,
    opener: deps.opener ?? systemOpener(deps.log, deps.env, { allowHttp: config.allowHttp }),
    browser: canOpenBrowser(deps.env),
    notify: deps.notify,
    pasteHere: deps.pasteHere ?? false,
  });
}
