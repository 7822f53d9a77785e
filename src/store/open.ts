/**
 * Opening the store for one configured server: the same key for the proxy, `login` and the
 * account commands.
 */
import type { Config } from '../config/config.js';
import { describeError, isRelayError } from '../errors.js';
import type { Logger } from '../log.js';
import { defaultStoreRoot, serverKey } from './paths.js';
import { CredentialStore, type ServerStore, type StoredTokens } from './store.js';

export function openStore(config: Config, env: NodeJS.ProcessEnv, log: Logger): { store: CredentialStore; server: ServerStore } {
  const store = new CredentialStore(config.storeRoot ?? defaultStoreRoot(env), log, { credentialStore: config.credentialStore ?? 'auto', env });
  const key = serverKey({
    serverUrl: config.serverUrl.href,
    resource: config.auth.resource,
    clientId: config.auth.clientId ?? (config.auth.clientInfo?.client_id as string | undefined),
  });
  return { store, server: store.server(key) };
}

/**
 * The store of an enterprise IdP login (idp-login.ts), keyed by the IdP issuer and the relay's
 * client there, so every MCP server behind that IdP (and every relay process) shares one login.
 */
export function openIdpStore(store: CredentialStore, idp: { idpIssuer: string; idpClientId?: string | undefined }): ServerStore {
  return store.server(serverKey({ serverUrl: idp.idpIssuer, clientId: `idp:${idp.idpClientId ?? ''}` }));
}

/** Record the server in server.json (what `status` lists) and its last use. Best effort. */
export async function recordServer(server: ServerStore, config: Config, log: Logger, now = Date.now()): Promise<void> {
  try {
    const existing = await server.readServer();
    await server.writeServer({
      url: config.serverUrl.href,
      created_at: existing?.created_at ?? now,
      last_used_at: now,
      ...(config.auth.resource ? { resource: config.auth.resource } : {}),
    });
  } catch (err) {
    log.warn(`could not record the server in the store: ${describeError(err)}`);
  }
}

/**
 * Tokens for the first request. A broken store (unreadable, not a directory) must not stop a
 * relay to a server that needs no login: warn and go on without tokens. A server that then asks
 * for a login gets the store's own clear error from the login path.
 */
export async function readTokensOrWarn(store: ServerStore, log: Logger): Promise<StoredTokens | undefined> {
  try {
    return await store.readTokens();
  } catch (err) {
    if (!isRelayError(err, 'STORE_IO') && !isRelayError(err, 'KEYCHAIN_UNAVAILABLE')) throw err;
    log.warn(`credential store unusable, continuing without stored login: ${describeError(err)}`);
    return undefined;
  }
}
