/**
 * Config: the validated shape every command runs on, and the pure parsers that build it
 * from CLI input and the environment. No I/O here except reading `@file` values.
 */
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { RelayError } from '../errors.js';
import type { TlsClientOptions } from './tls.js';

export type TransportChoice = 'auto' | 'http' | 'sse';

export interface ClientOptions {
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /** Full static client information (client_id, client_secret, ...), from `--client-info`. */
  clientInfo?: Record<string, unknown> | undefined;
  /** Client ID Metadata Document URL (`--client-metadata-url`). */
  clientMetadataUrl?: string | undefined;
  /**
   * Machine-to-machine login (`--client-credentials`): the OAuth client credentials grant
   * (RFC 6749 §4.4) with the static client above; never a browser.
   */
  clientCredentials?: boolean | undefined;
  /** private_key_jwt client authentication (RFC 7523), from `--client-key-file`. */
  clientKey?: ClientKey | undefined;
  /**
   * Workload identity (`--workload-token`): where the platform's JWT is, as given (`@file` or
   * `env:NAME`). Kept as the source, not the value: it is read again for every token request,
   * because platforms rotate the file.
   */
  workloadToken?: SecretSource | undefined;
  /** Enterprise-managed authorization (`--idp-issuer` and the other `--idp-*` flags). */
  enterprise?: EnterpriseOptions | undefined;
}

/** The company identity provider of enterprise-managed authorization (ID-JAG). */
export interface EnterpriseOptions {
  /** `--idp-issuer`: the IdP's issuer identifier. */
  idpIssuer: string;
  /** `--idp-client-id`: the relay's client at the IdP. */
  idpClientId?: string | undefined;
  /** `--idp-client-secret`, already read from its @file / env:NAME. */
  idpClientSecret?: string | undefined;
  /** `--idp-id-token`: a given ID token (CI, tests) instead of an IdP login, read again for every exchange. */
  idpIdToken?: SecretSource | undefined;
  /** `--idp-token-endpoint`: where the IdP publishes no metadata. */
  idpTokenEndpoint?: string | undefined;
}

/**
 * A credential the relay reads when it needs it: a file (`@path`, read again every time, since
 * platforms rotate it) or a value taken from the environment once (`env:NAME`).
 */
export type SecretSource = { file: string; flag: string } | { value: string; flag: string };

/** `@file` or `env:NAME` → a {@link SecretSource}; anything else is refused (a token on the command line shows in `ps`). */
export function parseSecretSource(raw: string, env: NodeJS.ProcessEnv, flag: string): SecretSource {
  if (raw.startsWith('@')) return { file: expandEnv(raw.slice(1), env, flag), flag };
  if (raw.startsWith('env:')) return { value: readValue(raw, env, flag), flag };
  throw new RelayError('BAD_CONFIG', `${flag} takes @path/to/file or env:NAME (a token given inline would show in \`ps\`)`);
}

/**
 * The current content of a {@link SecretSource}, trimmed.
 *
 * @throws RelayError `AUTH_FAILED` naming the flag and the file when it cannot be read or is empty.
 */
