/**
 * The account commands: `mcp-relay status [server-url]` lists what the credential store holds
 * (never a secret), and `mcp-relay logout <server-url> | --all` revokes the tokens at the
 * authorization server (RFC 7009) when it offers revocation and deletes the server's files.
 * Both write to stdout (people and scripts, `--json`); warnings go to stderr.
 */
import { promises as fs } from 'node:fs';
import { selectClientAuthMethod } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Argv } from 'yargs';
import { assertSafeEndpoint } from '../auth/discovery.js';
import { clientInformation } from '../auth/tokens.js';
import { readValue } from '../config/config.js';
import { describeError, RelayError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { createFetch, type FetchFn } from '../http/fetch.js';
import { LOCK_NAME } from '../store/lock.js';
import { canonicalUrl, defaultStoreRoot, SERVER_KEY_PATTERN, serverKey } from '../store/paths.js';
import { CredentialStore, type ListedServer, type ServerStore, type StoredClient, type StoredDiscovery, type StoredTokens } from '../store/store.js';
import { formatLogout, formatStatus, LOGOUT_EPILOGUE, nothingStored, oauthErrorCode, sameUrl, serverLabel, STATUS_EPILOGUE, stringList } from './account-format.js';
import { revocationRequest, toServerStatus, type LogoutResult, type RevocationOutcome, type StoredEntry } from './account-format.js';

/** One revocation request may take this long before it counts as failed (the files are deleted anyway). */
const REVOCATION_TIMEOUT_MS = 15_000;

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
  const [client, tokens, discovery, pending] = await Promise.all([s.readClient(), s.readTokens(), s.readDiscovery(), s.readPending()]);
  return { ...listed, client, tokens, discovery, pending };
}

/** Whether a process exists (EPERM: it exists but belongs to someone else). */
function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
  const storeUsed = servers.length === 0 && (await fs.stat(store.serversDir).then((st) => st.isDirectory(), () => false));
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
      deps.err(nothingStored(sel.target, store.root, listed.filter((l) => sameUrl(l.server?.url, want.url))));
      return 1;
    }
  } else if (targets.length === 0) {
    deps.out(opts.json ? `${JSON.stringify({ store: store.root, results: [] }, null, 2)}\n` : `Nothing to log out of: the credential store at ${store.root} holds no logins.\n`);
    return 1;
  }
  const results: LogoutResult[] = [];
  for (const t of targets) {
    const result = await logoutOne(store.server(t.key), t.server?.url ?? null, opts.allowHttp, deps);
    results.push(result);
    if (!opts.json) deps.out(formatLogout(result));
  }
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
  const warn = (text: string) => {
    warnings.push(text);
    deps.log.warn(text);
  };
  const revocation = await revokeTokens(taken, label, { fetch: deps.fetch, allowHttp, warn });
  return { url: taken.url, key: server.key, revocation, deleted: true, warnings };
}

/** RFC 7009 revocation of the refresh token, then the access token. Never throws. */
async function revokeTokens(t: Taken, label: string, deps: { fetch: FetchFn; allowHttp: boolean; warn(text: string): void }): Promise<RevocationOutcome> {
  if (!t.tokens) return 'no-tokens';
  const meta = t.discovery?.authorization_server_metadata;
  if (meta?.revocation_endpoint === undefined) return 'unsupported';
  const issuer = typeof meta.issuer === 'string' ? meta.issuer : undefined;
  let endpoint: string;
  try {
    // MCP 2025-11-25 authorization, communication security: authorization server endpoints MUST be https.
    endpoint = assertSafeEndpoint(meta.revocation_endpoint, 'revocation_endpoint', deps.allowHttp);
  } catch (err) {
    deps.warn(`did not revoke the tokens of ${label}: ${describeError(err)}; the local credentials are deleted anyway`);
    return 'skipped';
  }
  // A token goes only to the authorization server that issued it (MCP 2025-11-25 authorization,
  // token audience binding); cached metadata of another issuer must not receive it.
  for (const [what, other] of [['tokens', t.tokens.issuer], ['client', t.client?.issuer]] as const) {
    if (other !== undefined && issuer !== undefined && other !== issuer) {
      deps.warn(`did not revoke the tokens of ${label}: the ${what} came from ${other} but the cached revocation endpoint belongs to ${issuer}; the local credentials are deleted anyway`);
      return 'skipped';
    }
  }
  if (!t.client) {
    deps.warn(`did not revoke the tokens of ${label}: no client registration is stored to authenticate with; the local credentials are deleted anyway`);
    return 'skipped';
  }
  // RFC 7009 §2.1: the client authenticates as it does at the token endpoint.
  const supported = stringList(meta.revocation_endpoint_auth_methods_supported) ?? stringList(meta.token_endpoint_auth_methods_supported) ?? [];
  const method = selectClientAuthMethod(clientInformation(t.client), supported);
  let outcome: RevocationOutcome = 'revoked';
  for (const [hint, token] of [['refresh_token', t.tokens.refresh_token], ['access_token', t.tokens.access_token]] as const) {
    if (token === undefined) continue;
    const result = await postRevocation(endpoint, token, hint, t.client, method, deps.fetch);
    // RFC 7009 §2.2.1: a server that cannot revoke access tokens says unsupported_token_type.
    if (result.ok || (hint === 'access_token' && result.error === 'unsupported_token_type')) continue;
    outcome = 'failed';
    deps.warn(`could not revoke the ${hint.replace('_', ' ')} of ${label} at ${endpoint}: ${result.detail}; the local credentials are deleted anyway, and the token stays valid there until it expires`);
  }
  return outcome;
}

type PostResult = { ok: true } | { ok: false; error?: string; detail: string };

async function postRevocation(endpoint: string, token: string, hint: 'refresh_token' | 'access_token', client: StoredClient, method: string, fetch: FetchFn): Promise<PostResult> {
  const { headers, body } = revocationRequest(token, hint, client, method);
  let res: Response;
  try {
    // No redirects: the token must not be carried to another address.
    res = await fetch(endpoint, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(REVOCATION_TIMEOUT_MS) });
  } catch (err) {
    return { ok: false, detail: `the request failed (${describeError(err)})` };
  }
  // RFC 7009 §2.2: 200 means revoked (or already invalid).
  if (res.ok) {
    await res.body?.cancel().catch(() => undefined);
    return { ok: true };
  }
  const error = oauthErrorCode(await res.json().catch(() => undefined));
  return error === undefined ? { ok: false, detail: `HTTP ${res.status}` } : { ok: false, error, detail: `HTTP ${res.status} ("${error}")` };
}

interface AccountArgs {
  serverUrl?: string;
  resource?: string;
  clientId?: string;
  json: boolean;
  all?: boolean;
  allowHttp?: boolean;
}

function selectionOptions<T>(y: Argv<T>) {
  return y
    .positional('server-url', { type: 'string', describe: 'Server URL as given to the relay (or a key shown by `mcp-relay status`)' })
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

function selection(a: AccountArgs): Selection {
  return { target: a.serverUrl, resource: a.resource, clientId: a.clientId };
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
        process.exitCode = await runStatus(selection(a), a.json, liveDeps(env));
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
        process.exitCode = await runLogout(selection(a), { all: a.all === true, json: a.json, allowHttp: a.allowHttp === true }, liveDeps(env));
      },
    );
}
