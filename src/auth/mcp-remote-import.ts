/**
 * Logins made with mcp-remote, taken over so that switching costs no new login.
 *
 * mcp-remote keeps its credentials under `$MCP_REMOTE_CONFIG_DIR` or `~/.mcp-auth`, in one folder
 * per layout: `mcp-remote-v1` since 0.15, `mcp-remote-<version>` before. Each server's files are
 * named `<hash>_<file>`, the hash being the MD5 hex of the server URL as given on its command line,
 * joined with `|` to `--resource` when one was given (and to headers and other options, which this
 * does not try to reproduce). `<hash>_client_info.json` is the client registration (RFC 7591
 * response), `<hash>_tokens.json` the token response plus `expires_at` (ms; older versions wrote
 * only `expires_in`, taken here from the file's time).
 *
 * Read-only: nothing here writes, renames or deletes a file of mcp-remote's.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { writeJsonFileAtomic } from '../store/files.js';
import type { ServerStore, StoredClient, StoredTokens } from '../store/store.js';

/** The folder mcp-remote 0.15 writes; older versions wrote `mcp-remote-<version>`. */
const CURRENT_LAYOUT = 'mcp-remote-v1';
const LAYOUT_PREFIX = 'mcp-remote-';
const CLIENT_FILE = 'client_info.json';
const TOKENS_FILE = 'tokens.json';
const MS_PER_S = 1000;
/** Fingerprints kept in the record of automatic imports (oldest dropped first). */
const MAX_RECORDED_IMPORTS = 1000;

/** In mcp-relay's store root: fingerprints of the mcp-remote logins already imported by a relay. */
export const MCP_REMOTE_IMPORTS_FILE = 'mcp-remote-imports.json';

/** A login found in mcp-remote's store, converted to mcp-relay's files. */
export interface FoundLogin {
  /** The folder it came from (for the report; no secret). */
  dir: string;
  hash: string;
  /** Absent when the relay has a static client of its own (--client-id / --client-info). */
  client?: StoredClient | undefined;
  tokens: StoredTokens;
}

/** Where mcp-remote keeps its store: `MCP_REMOTE_CONFIG_DIR`, else `~/.mcp-auth`. */
export function mcpRemoteRoot(env: NodeJS.ProcessEnv): string {
  return env.MCP_REMOTE_CONFIG_DIR || join(env.HOME || homedir(), '.mcp-auth');
}

/**
 * mcp-remote's file-name hashes this server may be stored under: the URL as the user may have
 * typed it (mcp-relay canonicalises `https://host` to `https://host/`), with the resource if any.
 */
export function mcpRemoteHashes(serverUrl: string, resource?: string): string[] {
  const urls = new Set([serverUrl]);
  if (serverUrl.endsWith('/')) urls.add(serverUrl.slice(0, -1));
  return [...urls].map((u) =>
    createHash('md5')
      .update(resource ? `${u}|${resource}` : u)
      .digest('hex'),
  );
}

/** Newest layout first: `mcp-remote-v1`, then the per-version folders from the highest version down. */
async function layoutDirs(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name.startsWith(LAYOUT_PREFIX)).map((e) => e.name);
  } catch {
    return [];
  }
  const old = names.filter((n) => n !== CURRENT_LAYOUT).sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  return [...(names.includes(CURRENT_LAYOUT) ? [CURRENT_LAYOUT] : []), ...old].map((n) => join(root, n));
}

