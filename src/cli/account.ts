/**
 * The account commands: `mcp-relay status [server-url | name]` lists what the credential store holds
 * (never a secret), and `mcp-relay logout <server-url | name> | --all` deletes the server's files and
 * has auth/revocation.ts revoke the tokens at the authorization server (RFC 7009) when it offers
 * revocation; this file only selects, orders and prints.
 * Both write to stdout (people and scripts, `--json`); warnings go to stderr.
 */
import { promises as fs } from 'node:fs';
import type { Argv } from 'yargs';
import { revokeStoredTokens } from '../auth/revocation.js';
import { readValue } from '../config/config.js';
import { describeError, isRelayError, RelayError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { createFetch, type FetchFn } from '../http/fetch.js';
import { LOCK_NAME } from '../store/lock.js';
import { canonicalUrl, defaultStoreRoot, SERVER_KEY_PATTERN, serverKey } from '../store/paths.js';
import { CredentialStore, type ListedServer, type ServerStore, type StoredClient, type StoredDiscovery, type StoredTokens } from '../store/store.js';
import { formatLogout, formatStatus, LOGOUT_EPILOGUE, nothingStored, revocationWarnings, sameUrl, serverLabel, STATUS_EPILOGUE } from './account-format.js';
import { toServerStatus, type LogoutResult, type StoredEntry } from './account-format.js';
import { processRunning } from '../pid.js';
import { isUrlArgument, resolveNamedServer } from './servers.js';

/** What the account commands need from the outside world. */
export interface AccountDeps {
  env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  fetch: FetchFn;
  log: Logger;
  now(): number;
}

/** Which server a command is about, as given on the command line. */
export interface Selection {
  /** A server URL, or a key from `mcp-relay status`. */
  target?: string | undefined;
  resource?: string | undefined;
  clientId?: string | undefined;
}

/** A server key, and the canonical URL when the target was a URL (not a key). */
type Resolved = { key: string; url?: string };

/**
 * The server key for a selection, computed exactly as `openStore` does for a relay
 * (serverKey of the URL, the --resource and the static client id); a bare key is taken as is.
 *
 * @throws RelayError `BAD_CONFIG` for a target that is neither a URL nor a key.
 */
export function resolveSelection(sel: Selection & { target: string }, env: NodeJS.ProcessEnv): Resolved {
  if (SERVER_KEY_PATTERN.test(sel.target)) return { key: sel.target };
  const clientId = sel.clientId !== undefined ? readValue(sel.clientId, env, '--client-id') : undefined;
  return { key: serverKey({ serverUrl: sel.target, resource: sel.resource, clientId }), url: canonicalUrl(sel.target) };
}

/** Whether a server directory holds anything besides its lock (an emptied one is left over after a logout). */
async function hasFiles(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).some((name) => name !== LOCK_NAME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new RelayError('STORE_IO', `could not list ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; check its permissions`, { cause: err });
  }
}

async function stored(store: CredentialStore): Promise<ListedServer[]> {
  const listed = await store.list();
  const keep = await Promise.all(listed.map((l) => hasFiles(l.dir)));
  return listed.filter((_, i) => keep[i]);
}

async function readEntry(store: CredentialStore, listed: ListedServer): Promise<StoredEntry> {
  const s = store.server(listed.key);
  let tokensUnreadable: string | undefined;
  // A login kept in a keychain this machine cannot reach is still listed (without its details).
  const unreadable = <T>(err: unknown): T | undefined => {
    if (!isRelayError(err, 'KEYCHAIN_UNAVAILABLE')) throw err;
    tokensUnreadable ??= err.message;
    return undefined;
  };
  const [client, tokens, discovery, pending, tokensBackend] = await Promise.all([
    s.readClient().catch(unreadable<StoredClient>),
    s.readTokens().catch(unreadable<StoredTokens>),
    s.readDiscovery(),
    s.readPending(),
    s.tokensBackend(),
  ]);
  return { ...listed, client, tokens, discovery, pending, tokensBackend, tokensUnreadable };
}

