/**
 * The pure half of `mcp-relay status` and `logout`: what they show, as functions of what the
 * store holds and of what auth/revocation.ts reported.
 * Every field is copied by name: no file is ever spread into the output, so a secret
 * (access/refresh token, client secret, PKCE verifier, state) can never reach it.
 */
import type { RevocationOutcome, RevocationReport } from '../auth/revocation.js';
import { isDpopBound } from '../auth/dpop.js';
import { canonicalUrl } from '../store/paths.js';
import type { ListedServer, PendingLogin, StoredClient, StoredDiscovery, StoredTokens } from '../store/store.js';

/** Below this, a duration is shown in seconds ("45 s"). */
const SHOW_SECONDS_BELOW_S = 90;
/** Below this, in minutes ("12 min"). */
const SHOW_MINUTES_BELOW_MIN = 90;
/** Below this, in hours ("5 h"); above, in days. */
const SHOW_HOURS_BELOW_H = 48;
/** A difference smaller than this is "now" rather than "in 0 s". */
const NOW_WITHIN_MS = 1_000;

/** A duration for people: "45 s", "12 min", "5 h", "3 d". */
export function durationText(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < SHOW_SECONDS_BELOW_S) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < SHOW_MINUTES_BELOW_MIN) return `${min} min`;
  const h = Math.round(min / 60);
  if (h < SHOW_HOURS_BELOW_H) return `${h} h`;
  return `${Math.round(h / 24)} d`;
}

/** A point in time relative to `now`: "in 12 min", "3 h ago", "now". */
export function relativeText(at: number, now: number): string {
  const diff = at - now;
  if (Math.abs(diff) < NOW_WITHIN_MS) return 'now';
  return diff > 0 ? `in ${durationText(diff)}` : `${durationText(diff)} ago`;
}