async function readJson(path: string): Promise<{ value: Record<string, unknown>; mtimeMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    return { value: value as Record<string, unknown>, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function toTokens(raw: Record<string, unknown>, mtimeMs: number): StoredTokens | undefined {
  const access = str(raw.access_token);
  if (!access) return undefined;
  const expiresAt = typeof raw.expires_at === 'number' ? raw.expires_at : typeof raw.expires_in === 'number' ? mtimeMs + raw.expires_in * MS_PER_S : undefined;
  const t: StoredTokens = { access_token: access, token_type: str(raw.token_type) ?? 'Bearer', obtained_at: Math.floor(mtimeMs), grant: 'authorization_code' };
  const refresh = str(raw.refresh_token);
  if (refresh) t.refresh_token = refresh;
  const scope = str(raw.scope);
  if (scope) t.scope = scope;
  if (expiresAt !== undefined && Number.isFinite(expiresAt)) t.expires_at = Math.floor(expiresAt);
  const issuer = str(raw.issuer);
  if (issuer) t.issuer = issuer;
  return t;
}

function toClient(raw: Record<string, unknown>, mtimeMs: number): StoredClient | undefined {
  const id = str(raw.client_id);
  if (!id) return undefined;
  const redirects = Array.isArray(raw.redirect_uris) ? raw.redirect_uris.filter((u): u is string => typeof u === 'string') : [];
  const issuedAt = typeof raw.client_id_issued_at === 'number' ? raw.client_id_issued_at * MS_PER_S : mtimeMs;
  // Registration response fields are kept as received (RFC 7591 §3.2.1), as for our own registrations.
  return { ...raw, client_id: id, redirect_uris: redirects, kind: 'dynamic', registered_at: Math.floor(issuedAt) };
}

/**
 * The newest usable login for this server in mcp-remote's store: tokens, and the client they were
 * issued to unless `staticClient` (then the client is the relay's own and only tokens are taken).
 */
export async function findMcpRemoteLogin(
  root: string,
  serverUrl: string,
  opts: { resource?: string | undefined; staticClient: boolean },
): Promise<FoundLogin | undefined> {
  const hashes = mcpRemoteHashes(serverUrl, opts.resource);
  for (const dir of await layoutDirs(root)) {
    for (const hash of hashes) {
      const tokensFile = await readJson(join(dir, `${hash}_${TOKENS_FILE}`));
      const tokens = tokensFile && toTokens(tokensFile.value, tokensFile.mtimeMs);
      if (!tokens) continue;
      if (opts.staticClient) return { dir, hash, tokens };
      const clientFile = await readJson(join(dir, `${hash}_${CLIENT_FILE}`));
      const client = clientFile && toClient(clientFile.value, clientFile.mtimeMs);
      // Tokens without the client they were issued to cannot be refreshed: not a login to take.
      if (client) return { dir, hash, client, tokens };
    }
  }
  return undefined;
}

/**
 * Copy a found login into this server's store, unless it already has one (re-checked under the
 * store lock, so relays starting together import once). Returns whether it was written.
 */
export async function importLogin(server: ServerStore, found: FoundLogin): Promise<boolean> {
  return server.withLock(async () => {
    if ((await server.readTokens()) || (found.client && (await server.readClient()))) return false;
    if (found.client) await server.writeClient(found.client);
    await server.writeTokens(found.tokens);
    return true;
  });
}

/** What an import took, for a log line or the `import` command: never a secret. */
export function describeImport(found: FoundLogin, now: number): string {
  const t = found.tokens;
  const parts = [
    found.client ? `client ${found.client.client_id}` : undefined,
    'access token',
    t.refresh_token ? 'refresh token' : undefined,
    t.expires_at !== undefined
      ? t.expires_at > now
        ? `expiring in ${Math.round((t.expires_at - now) / MS_PER_S)} s`
        : 'expired (will be refreshed)'
      : undefined,
  ].filter(Boolean);
  return `${parts.join(', ')} from ${join(found.dir, `${found.hash}_*`)}`;
}

/**
 * A login's fingerprint in the record of automatic imports: a SHA-256 prefix of its refresh (else
 * access) token, which identifies it without being usable as one.
 */
function fingerprint(t: StoredTokens): string {
  return createHash('sha256')
    .update(t.refresh_token ?? t.access_token)
    .digest('hex')
    .slice(0, 32);
}

async function importedBefore(file: string): Promise<string[]> {
  try {
    const v: unknown = JSON.parse(await readFile(file, 'utf8'));
    const list = (v as { imported?: unknown } | null)?.imported;
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Record that this login was imported, so a relay does not import it again after a logout. */
export async function noteImported(recordFile: string, tokens: StoredTokens): Promise<void> {
  const done = await importedBefore(recordFile);
  const id = fingerprint(tokens);
  if (!done.includes(id)) await writeJsonFileAtomic(recordFile, { imported: [...done, id].slice(-MAX_RECORDED_IMPORTS) });
}

/**
 * At start, for a server with no login in mcp-relay's store: take mcp-remote's, if it has one.
 * Each mcp-remote login is taken once (recorded in `recordFile`): after `mcp-relay logout` the
 * same login must not come back by itself. Best effort: any failure is logged and the relay goes
 * on to a normal login.
 */
export async function importOnFirstContact(
  server: ServerStore,
  opts: { env: NodeJS.ProcessEnv; serverUrl: string; resource?: string | undefined; staticClient: boolean; recordFile: string; log: Logger; now?: number },
): Promise<void> {
  try {
    if (await server.readTokens()) return;
    const found = await findMcpRemoteLogin(mcpRemoteRoot(opts.env), opts.serverUrl, opts);
    if (!found) return;
    const done = await importedBefore(opts.recordFile);
    const id = fingerprint(found.tokens);
    if (done.includes(id)) {
      opts.log.debug('mcp-remote has a login for this server that was imported before (and since logged out of); not importing it again');
      return;
    }
    if (!(await importLogin(server, found))) return;
    await noteImported(opts.recordFile, found.tokens);
    opts.log.info(`imported the login mcp-remote had for this server: ${describeImport(found, opts.now ?? Date.now())}`);
  } catch (err) {
    opts.log.warn(`could not import mcp-remote's login: ${describeError(err)}`);
  }
}