/** `mcp-relay status`: resolves to the exit code. */
export async function runStatus(sel: Selection, json: boolean, deps: AccountDeps): Promise<number> {
  const store = new CredentialStore(defaultStoreRoot(deps.env), deps.log);
  let listed = await stored(store);
  if (sel.target !== undefined) {
    const want = resolveSelection({ ...sel, target: sel.target }, deps.env);
    // Without --resource / --client-id, a URL also shows the variants of that URL made with them.
    const loose = sel.resource === undefined && sel.clientId === undefined;
    listed = listed.filter((l) => l.key === want.key || (loose && sameUrl(l.server?.url, want.url)));
  }
  const now = deps.now();
  const servers = (await Promise.all(listed.map((l) => readEntry(store, l)))).map((e) => toServerStatus(e, now, processRunning));
  const doc = `${JSON.stringify({ store: store.root, servers }, null, 2)}\n`;
  if (sel.target !== undefined && servers.length === 0) {
    if (json) deps.out(doc);
    deps.err(nothingStored(sel.target, store.root, []));
    return 1;
  }
  const storeUsed =
    servers.length === 0 &&
    (await fs.stat(store.serversDir).then(
      (st) => st.isDirectory(),
      () => false,
    ));
  deps.out(json ? doc : formatStatus(store.root, servers, now, storeUsed));
  return 0;
}

/** `mcp-relay logout`: resolves to the exit code. */
export async function runLogout(sel: Selection, opts: { all: boolean; json: boolean; allowHttp: boolean }, deps: AccountDeps): Promise<number> {
  if (opts.all && sel.target !== undefined) throw new RelayError('BAD_CONFIG', 'give either a server URL or --all, not both');
  if (!opts.all && sel.target === undefined) throw new RelayError('BAD_CONFIG', 'logout needs a server URL (or a key from `mcp-relay status`), or --all');
  const store = new CredentialStore(defaultStoreRoot(deps.env), deps.log);
  const listed = await stored(store);
  let targets = listed;
  if (sel.target !== undefined) {
    const want = resolveSelection({ ...sel, target: sel.target }, deps.env);
    targets = listed.filter((l) => l.key === want.key);
    if (targets.length === 0) {
      if (opts.json) deps.out(`${JSON.stringify({ store: store.root, results: [] }, null, 2)}\n`);
      deps.err(
        nothingStored(
          sel.target,
          store.root,
          listed.filter((l) => sameUrl(l.server?.url, want.url)),
        ),
      );
      return 1;
    }
  } else if (targets.length === 0) {
    deps.out(
      opts.json
        ? `${JSON.stringify({ store: store.root, results: [] }, null, 2)}\n`
        : `Nothing to log out of: the credential store at ${store.root} holds no logins.\n`,
    );
    return 1;
  }
  const results: LogoutResult[] = [];
  for (const t of targets) {
    const result = await logoutOne(store.server(t.key), t.server?.url ?? null, opts.allowHttp, deps);
    results.push(result);
    if (!opts.json) deps.out(formatLogout(result));
  }
  // Client registrations shared by the servers of one authorization server (auth/registration.ts).
  if (opts.all) await store.removeIssuerRecords();
  if (opts.json) deps.out(`${JSON.stringify({ store: store.root, results }, null, 2)}\n`);
  return results.every((r) => r.deleted) ? 0 : 1;
}

interface Taken {
  url: string | null;
  tokens?: StoredTokens | undefined;
  client?: StoredClient | undefined;
  discovery?: StoredDiscovery | undefined;
}

/**
 * Delete one server's files under its lock, then revoke what they held. The files go first so
 * the lock is held for milliseconds rather than for two network round trips, and so nothing is
 * left behind if the authorization server hangs or this process is killed meanwhile; running
 * relays find no tokens and log in again.
 */