/** An expiry relative to `now`: "expires in 12 min", "expired 3 h ago". */
export function expiryText(at: number, now: number): string {
  return at > now ? `expires in ${durationText(at - now)}` : `expired ${durationText(now - at)} ago`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Everything the store holds for one server, as read from its files (secrets included). */
export interface StoredEntry extends ListedServer {
  client?: StoredClient | undefined;
  tokens?: StoredTokens | undefined;
  discovery?: StoredDiscovery | undefined;
  pending?: PendingLogin | undefined;
  /** Where the secrets of the tokens are: the OS keychain or the 0600 file (ServerStore.tokensBackend). */
  tokensBackend?: 'keychain' | 'file' | undefined;
  /** Why the tokens could not be read (their keychain is not usable here); they are then absent above. */
  tokensUnreadable?: string | undefined;
}

/** One server in `status --json`. Times are ISO 8601 (UTC); no field ever holds a secret. */
export interface ServerStatus {
  /** The server URL from server.json; null when that file is missing or unreadable. */
  url: string | null;
  /** The directory name under `<store>/servers/` (identifies the server in `logout <key>`). */
  key: string;
  resource: string | null;
  created_at: string | null;
  last_used_at: string | null;
  client: { client_id: string; kind: StoredClient['kind']; token_endpoint_auth_method: string | null; registered_at: string } | null;
  /** null when no tokens are stored (not logged in). */
  tokens: {
    expires_at: string | null;
    /** Seconds until the access token expires (negative once expired); null when the server gave no lifetime. */
    expires_in_seconds: number | null;
    expired: boolean;
    /** Whether a refresh token is stored (never its value). */
    refresh_token: boolean;
    scope: string | null;
    obtained_at: string;
    /** The grant that obtained the tokens; null when the store did not record it (older logins). */
    grant: NonNullable<StoredTokens['grant']> | null;
    /** Whether the tokens are DPoP-bound (RFC 9449) to a key in the store (never the key). */
    dpop_bound: boolean;
  } | null;
  /** Where the login's secrets are kept (--credential-store): the OS keychain or the 0600 files; null without a login. */
  secrets_in: 'keychain' | 'file' | null;
  /** Set when the login's secrets could not be read here (their keychain is not usable): why. `tokens` is then null. */
  secrets_unreadable: string | null;
  /** The authorization server (issuer) of the tokens, the client or the cached metadata. */
  issuer: string | null;
  /** Whether the authorization server advertises an RFC 7009 revocation endpoint. */
  revocation_supported: boolean;
  /** An interactive login in progress (pending.json), without its state or verifier. */
  pending_login: { started_at: string; pid: number; running: boolean; expires_at: string; expired: boolean } | null;
}

/** Pure: stored files → the secret-free status of one server. `running(pid)` says whether a process is alive. */
export function toServerStatus(e: StoredEntry, now: number, running: (pid: number) => boolean): ServerStatus {
  const meta = e.discovery?.authorization_server_metadata;
  const metaIssuer = typeof meta?.issuer === 'string' ? meta.issuer : undefined;
  return {
    url: e.server?.url ?? null,
    key: e.key,
    resource: e.server?.resource ?? e.tokens?.resource ?? null,
    created_at: e.server ? iso(e.server.created_at) : null,
    last_used_at: e.server ? iso(e.server.last_used_at) : null,
    client: e.client
      ? {
          client_id: e.client.client_id,
          kind: e.client.kind,
          token_endpoint_auth_method: e.client.token_endpoint_auth_method ?? null,
          registered_at: iso(e.client.registered_at),
        }
      : null,
    tokens: e.tokens
      ? {
          expires_at: e.tokens.expires_at !== undefined ? iso(e.tokens.expires_at) : null,
          expires_in_seconds: e.tokens.expires_at !== undefined ? Math.round((e.tokens.expires_at - now) / 1000) : null,
          expired: e.tokens.expires_at !== undefined && e.tokens.expires_at <= now,
          refresh_token: e.tokens.refresh_token !== undefined,
          scope: e.tokens.scope ?? null,
          obtained_at: iso(e.tokens.obtained_at),
          grant: e.tokens.grant ?? null,
          dpop_bound: isDpopBound(e.tokens),
        }
      : null,
    secrets_in: e.tokensBackend ?? null,
    secrets_unreadable: e.tokensUnreadable ?? null,
    issuer: e.tokens?.issuer ?? e.client?.issuer ?? metaIssuer ?? null,
    revocation_supported: typeof meta?.revocation_endpoint === 'string',
    pending_login: e.pending
      ? {
          started_at: iso(e.pending.created_at),
          pid: e.pending.pid,
          running: running(e.pending.pid),
          expires_at: iso(e.pending.expires_at),
          expired: e.pending.expires_at <= now,
        }
      : null,
  };
}

const CLIENT_KIND_TEXT: Record<StoredClient['kind'], string> = {
  dynamic: 'dynamic registration',
  static: 'pre-registered, from the command line',
  'metadata-document': 'client ID metadata document',
};

const GRANT_TEXT: Record<NonNullable<StoredTokens['grant']>, string> = {
  authorization_code: 'authorization code (browser login)',
  client_credentials: 'client credentials (machine-to-machine, no user)',
  device_code: 'device code (login on another device)',
  workload_identity: 'workload identity (jwt-bearer with the platform token, no user)',
  enterprise_managed: 'enterprise-managed (ID-JAG from the identity provider)',
};

/** A label for a server in messages: its URL, or its key when server.json is gone. */
export function serverLabel(s: { url: string | null; key: string }): string {
  return s.url ?? `server ${s.key} (URL unknown)`;
}

function row(name: string, value: string): string {
  return `  ${name.padEnd(15)}${value}\n`;
}

/**
 * Pure: the human-readable `status` text. `storeUsed`: the store has held servers before (its
 * servers directory exists), so an empty list means the logins were removed, not "nothing yet".
 */
export function formatStatus(root: string, servers: readonly ServerStatus[], now: number, storeUsed = false): string {
  if (servers.length === 0) {
    return storeUsed
      ? `Nothing is logged in: the credential store at ${root} holds no logins (they were removed by a logout, or deleted). A relay logs in again when its server asks.\n`
      : `Nothing is stored yet: no logins in the credential store at ${root}.\n`;
  }
  let out = `Credential store: ${root} (${servers.length} ${servers.length === 1 ? 'server' : 'servers'})\n`;
  for (const s of servers) {
    out += `\n${s.url ?? '(unknown)'}\n`;
    out += row('key', s.key);
    if (s.resource && s.resource !== s.url) out += row('resource', s.resource);
    out += row('client', s.client ? `${s.client.client_id} (${CLIENT_KIND_TEXT[s.client.kind]})` : 'none registered yet');
    const t = s.tokens;
    if (!t) {
      out += row('access token', s.secrets_unreadable ? `kept in the OS keychain, not readable here: ${s.secrets_unreadable}` : 'none (not logged in)');
    } else {
      out += row(
        'access token',
        t.expires_at
          ? `${expiryText(Date.parse(t.expires_at), now)} (${t.expires_at})`
          : `no expiry given (obtained ${relativeText(Date.parse(t.obtained_at), now)})`,
      );
      out += row('grant', t.grant ? GRANT_TEXT[t.grant] : 'not recorded (an interactive login)');
      if (t.dpop_bound) out += row('binding', "DPoP-bound (RFC 9449): only this store's key can use the tokens");
      out += row('refresh token', t.refresh_token ? 'yes' : 'no');
      out += row('scope', t.scope ?? '(none recorded)');
    }
    if (s.secrets_in) out += row('secrets in', s.secrets_in === 'keychain' ? 'the OS keychain (service "mcp-relay")' : 'the 0600 files of the store');
    if (s.issuer) out += row('issuer', s.issuer);
    if (s.last_used_at) out += row('last used', `${relativeText(Date.parse(s.last_used_at), now)} (${s.last_used_at})`);
    const p = s.pending_login;
    if (p) {
      const who = `pid ${p.pid}, ${p.running ? 'running' : 'no longer running'}`;
      out += row(
        'login',
        `in progress, started ${relativeText(Date.parse(p.started_at), now)} (${p.started_at}; ${who}; ${expiryText(Date.parse(p.expires_at), now)})`,
      );
    }
  }
  return out;
}

export type { RevocationOutcome } from '../auth/revocation.js';

/** One server in `logout --json`. */
export interface LogoutResult {
  url: string | null;
  key: string;
  revocation: RevocationOutcome;
  /** Whether the local files are gone. */
  deleted: boolean;
  /** Warnings also written to stderr (no secrets). */
  warnings: string[];
  /** Why the local files could not be deleted. */
  error?: string;
}

const REVOCATION_TEXT: Record<RevocationOutcome, string> = {
  revoked: 'tokens revoked at the authorization server',
  failed: 'revoking the tokens at the authorization server failed (see the warning)',
  skipped: 'tokens not revoked at the authorization server (see the warning)',
  unsupported: 'the authorization server offers no token revocation, so the tokens stay valid there until they expire',
  'no-tokens': 'no tokens were stored',
};

/** Pure: the human-readable line for one server after `logout`. */
export function formatLogout(r: LogoutResult): string {
  if (!r.deleted) return `Could not log out of ${serverLabel(r)}: ${r.error ?? 'unknown error'}\n`;
  return `Logged out of ${serverLabel(r)}: ${REVOCATION_TEXT[r.revocation]}, local credentials deleted\n`;
}

/**
 * Pure: the warnings for one server's revocation report (no secrets: the report holds none).
 * Every one says that the local credentials are deleted anyway.
 */
export function revocationWarnings(r: RevocationReport, label: string): string[] {
  const anyway = 'the local credentials are deleted anyway';
  switch (r.outcome) {
    case 'skipped':
      if (r.reason === 'issuer-mismatch')
        return [
          `did not revoke the tokens of ${label}: the ${r.what} came from ${r.from} but the cached revocation endpoint belongs to ${r.endpointIssuer}; ${anyway}`,
        ];
      if (r.reason === 'no-client') return [`did not revoke the tokens of ${label}: no client registration is stored to authenticate with; ${anyway}`];
      return [`did not revoke the tokens of ${label}: ${r.detail}; ${anyway}`];
    case 'revoked':
    case 'failed':
      return r.failures.map(
        (f) =>
          `could not revoke the ${f.hint.replace('_', ' ')} of ${label} at ${r.endpoint}: ${f.detail}; ${anyway}, and the token stays valid there until it expires`,
      );
    default:
      return [];
  }
}

/** Whether a stored server URL is the same server as an already canonical URL. */
export function sameUrl(stored: string | undefined, canonical: string | undefined): boolean {
  if (stored === undefined || canonical === undefined) return false;
  try {
    return canonicalUrl(stored) === canonical;
  } catch {
    return false;
  }
}

/** The message for a server with nothing stored; `others` are the same URL under other identity options. */
export function nothingStored(target: string, root: string, others: readonly { key: string }[]): string {
  const hint = others.length
    ? ` It is stored under another --client-id or --resource (key ${others.map((o) => o.key).join(', ')}): pass the same options, or the key instead of the URL.`
    : '';
  return `mcp-relay: nothing is stored for ${target} in ${root}.${hint} Run \`mcp-relay status\` to see what is stored.\n`;
}

const EXIT_CODES = `Exit codes:
  0  done
  1  nothing to do (nothing stored for that server), or a failure
  2  bad command-line input`;

export const STATUS_EPILOGUE = `Lists each server in the credential store (set MCP_RELAY_HOME to use another store): URL, key, OAuth client, access token expiry, the grant that obtained it (browser login, client credentials, device code, workload identity or enterprise IdP), whether it is DPoP-bound, whether a refresh token is stored, scope, issuer, where the secrets are kept (OS keychain or files), last use and any login in progress. Never prints a token, client secret, state or PKCE verifier. An empty store is not an error (exit 0).

${EXIT_CODES}`;

export const LOGOUT_EPILOGUE = `Revokes the stored tokens at the authorization server when it offers RFC 7009 revocation, then deletes the server's local files. A failed revocation is a warning: the local files are deleted anyway (exit 0). Safe while relays run: they log in again when they next need a token. Give the same --resource / --client-id the relay was started with, or the key shown by \`mcp-relay status\`.

${EXIT_CODES}`;
