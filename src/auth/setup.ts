/**
 * Builds the coordinator for one server from Config (the store is opened by ../store/open.ts).
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import type { FetchFn } from '../http/fetch.js';
import type { ServerStore } from '../store/store.js';
export { openIdpStore, openStore, recordServer } from '../store/open.js';
import { canOpenBrowser, systemOpener, type Opener } from './browser.js';
import { AuthCoordinator } from './coordinator.js';
import { machineGrant } from './grants.js';
import { idpLogin } from './idp-login.js';

export interface AuthSetupDeps {
  env: NodeJS.ProcessEnv;
  fetch: FetchFn;
  log: Logger;
  notify(text: string): void;
  /** Injected in tests; default: the system browser (URL validated before launch). */
  opener?: Opener;
  /** `mcp-relay login`: instructions say "paste it here". */
  pasteHere?: boolean;
  /** The enterprise IdP's store (store/open.ts openIdpStore), for an IdP login without --idp-id-token. */
  idpStore?: ServerStore | undefined;
}

export function createCoordinator(config: Config, server: ServerStore, deps: AuthSetupDeps): AuthCoordinator {
  const opener = deps.opener ?? systemOpener(deps.log, deps.env, { allowHttp: config.allowHttp });
  const browser = canOpenBrowser(deps.env);
  const { fetch, log, notify } = deps;
  const pasteHere = deps.pasteHere ?? false;
  // Enterprise-managed authorization without --idp-id-token: the relay signs in at the IdP itself.
  const enterprise = config.auth.enterprise;
  const idp =
    enterprise && !enterprise.idpIdToken && deps.idpStore
      ? idpLogin(enterprise, { store: deps.idpStore, config, fetch, log, opener, browser, notify, pasteHere })
      : undefined;
  return new AuthCoordinator({ config, store: server, fetch, log, opener, browser, notify, pasteHere, grant: machineGrant(config.auth, idp) });
}