export function readSecretSource(src: SecretSource): string {
  let text: string;
  if ('value' in src) text = src.value.trim();
  else {
    try {
      text = readFileSync(src.file, 'utf8').trim();
    } catch (err) {
      throw new RelayError('AUTH_FAILED', `${src.flag}: cannot read ${src.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
  }
  if (text === '') throw new RelayError('AUTH_FAILED', `${src.flag}: ${'file' in src ? src.file : 'the variable'} is empty`);
  return text;
}

/** The non-interactive ("machine") logins: each replaces the browser login and the refresh alike. */
export type MachineGrantKind = 'client_credentials' | 'workload_identity' | 'enterprise_managed';

/** Which machine login the options ask for, if any (the flags make them exclusive). */
export function machineGrantKind(auth: ClientOptions): MachineGrantKind | undefined {
  if (auth.workloadToken !== undefined) return 'workload_identity';
  if (auth.enterprise !== undefined) return 'enterprise_managed';
  return auth.clientCredentials ? 'client_credentials' : undefined;
}

/** A private key the relay signs client assertions with (RFC 7523 §2.2, `private_key_jwt`). */
export interface ClientKey {
  /**
   * The parsed key. A KeyObject never serializes its material (JSON.stringify gives `{}`,
   * util.inspect shows only the key type), so a Config that reaches a log cannot leak it.
   */
  key: KeyObject;
  /** JWS algorithm (RFC 7518 §3.1), e.g. RS256 or ES256. */
  alg: string;
  /** The `kid` header naming the key among those registered for the client. */
  keyId?: string | undefined;
  /** Where the key came from (a path or env:NAME), for messages. */
  source: string;
}

export interface AuthOptions extends ClientOptions {
  /** RFC 8707 resource to request; default: the canonical server URL. */
  resource?: string | undefined;
  /** Don't send `resource` at all (for authorization servers that reject it). */
  omitResource: boolean;
  /** Scopes to request in addition to what discovery suggests. */
  scope?: string | undefined;
  callbackPort?: number | undefined;
  callbackHost: string;
  /** Path of the redirect URI (`--callback-path`); default /callback. */
  callbackPath?: string | undefined;
  authTimeoutMs: number;
  /** How long host requests wait for a login before the relay answers them itself. */
  loginWaitMs: number;
  /** Use the RFC 8628 device authorization grant (--device-code). */
  deviceCode?: boolean | undefined;
  /** Never try to open a browser: print the URL for the paste flow instead. */
  noBrowser: boolean;
  /**
   * --dpop (RFC 9449 sender-constrained tokens): `auto` (absent) binds a new login when the
   * authorization server advertises `dpop_signing_alg_values_supported` or the MCP server
   * challenges with the DPoP scheme; `always` binds every new login; `never` sends no proofs.
   */
  dpop?: DpopMode | undefined;
}

/** The --dpop choices (see AuthOptions.dpop). */
export type DpopMode = 'auto' | 'always' | 'never';
export const DPOP_MODES: readonly DpopMode[] = ['auto', 'always', 'never'];

export interface Config {
  serverUrl: URL;
  headers: Record<string, string>;
  /** --deny-tool globs: tools hidden from the host and refused without reaching the server. */
  denyTools?: string[] | undefined;
  /** --allow-tool globs: when any, only matching tools are shown (a deny still wins). */
  allowTools?: string[] | undefined;
  /** --allow-prompt / --deny-prompt globs, as for tools. */
  allowPrompts?: string[] | undefined;
  denyPrompts?: string[] | undefined;
  /** --allow-resource / --deny-resource globs on resource URIs (and template URIs). */
  allowResources?: string[] | undefined;
  denyResources?: string[] | undefined;
  transport: TransportChoice;
  allowHttp: boolean;
  auth: AuthOptions;
  /** --timeout: a request without progress (a complete message) this long is answered with an error (0 = never). */
  requestTimeoutMs: number;
  /** --ping-interval: ping an idle session this often (0 = never). */
  pingIntervalMs?: number | undefined;
  /** --max-time: the longest a request may take in all (0 = no limit). */
  maxTimeMs?: number | undefined;
  /** --max-message-mb in bytes: the largest single message accepted. */
  maxMessageBytes?: number | undefined;
  /** --headers-command (split into words) and --headers-ttl. */
  headersCommand?: { argv: string[]; ttlMs: number } | undefined;
  /** --tls-*: client certificate and extra trusted CAs (checked at start). */
  tls?: TlsClientOptions | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logFile?: string | undefined;
  /** Store root override (else MCP_RELAY_HOME, else the user config dir). */
  storeRoot?: string | undefined;
  /** --credential-store: where secrets are written (auto: the OS keychain where usable, else files). */
  credentialStore?: 'auto' | 'keychain' | 'file' | undefined;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** True for hosts that never leave this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return LOOPBACK_HOSTS.has(h) || /^127(\.\d{1,3}){3}$/.test(h) || h.endsWith('.localhost');
}

/**
 * Validate the server URL: http(s) only; https for anything that leaves the machine unless
 * `allowHttp` (MCP 2025-11-25 authorization, communication security: endpoints MUST be https,
 * loopback excepted).
 */
export function parseServerUrl(raw: string, allowHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RelayError('BAD_CONFIG', `server URL "${raw}" is not a valid URL; expected e.g. https://example.com/mcp`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RelayError('BAD_CONFIG', `server URL must be http(s), got "${url.protocol}" in ${raw}`);
  }
  if (url.username || url.password) {
    throw new RelayError('BAD_CONFIG', 'server URL must not contain a username or password; use --header "Authorization: ..." instead');
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !allowHttp) {
    throw new RelayError(
      'BAD_CONFIG',
      `refusing plain http to non-local host ${url.host}: tokens would travel unencrypted. Use https, or pass --allow-http if you really mean it`,
    );
  }
  url.hash = '';
  return url;
}

/** Expand `${NAME}` from env; a missing variable is an error naming it. `$${` escapes a literal `${`. */
export function expandEnv(value: string, env: NodeJS.ProcessEnv, what: string): string {
  return value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string) => {
    if (match.startsWith('$$')) return match.slice(1);
    const v = env[name];
    if (v === undefined) {
      throw new RelayError('BAD_CONFIG', `${what} uses \${${name}} but the environment variable ${name} is not set`);
    }
    return v;
  });
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parse `--header` values: "Name: value" or "Name:value" (split at the first colon), with
 * ${ENV} expansion in the value. Header names are validated (RFC 9110 token) and folded to lower
 * case (RFC 9110 §5.1: names are case-insensitive), so a name given twice in any spelling is one
 * header, the last value winning, and the relay's own lower-case headers (content-type, accept,
 * mcp-session-id) replace a user's rather than being combined with it on the wire.
 * Values may not contain CR, LF or NUL (RFC 9110 §5.5).
 */
