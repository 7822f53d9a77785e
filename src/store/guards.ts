/**
 * The shapes of the store's files and their validators. Every file read from disk goes through
 * one of these before use; a file that fails is moved aside by `readJsonFile` (never trusted).
 * Validators throw an Error naming the first bad field (never its value: it may be a secret)
 * and return a copy holding only the known fields (plus a registration's extra fields).
 */

/** tokens.json: what the token endpoint issued, with an absolute expiry. */
export interface StoredTokens {
  access_token: string;
  token_type: string;
  refresh_token?: string;
  scope?: string;
  /** Absolute expiry, ms since the epoch (token responses carry a relative `expires_in`). */
  expires_at?: number;
  /** The authorization server that issued the tokens. */
  issuer?: string;
  /** The `resource` the tokens were requested for (RFC 8707). */
  resource?: string;
  /** When the tokens were obtained, ms since the epoch. */
  obtained_at: number;
  /** The grant that obtained them (what `status` shows); absent in stores written before it was recorded. */
  grant?: TokenGrant;
  /** OpenID Connect ID token, kept for an enterprise IdP login (the subject of the ID-JAG exchange). */
  id_token?: string;
  /**
   * SECRET. The DPoP key pair (RFC 9449) the tokens are bound to, as a private JWK: written with
   * the tokens in one atomic file under the lock, so every relay process of this server signs
   * with the key the AS bound the token to; replaced only by a new login. See TOKEN_SECRET_FIELDS.
   */
  dpop_key?: StoredDpopKey;
}

/** A DPoP key pair: the JWS `alg` it signs with and the private JWK (public members plus `d` …). */
export interface StoredDpopKey {
  alg: string;
  jwk: Record<string, string>;
}

/**
 * The fields of tokens.json that are secrets (never logged, never shown by `status`; a secret
 * backend such as the OS keychain keeps exactly these). One list, so a new secret is added once.
 */
export const TOKEN_SECRET_FIELDS = ['access_token', 'refresh_token', 'dpop_key', 'id_token'] as const satisfies ReadonlyArray<keyof StoredTokens>;

/**
 * How tokens were obtained: a browser/paste login, the device flow, or a machine login (client
 * credentials, a workload identity JWT, an enterprise IdP's ID-JAG; both of the latter are RFC
 * 7523 jwt-bearer grants).
 */
export type TokenGrant = 'authorization_code' | 'client_credentials' | 'device_code' | 'workload_identity' | 'enterprise_managed';
const TOKEN_GRANTS: ReadonlySet<string> = new Set<TokenGrant>([
  'authorization_code',
  'client_credentials',
  'device_code',
  'workload_identity',
  'enterprise_managed',
]);

/** client.json: the OAuth client the relay uses with this server's authorization server. */
export interface StoredClient {
  client_id: string;
  client_secret?: string;
  /** Seconds since the epoch, as in RFC 7591 (0 = never). */
  client_secret_expires_at?: number;
  redirect_uris: string[];
  token_endpoint_auth_method?: string;
  issuer?: string;
  /** How the client came to be: dynamic registration, given on the command line, or a client ID metadata document. */
  kind: 'dynamic' | 'static' | 'metadata-document';
  registered_at: number;
  /** Other fields of a registration response are kept as received. */
  [extra: string]: unknown;
}

/** server.json: no secrets; this is what `status` lists. */
export interface StoredServer {
  url: string;
  created_at: number;
  last_used_at: number;
  resource?: string;
  /** The transport that last worked, so the next start tries it first. */
  transport?: 'http' | 'sse';
}

/** discovery.json: protected-resource and authorization-server metadata, cached. */
export interface StoredDiscovery {
  resource_metadata?: Record<string, unknown>;
  resource_metadata_url?: string;
  authorization_server_url?: string;
  authorization_server_metadata?: Record<string, unknown>;
  fetched_at: number;
}

/** pending.json: an interactive login in progress, resumable by another process. */
export interface PendingLogin {
  state: string;
  code_verifier: string;
  redirect_uri: string;
  authorization_url: string;
  /** The process that started the login (it may have died since). */
  pid: number;
  created_at: number;
  /** After this (ms since the epoch) the login is abandoned. */
  expires_at: number;
  scope?: string;
  resource?: string;
  issuer?: string;
  /** "device": an RFC 8628 device login (no redirect; the poller owns it). Absent: browser login. */
  kind?: 'device';
  device_code?: string;
  user_code?: string;
  interval_s?: number;
}

