/**
 * `mcp-relay login <server-url | name>`: log in from a terminal. Joins a login a waiting relay already
 * started (same state, verifier and redirect URI from the store) or starts one; opens the browser
 * unless --no-browser; and accepts the pasted redirect address on stdin (a bare code only where
 * the server does not promise RFC 9207 `iss`: see auth/paste.ts).
 * Relays waiting on the server pick the tokens up from the shared store.
 */
import { createInterface } from 'node:readline';
import type { Argv } from 'yargs';
import { bearerChallenge, type BearerChallenge } from '../http/challenge.js';
import { type Config, machineGrantKind } from '../config/config.js';
import { describeError, isRelayError } from '../errors.js';
import { createLogger } from '../log.js';
import { createFetch, type FetchFn } from '../http/fetch.js';
import { createCoordinator, openIdpStore, openStore, recordServer } from '../auth/setup.js';
import { usableTokens } from '../auth/login.js';
import { connectionOptions } from './options.js';
import { resolveServers, type ServersArgs } from './servers.js';

/** Ask the server for its challenge (scope, resource metadata URL) with an unauthenticated initialize. */
async function probeChallenge(config: Config, fetch: FetchFn): Promise<{ status: number; challenge: BearerChallenge }> {
  const res = await fetch(config.serverUrl, {
    method: 'POST',
    headers: { ...config.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'mcp-relay-login', version: '1' } },
    }),
    signal: AbortSignal.timeout(30_000),
  });
  await res.body?.cancel().catch(() => {});
  return { status: res.status, challenge: bearerChallenge(res.headers) };
}

export interface LoginIo {
  stdin: NodeJS.ReadableStream;
  out(text: string): void;
  err(text: string): void;
}

export async function runLogin(config: Config, env: NodeJS.ProcessEnv, force: boolean, io: LoginIo): Promise<number> {
  const log = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, file: config.logFile });
  const fetch = createFetch(env, config.tls && { options: config.tls, certHost: config.serverUrl.host });
  const { store, server } = openStore(config, env, log);
  await server.checkSecretStore();
  await recordServer(server, config, log);
  const current = await server.readTokens();
  const pending = await server.readPending();
  if (!force && !pending && usableTokens(current, undefined, Date.now())) {
    const until = current.expires_at ? ` (access token valid until ${new Date(current.expires_at).toLocaleString()})` : '';
    io.out(`Already logged in to ${config.serverUrl.href}${until}. Use --force to log in again.\n`);
    return 0;
  }
  if (force && current) await server.withLock(() => server.clearTokens());
  let probe: { status: number; challenge: BearerChallenge };
  try {
    probe = await probeChallenge(config, fetch);
  } catch (err) {
    io.err(`mcp-relay: cannot reach ${config.serverUrl.href}: ${describeError(err)}\n`);
    return 1;
  }
  if (probe.status !== 401 && probe.status !== 403 && !pending && !force) {
    io.out(`${config.serverUrl.href} did not ask for a login (HTTP ${probe.status}); nothing to do.\n`);
    return 0;
  }
  const idpStore = config.auth.enterprise ? openIdpStore(store, config.auth.enterprise) : undefined;
  const coordinator = createCoordinator(config, server, { env, fetch, log, notify: (t) => io.err(`${t}\n`), pasteHere: true, idpStore });
  const done = new AbortController();
  // Machine-to-machine logins have nothing to paste.
  const pasted = machineGrantKind(config.auth) ? new Promise<void>(() => {}) : readPastes(io, (text) => coordinator.finishPasted(text), done.signal);
  try {
    await Promise.race([
      coordinator.unauthorized({ status: 401, challenge: probe.challenge, rejected: current ? `Bearer ${current.access_token}` : undefined }),
      pasted,
    ]);
  } catch (err) {
    io.err(`mcp-relay: login failed: ${describeError(err)}\n`);
    return 1;
  } finally {
    done.abort();
    await coordinator.close();
  }
  io.out(`Logged in to ${config.serverUrl.href}. Relays waiting for this server continue on their own.\n`);
  return 0;
}

/** Read pasted lines until one finishes the login; bad pastes are explained and another is asked for. */
function readPastes(io: LoginIo, finish: (text: string) => Promise<unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: io.stdin as NodeJS.ReadableStream, terminal: false });
    signal.addEventListener('abort', () => rl.close(), { once: true });
    io.err('Paste the whole address your browser ended on (from its address bar) and press Enter:\n');
    rl.on('line', (line) => {
      if (!line.trim()) return;
      finish(line).then(
        () => {
          rl.close();
          resolve();
        },
        (err) => {
          io.err(`mcp-relay: ${describeError(err)}\n`);
          if (isRelayError(err, 'AUTH_FAILED')) io.err('Paste the address again, or press Ctrl+C to give up:\n');
        },
      );
    });
    // stdin closed without a usable paste: keep waiting for the browser callback instead.
  });
}

export function registerLoginCommand(parser: Argv, env: NodeJS.ProcessEnv): void {
  parser.command(
    'login <server-url>',
    'Log in from a terminal, or finish a login a relay started (paste the redirect address)',
    (y) =>
      connectionOptions(y)
        .option('force', { type: 'boolean', default: false, describe: 'Log in again even if the stored tokens are still valid' })
        .option('config', { type: 'string', describe: 'Servers file to look a server name up in (default: as for the relay)' }),
    async (args) => {
      // A URL, or the name of a server in the servers file (its settings, the flags here over them).
      const [server] = resolveServers(args as unknown as ServersArgs, process.argv.slice(2), env);
      const config = server!.config;
      const code = await runLogin(config, env, Boolean((args as { force?: boolean }).force), {
        stdin: process.stdin,
        out: (t) => process.stdout.write(t),
        err: (t) => process.stderr.write(t),
      });
      process.exit(code);
    },
  );
}