async function logoutOne(server: ServerStore, url: string | null, allowHttp: boolean, deps: AccountDeps): Promise<LogoutResult> {
  const warnings: string[] = [];
  let taken: Taken;
  try {
    taken = await server.withLock(async () => {
      // Re-read under the lock: a relay may have refreshed (rotated) the tokens while we waited.
      const [s, tokens, client, discovery] = await Promise.all([server.readServer(), server.readTokens(), server.readClient(), server.readDiscovery()]);
      await server.removeAll();
      return { url: s?.url ?? url, tokens, client, discovery };
    });
    // The lock is released now, so the emptied directory itself can go.
    await server.removeAll();
  } catch (err) {
    return { url, key: server.key, revocation: 'skipped', deleted: false, warnings, error: describeError(err) };
  }
  const label = serverLabel({ url: taken.url, key: server.key });
  const report = await revokeStoredTokens(
    { tokens: taken.tokens, client: taken.client, metadata: taken.discovery?.authorization_server_metadata },
    { fetch: deps.fetch, allowHttp },
  );
  for (const text of revocationWarnings(report, label)) {
    warnings.push(text);
    deps.log.warn(text);
  }
  return { url: taken.url, key: server.key, revocation: report.outcome, deleted: true, warnings };
}

interface AccountArgs {
  serverUrl?: string;
  config?: string;
  resource?: string;
  clientId?: string;
  json: boolean;
  all?: boolean;
  allowHttp?: boolean;
}

function selectionOptions<T>(y: Argv<T>) {
  return y
    .positional('server-url', {
      type: 'string',
      describe: 'Server URL as given to the relay, the name of a server in the servers file, or a key shown by `mcp-relay status`',
    })
    .option('config', { type: 'string', describe: 'Servers file to look a name up in (default: as for the relay)' })
    .option('resource', { type: 'string', describe: 'The --resource the relay was started with (part of the server identity)' })
    .option('client-id', { type: 'string', describe: 'The --client-id (or --client-info client_id) the relay was started with (part of the server identity)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document (for scripts) instead of text' });
}

function liveDeps(env: NodeJS.ProcessEnv): AccountDeps {
  return {
    env,
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    fetch: createFetch(env),
    log: createLogger({ level: 'warn' }),
    now: Date.now,
  };
}

/**
 * The selection on the command line. A target that is neither a URL nor a store key names a
 * server of the servers file: its URL, resource and client id are the relay's, so the store key
 * is the one the relay uses (flags given here still win).
 */
function selection(a: AccountArgs, env: NodeJS.ProcessEnv): Selection {
  const target = a.serverUrl;
  if (target === undefined || isUrlArgument(target) || SERVER_KEY_PATTERN.test(target)) return { target, resource: a.resource, clientId: a.clientId };
  const { config } = resolveNamedServer(target, a.config, env);
  return {
    target: config.serverUrl.href,
    resource: a.resource ?? config.auth.resource,
    clientId: a.clientId ?? config.auth.clientId ?? (config.auth.clientInfo?.client_id as string | undefined),
  };
}

/** Add `status [server-url]` and `logout [server-url]` to the CLI. */
export function registerAccountCommands(parser: Argv, env: NodeJS.ProcessEnv): void {
  parser
    .command(
      'status [server-url]',
      'Show stored logins (no secrets): client, token expiry, scope, last use',
      (y) => selectionOptions(y).epilogue(STATUS_EPILOGUE).example('$0 status --json', 'every server, for scripts'),
      async (args) => {
        const a = args as unknown as AccountArgs;
        process.exitCode = await runStatus(selection(a, env), a.json, liveDeps(env));
      },
    )
    .command(
      'logout [server-url]',
      'Revoke and delete the stored login of a server (or of all with --all)',
      (y) =>
        selectionOptions(y)
          .option('all', { type: 'boolean', default: false, describe: 'Log out of every server in the store' })
          .option('allow-http', { type: 'boolean', default: false, describe: 'Allow a plain http:// revocation endpoint on a non-local host' })
          .epilogue(LOGOUT_EPILOGUE)
          .example('$0 logout https://example.com/mcp', 'revoke and forget one server')
          .example('$0 logout --all', 'forget every stored login'),
      async (args) => {
        const a = args as unknown as AccountArgs;
        process.exitCode = await runLogout(selection(a, env), { all: a.all === true, json: a.json, allowHttp: a.allowHttp === true }, liveDeps(env));
      },
    );
}