/**
 * cache.json: the server's answers at the last successful connection (no secrets), so a host
 * can be answered while a login is in progress. Keys are MCP method names.
 */
export interface StoredCache {
  initialize?: Record<string, unknown>;
  'tools/list'?: Record<string, unknown>;
  'prompts/list'?: Record<string, unknown>;
  'resources/list'?: Record<string, unknown>;
  'resources/templates/list'?: Record<string, unknown>;
  updated_at: number;
}

/**
 * remote.json: what the server turned out to be at the last probe (no secrets), so the next start
 * can skip the era probe (src/remote/era-memory.ts). `checked_at` is when a probe or a fallback
 * last decided it; a start that merely used it does not move it.
 */
export interface StoredRemote {
  /** 'legacy': MCP 2025-11-25 or older (initialize handshake); 'modern': 2026-07-28. */
  era: 'legacy' | 'modern';
  /** The transport that worked: Streamable HTTP, or the legacy HTTP+SSE one. */
  transport: 'http' | 'sse';
  checked_at: number;
}

/** The methods whose results cache.json keeps. */
export const CACHED_METHODS = ['initialize', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list'] as const;
export type CachedMethod = (typeof CACHED_METHODS)[number];

/** layout.json at the store root. */
export interface StoreLayout {
  version: number;
}

type Obj = Record<string, unknown>;

function object(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} must be a JSON object`);
  return v as Obj;
}

function str(o: Obj, key: string, file: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new Error(`"${key}" in ${file} must be a non-empty string`);
  return v;
}

function num(o: Obj, key: string, file: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`"${key}" in ${file} must be a number`);
  return v;
}

/** Optional fields: absent or null is "not set"; anything else must have the right type. */
function optStr(o: Obj, key: string, file: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`"${key}" in ${file} must be a string`);
  return v;
}

function optNum(o: Obj, key: string, file: string): number | undefined {
  return o[key] === undefined || o[key] === null ? undefined : num(o, key, file);
}

function optObj(o: Obj, key: string, file: string): Obj | undefined {
  return o[key] === undefined || o[key] === null ? undefined : object(o[key], `"${key}" in ${file}`);
}

/** Copy only the defined entries, so optional fields stay absent rather than `undefined`. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Validate tokens.json; throws an Error naming the first bad field. */
export function parseTokens(v: unknown): StoredTokens {
  const f = 'tokens.json';
  const o = object(v, f);
  return defined<StoredTokens>({
    access_token: str(o, 'access_token', f),
    token_type: str(o, 'token_type', f),
    refresh_token: optStr(o, 'refresh_token', f),
    scope: optStr(o, 'scope', f),
    expires_at: optNum(o, 'expires_at', f),
    issuer: optStr(o, 'issuer', f),
    resource: optStr(o, 'resource', f),
    obtained_at: num(o, 'obtained_at', f),
    grant: optGrant(o, f),
    id_token: optStr(o, 'id_token', f),
    dpop_key: optDpopKey(o, f),
  });
}

/** `dpop_key`: {alg, jwk} with a string `kty` and only string members (no value is quoted back: it is a secret). */
function optDpopKey(o: Obj, file: string): StoredDpopKey | undefined {
  const k = optObj(o, 'dpop_key', file);
  if (k === undefined) return undefined;
  const what = `"dpop_key" in ${file}`;
  const jwk = object(k.jwk, `"jwk" of ${what}`);
  if (typeof jwk.kty !== 'string' || typeof jwk.d !== 'string' || Object.values(jwk).some((v) => typeof v !== 'string')) {
    throw new Error(`${what} must hold a private JWK (string members, "kty" and "d")`);
  }
  return { alg: str(k, 'alg', what), jwk: jwk as Record<string, string> };
}

function optGrant(o: Obj, file: string): TokenGrant | undefined {
  const v = optStr(o, 'grant', file);
  if (v !== undefined && !TOKEN_GRANTS.has(v)) throw new Error(`"grant" in ${file} must be one of ${[...TOKEN_GRANTS].join(', ')}`);
  return v as TokenGrant | undefined;
}

const CLIENT_KINDS: ReadonlySet<string> = new Set(['dynamic', 'static', 'metadata-document']);

/** Validate client.json (extra registration fields are kept); throws an Error naming the first bad field. */
export function parseClient(v: unknown): StoredClient {
  const f = 'client.json';
  const o = object(v, f);
  const uris = o.redirect_uris;
  if (!Array.isArray(uris) || !uris.every((u) => typeof u === 'string')) throw new Error(`"redirect_uris" in ${f} must be an array of strings`);
  const kind = o.kind;
  if (typeof kind !== 'string' || !CLIENT_KINDS.has(kind)) throw new Error(`"kind" in ${f} must be one of ${[...CLIENT_KINDS].join(', ')}`);
  return defined<StoredClient>({
    ...o,
    client_id: str(o, 'client_id', f),
    client_secret: optStr(o, 'client_secret', f),
    client_secret_expires_at: optNum(o, 'client_secret_expires_at', f),
    redirect_uris: [...(uris as string[])],
    token_endpoint_auth_method: optStr(o, 'token_endpoint_auth_method', f),
    issuer: optStr(o, 'issuer', f),
    kind: kind as StoredClient['kind'],
    registered_at: num(o, 'registered_at', f),
  });
}

/** Validate server.json; throws an Error naming the first bad field. */
export function parseServer(v: unknown): StoredServer {
  const f = 'server.json';
  const o = object(v, f);
  const transport = o.transport;
  if (transport !== undefined && transport !== null && transport !== 'http' && transport !== 'sse') {
    throw new Error(`"transport" in ${f} must be "http" or "sse"`);
  }
  return defined<StoredServer>({
    url: str(o, 'url', f),
    created_at: num(o, 'created_at', f),
    last_used_at: num(o, 'last_used_at', f),
    resource: optStr(o, 'resource', f),
    transport: transport === 'http' || transport === 'sse' ? transport : undefined,
  });
}

/** Validate discovery.json; throws an Error naming the first bad field. */
export function parseDiscovery(v: unknown): StoredDiscovery {
  const f = 'discovery.json';
  const o = object(v, f);
  return defined<StoredDiscovery>({
    resource_metadata: optObj(o, 'resource_metadata', f),
    resource_metadata_url: optStr(o, 'resource_metadata_url', f),
    authorization_server_url: optStr(o, 'authorization_server_url', f),
    authorization_server_metadata: optObj(o, 'authorization_server_metadata', f),
    fetched_at: num(o, 'fetched_at', f),
  });
}

/** Validate pending.json; throws an Error naming the first bad field. */
export function parsePending(v: unknown): PendingLogin {
  const f = 'pending.json';
  const o = object(v, f);
  const pid = num(o, 'pid', f);
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`"pid" in ${f} must be a positive integer`);
  return defined<PendingLogin>({
    state: str(o, 'state', f),
    code_verifier: str(o, 'code_verifier', f),
    redirect_uri: str(o, 'redirect_uri', f),
    authorization_url: str(o, 'authorization_url', f),
    pid,
    created_at: num(o, 'created_at', f),
    expires_at: num(o, 'expires_at', f),
    scope: optStr(o, 'scope', f),
    resource: optStr(o, 'resource', f),
    issuer: optStr(o, 'issuer', f),
    kind: o.kind === 'device' ? 'device' : undefined,
    device_code: optStr(o, 'device_code', f),
    user_code: optStr(o, 'user_code', f),
    interval_s: optNum(o, 'interval_s', f),
  });
}

/** Validate cache.json; throws an Error naming the first bad field. */
export function parseCache(v: unknown): StoredCache {
  const f = 'cache.json';
  const o = object(v, f);
  const out: StoredCache = { updated_at: num(o, 'updated_at', f) };
  for (const m of CACHED_METHODS) {
    const value = optObj(o, m, f);
    if (value) out[m] = value;
  }
  return out;
}

/** Validate remote.json; throws an Error naming the first bad field. */
export function parseRemote(v: unknown): StoredRemote {
  const f = 'remote.json';
  const o = object(v, f);
  if (o.era !== 'legacy' && o.era !== 'modern') throw new Error(`"era" in ${f} must be "legacy" or "modern"`);
  if (o.transport !== 'http' && o.transport !== 'sse') throw new Error(`"transport" in ${f} must be "http" or "sse"`);
  return { era: o.era, transport: o.transport, checked_at: num(o, 'checked_at', f) };
}

/** Validate layout.json; throws an Error naming the first bad field. */
export function parseLayout(v: unknown): StoreLayout {
  const f = 'layout.json';
  const o = object(v, f);
  const version = num(o, 'version', f);
  if (!Number.isSafeInteger(version) || version < 1) throw new Error(`"version" in ${f} must be a positive integer`);
  return { version };
}
