/**
 * The auth side of the proxy command: the coordinator over this server's store, and the login
 * shield with its cache.json. Loaded by main.ts only when the proxy runs.
 */
import type { HeadersCommand } from '../auth/headers-command.js';
import { LazyAuth } from '../auth/lazy.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { stderrWriter } from '../stderr.js';
import { openIdpStore, openStore, recordServer } from '../store/open.js';
import { createFetch } from '../http/fetch.js';
import type { ProxyDeps } from './proxy.js';
import { LoginShield } from '../relay/login-shield.js';
import { LAST_USED_INTERVAL_MS, recordingUse } from '../auth/usage.js';
import { loginCommand } from '../config/launch.js';
import { type MachineGrantKind, machineGrantKind } from '../config/config.js';
import { join } from 'node:path';
import { importOnFirstContact, MCP_REMOTE_IMPORTS_FILE } from '../auth/mcp-remote-import.js';

/** What the host is told to check when a machine login fails. */
const MACHINE_HINTS: Record<MachineGrantKind, string> = {
  client_credentials: 'Check --client-id and --client-secret / --client-key-file, and that the client may use the client_credentials grant',
  workload_identity: 'Check --workload-token (the file must hold a current platform token whose audience is the authorization server)',
  enterprise_managed: 'Check --idp-issuer, --idp-id-token and --client-id / --client-secret (the error names the leg that failed)',
};
/** Seconds between two "last used" records of one relay; tests set it low (see docs/store.md). */
const LAST_USED_ENV = 'MCP_RELAY_LAST_USED_INTERVAL_S';

function lastUsedInterval(env: NodeJS.ProcessEnv): number {
  const s = Number(env[LAST_USED_ENV]);
  return env[LAST_USED_ENV] !== undefined && Number.isFinite(s) && s >= 0 ? s * 1000 : LAST_USED_INTERVAL_MS;
}

/**
 * Run --headers-command once at start. A failure is logged, not fatal: the relay starts, and each
 * request runs the command again and, while it fails, gets its error (the host shows it). Whether
 * it replaces the OAuth login is then unknown, and taken as yes: it was given for credentials.
 */
async function startHeadersCommand(
  spec: { argv: string[]; ttlMs: number },
  env: NodeJS.ProcessEnv,
  log: Logger,
): Promise<{ command: HeadersCommand; replacesOAuth: boolean }> {
  // Loaded only when --headers-command is given (child_process and the parser cost every other relay nothing).
  const { HeadersCommand } = await import('../auth/headers-command.js');
  const command = new HeadersCommand({ ...spec, env, log });
  try {
    await command.refresh();
    return { command, replacesOAuth: command.hasAuthorization };
  } catch (err) {
    log.error(describeError(err));
    return { command, replacesOAuth: true };
  }
}

export const makeAuth: ProxyDeps['makeAuth'] = async (config, log, env, version) => {
  const userAuthorization = Object.keys(config.headers).some((h) => h.toLowerCase() === 'authorization');
  const started = config.headersCommand ? await startHeadersCommand(config.headersCommand, env, log) : undefined;
  const command = started?.command;
  // A user-supplied Authorization header (given, or printed by the command) is the whole story: no OAuth on top of it.
  if (userAuthorization || started?.replacesOAuth) {
    log.info(`an Authorization header ${userAuthorization ? 'was given' : 'comes from --headers-command'}; OAuth login is off for this server`);
    return command && { hook: command, idle: () => Promise.resolve(), loginHint: 'Check --headers-command', close: async () => {} };
  }
  const { store, server } = openStore(config, env, log);
  await server.checkSecretStore();
  // npx users have no `mcp-relay` command: the hints name the one that works here.
  const terminalLogin = loginCommand(config.serverUrl.href, { resource: config.auth.resource, clientId: config.auth.clientId }, { argv: process.argv, env });
  const startedAt = Date.now();
  // Not waited for before the first request (two fsyncs per server, ten in an aggregate: issue 17's
  // start-up goal); close() waits for it, so the record lands before the process exits.
  const recorded = recordServer(server, config, log, startedAt);
  // Coming from mcp-remote: its login for this server becomes ours (no browser, no registration).
  // Not for machine logins or metadata-document clients, which mcp-remote files under other keys.
  const machine = machineGrantKind(config.auth);
  if (!machine && !config.auth.clientMetadataUrl) {
    const staticClient = config.auth.clientId !== undefined || config.auth.clientInfo !== undefined;
    const recordFile = join(store.root, MCP_REMOTE_IMPORTS_FILE);
    await importOnFirstContact(server, { env, serverUrl: config.serverUrl.href, resource: config.auth.resource, staticClient, recordFile, log });
  }
  const load = async () =>
    (await import('../auth/setup.js')).createCoordinator(config, server, {
      env,
      fetch: createFetch(env, config.tls && { options: config.tls, certHost: config.serverUrl.host }),
      log,
      notify: (text) => stderrWriter().write(`${text}\n`),
      // Enterprise-managed authorization: one IdP login shared by every server behind the IdP.
      idpStore: config.auth.enterprise ? openIdpStore(store, config.auth.enterprise) : undefined,
    });
  // A machine grant decides which stored tokens count (see the coordinator): no shortcut there.
  const coordinator = machine ? await load() : new LazyAuth(load, server, log);
  // Read-modify-write of cache.json, one at a time: initialize and tools/list answers arrive
  // together and would otherwise each overwrite the other's entry.
  let writes: Promise<void> = Promise.resolve();
  const shield = new LoginShield(
    coordinator,
    {
      read: () => server.readCache(),
      write: (method, result) =>
        (writes = writes
          .then(async () => {
            const cache = (await server.readCache()) ?? { updated_at: 0 };
            if (JSON.stringify(cache[method]) === JSON.stringify(result)) return;
            await server.writeCache({ ...cache, [method]: result, updated_at: Date.now() });
          })
          .catch((err) => log.debug(`could not update cache.json: ${String(err)}`))),
    },
    config.serverUrl.href,
    version,
    terminalLogin,
  );
  return {
    // status's "last used": refreshed while the relay runs, not only when it starts.
    hook: {
      ...recordingUse(coordinator, (now) => server.touch(now), { intervalMs: lastUsedInterval(env), startedAt }),
      // Headers from the command ride along with the OAuth token (it printed no Authorization).
      ...(command ? { headers: () => command.headers() } : {}),
    },
    shield,
    server,
    idle: () => coordinator.idle(),
    loginHint: machine ? MACHINE_HINTS[machine] : `To log in from a terminal on this machine: ${terminalLogin}`,
    close: async () => {
      await recorded;
      await writes; // a cache update under way must land before the process exits
      await coordinator.close();
    },
  };
};