export function parseHeaders(raw: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const item of raw) {
    const idx = item.indexOf(':');
    if (idx <= 0) {
      throw new RelayError('BAD_CONFIG', `--header "${redactHeaderArg(item)}" must look like "Name: value"`);
    }
    const name = item.slice(0, idx).trim();
    if (!HEADER_NAME.test(name)) {
      throw new RelayError('BAD_CONFIG', `--header name ${JSON.stringify(name)} is not a valid HTTP header name`);
    }
    const value = expandEnv(item.slice(idx + 1).trim(), env, `--header ${name}`);
    if (/[\r\n\0]/.test(value)) {
      throw new RelayError('BAD_CONFIG', `--header ${name} value contains a line break`);
    }
    headers[name.toLowerCase()] = value;
  }
  return headers;
}

/** Longest prefix of a malformed `--header` argument echoed in an error. */
const HEADER_ARG_ECHO_CHARS = 20;

/**
 * What of a malformed `--header` argument an error may show: its first word only, because an
 * argument without a colon is often "Authorization Bearer <token>" and errors never hold secrets.
 */
function redactHeaderArg(item: string): string {
  const word = item.trim().split(/\s/, 1)[0] ?? '';
  const shown = word.slice(0, HEADER_ARG_ECHO_CHARS);
  return shown.length < item.trim().length ? `${shown}…` : shown;
}

/**
 * Read a secret-ish option value: `@path` reads the file (trimmed), `env:NAME` reads a variable,
 * anything else is used as given after ${ENV} expansion. Lets users keep secrets out of `ps`.
 */
export function readValue(raw: string, env: NodeJS.ProcessEnv, what: string): string {
  if (raw.startsWith('@')) {
    const path = expandEnv(raw.slice(1), env, what);
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new RelayError('BAD_CONFIG', `${what}: cannot read file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
  }
  if (raw.startsWith('env:')) {
    const name = raw.slice(4);
    const v = env[name];
    if (v === undefined) throw new RelayError('BAD_CONFIG', `${what} names env:${name} but ${name} is not set`);
    return v;
  }
  return expandEnv(raw, env, what);
}

/**
 * `--client-info @file.json`, `env:NAME` or inline JSON, with ${ENV} expansion inside top-level
 * string values. Expansion happens after parsing, never on the JSON text: a variable holding a
 * quote or backslash stays that string, and `$${NAME}` stays a literal `${NAME}`.
 */
export function parseClientInfo(raw: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const text = raw.startsWith('@') || raw.startsWith('env:') ? readValue(raw, env, '--client-info') : raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RelayError('BAD_CONFIG', '--client-info is not valid JSON (give @path/to/client.json or a JSON object)');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RelayError('BAD_CONFIG', '--client-info must be a JSON object with a string "client_id"');
  }
  const clientId = (parsed as { client_id?: unknown }).client_id;
  if (typeof clientId !== 'string' || clientId.trim() === '') {
    throw new RelayError('BAD_CONFIG', '--client-info must be a JSON object with a string "client_id"');
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) {
    out[k] = typeof v === 'string' ? expandEnv(v, env, `--client-info ${k}`) : v;
  }
  return out;
}
