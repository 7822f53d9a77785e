/**
 * Where the credential store lives and how a remote server maps to its directory.
 * Everything except {@link defaultStoreRoot} is a pure function of its arguments.
 */
import { createHash } from 'node:crypto';
import envPaths from 'env-paths';
import { RelayError } from '../errors.js';

/** Application name used for the platform config directory (`~/.config/mcp-relay` on Linux). */
export const APP_NAME = 'mcp-relay';

/** Environment variable that moves the whole store (tests, several accounts, read-only homes). */
export const STORE_HOME_ENV = 'MCP_RELAY_HOME';

/** Hex characters of the SHA-256 digest kept for a server directory name (128 bits). */
export const SERVER_KEY_HEX_LENGTH = 32;

/** What a valid server key looks like; anything else is refused before it becomes a path. */
export const SERVER_KEY_PATTERN = /^[0-9a-f]{32}$/;

/**
 * The store root: `$MCP_RELAY_HOME` when set (and not empty), otherwise the platform config
 * directory from env-paths without its `-nodejs` suffix (`~/.config/mcp-relay`,
 * `~/Library/Preferences/mcp-relay`, `%APPDATA%\mcp-relay\Config`).
 * env-paths reads the home directory when it is called; pass `env` to stay independent of it.
 */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[STORE_HOME_ENV];
  if (override !== undefined && override !== '') return override;
  return envPaths(APP_NAME, { suffix: '' }).config;
}

/** The parts of a server's identity: a different value of any of them is a different login. */
export interface ServerIdentity {
  /** The remote MCP endpoint, as configured. */
  serverUrl: string;
  /** An explicit OAuth `resource` (RFC 8707) when it differs from what discovery would find. */
  resource?: string | undefined;
  /** A pre-registered (static) client id; dynamic registrations do not change the key. */
  clientId?: string | undefined;
}

/**
 * Canonical form of an http(s) URL for identity purposes, via the WHATWG URL parser:
 * scheme and host lower-cased (host IDNA-encoded), the scheme's default port dropped,
 * the fragment dropped, path (including a trailing slash or its absence) and query kept as
 * given. An empty path becomes `/` (WHATWG does this for http and https).
 *
 * @throws RelayError `BAD_CONFIG` when `url` is not an absolute URL.
 */
export function canonicalUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new RelayError('BAD_CONFIG', `server URL must be an absolute URL such as https://mcp.example.com/mcp (got ${JSON.stringify(url)})`, { cause });
  }
  parsed.hash = '';
  return parsed.href;
}

/**
 * The directory name for one server in the store: the first {@link SERVER_KEY_HEX_LENGTH}
 * lower-case hex characters of the SHA-256 of the UTF-8 JSON text
 *
 * ```
 * {"url":"<canonical server URL>","resource":"<canonical resource>","clientId":"<client id>"}
 * ```
 *
 * with the keys in exactly that order, no whitespace, and `resource` / `clientId` left out
 * entirely when they are not set (undefined or empty). Both URLs are canonicalised by
 * {@link canonicalUrl} (lower-case scheme and host, default port and fragment dropped,
 * path and query kept as given). So `HTTPS://MCP.Example.com:443/mcp#x` and
 * `https://mcp.example.com/mcp` share a key, while `.../mcp` and `.../mcp/` do not, and
 * adding a resource or a static client id gives a separate set of credentials.
 *
 * @throws RelayError `BAD_CONFIG` when the server URL or the resource is not an absolute URL.
 */
export function serverKey(identity: ServerIdentity): string {
  const fields: { url: string; resource?: string; clientId?: string } = { url: canonicalUrl(identity.serverUrl) };
  if (identity.resource) fields.resource = canonicalUrl(identity.resource);
  if (identity.clientId) fields.clientId = identity.clientId;
  return createHash('sha256').update(JSON.stringify(fields), 'utf8').digest('hex').slice(0, SERVER_KEY_HEX_LENGTH);
}
