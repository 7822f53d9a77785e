/**
 * Builds the coordinator for one server from Config (the store is opened by ../store/open.ts).
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import type { FetchFn } from '../http/fetch.js';
import type { ServerStore } from '../store/store.js';
export { openStore, recordServer } from '../store/open.js';
import { canOpenBrowser, systemOpener, type Opener } from './browser.js';
import { AuthCoordinator } from './coordinator.js';

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
