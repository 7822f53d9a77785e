/**
 * The options the proxy and `login` share, and the pure step from parsed argv to Config.
 */
import { isIPv4 } from 'node:net';
import type { Argv } from 'yargs';
import {
  isLoopbackHost,
  parseClientInfo,
  parseHeaders,
  parseServerUrl,
  readValue,
  type Config,
  type DpopMode,
  DPOP_MODES,
  type TransportChoice,
} from '../config/config.js';
import { parseSecretSource } from '../config/config.js';
import { CLIENT_KEY_ALGS, parseClientKey } from '../auth/client-key.js';
import { RelayError } from '../errors.js';
import { tlsOptions } from '../config/tls.js';
import { splitCommand } from '../config/words.js';

/** Default for --auth-timeout: long enough to find a password manager and approve. */
export const DEFAULT_AUTH_TIMEOUT_S = 300;
/** Default for --timeout: how long one request may go without progress (a complete message from the server). */
export const DEFAULT_REQUEST_TIMEOUT_S = 600;
/** Default for --max-time: the longest one request may take in all, however busy the server keeps it. */
export const DEFAULT_MAX_TIME_S = 3600;
/** Default for --max-message-mb: the largest single message accepted from the server (or the host). */
export const DEFAULT_MAX_MESSAGE_MB = 256;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function connectionOptions<T>(y: Argv<T>) {
  return y
    .positional('server-url', { type: 'string', describe: 'Remote MCP server URL (Streamable HTTP or legacy SSE endpoint)', demandOption: true })
    .option('header', {
      alias: 'H',
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'Extra HTTP header "Name: value" or Name:value, repeatable; ${VAR} expands from the environment',
      group: 'Connection:',
    })
    .option('transport', {
      choices: ['auto', 'http', 'sse'] as const,
      default: 'auto' as const,
      describe: 'auto: Streamable HTTP, falling back to legacy HTTP+SSE for old servers',
      group: 'Connection:',
    })
    .option('deny-tool', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'Hide a tool from the host and refuse its calls without asking the server; a glob (* any run, ? one character), repeatable',
      group: 'Filters:',
    })
    .option('allow-tool', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'Show only the tools matching one of these globs (repeatable); --deny-tool still wins',
      group: 'Filters:',
    })
    .option('allow-prompt', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'Show only the prompts matching one of these globs (repeatable)',
      group: 'Filters:',
    })
    .option('deny-prompt', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'Hide the prompts matching this glob and refuse their gets (repeatable)',
      group: 'Filters:',
    })
    .option('allow-resource', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'Show only the resources whose URI matches one of these globs, e.g. "file:///docs/*" (repeatable)',
      group: 'Filters:',
    })
    .option('deny-resource', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'Hide the resources whose URI matches this glob and refuse their reads (repeatable)',
      group: 'Filters:',
    })
    .option('allow-http', {
      type: 'boolean',
      default: false,
      describe: 'Allow plain http:// to non-local hosts (tokens travel unencrypted)',
      group: 'Connection:',
    })
    .option('timeout', {
      type: 'number',
      default: DEFAULT_REQUEST_TIMEOUT_S,
      describe:
        'Seconds a request may go without progress (a complete message from the server; bytes alone do not count) before it is answered with an error and cancelled (0 = never)',
      group: 'Connection:',
    })
    .option('max-time', {
      type: 'number',
      default: DEFAULT_MAX_TIME_S,
      describe: 'Seconds a request may take in all, however busy the server keeps it, before it is answered with an error and cancelled (0 = no limit)',
      group: 'Connection:',
    })
    .option('ping-interval', {
      type: 'number',
      default: 0,
      describe: 'Seconds of idle link after which the relay pings the server, so a dropped session is re-established before your next request (0 = off)',
      group: 'Connection:',
    })
    .option('max-message-mb', {
      type: 'number',
      default: DEFAULT_MAX_MESSAGE_MB,
      describe: 'Largest single message (MiB) accepted from the server; a larger answer fails its request and the relay goes on',
      group: 'Connection:',
    })
    .option('headers-command', {
      type: 'string',
      describe:
        'A command (no shell) whose output is the headers to send: a JSON object, "Name: value" lines, or a bare token (Authorization: Bearer); run at start, on a 401, and after --headers-ttl. An Authorization header from it turns the OAuth login off',
      group: 'Connection:',
    })
    .option('headers-ttl', {
      type: 'number',
      describe: 'Seconds after which --headers-command runs again before the next request (default: only at start and on a 401)',
      group: 'Connection:',
    })
    .option('tls-cert', {
      type: 'string',
      describe: 'Client certificate (PEM) for servers and gateways that require mutual TLS; with --tls-key',
      group: 'TLS:',
    })
    .option('tls-key', { type: 'string', describe: 'Private key (PEM) of --tls-cert', group: 'TLS:' })
    .option('tls-key-passphrase', { type: 'string', describe: 'Passphrase of --tls-key or --tls-pfx: @file or env:NAME keeps it out of `ps`', group: 'TLS:' })
    .option('tls-pfx', { type: 'string', describe: 'Client certificate and key as one PKCS#12 file, instead of --tls-cert/--tls-key', group: 'TLS:' })
    .option('tls-ca', { type: 'string', describe: 'Extra trusted CA certificates (PEM), added to the system ones (like NODE_EXTRA_CA_CERTS)', group: 'TLS:' })
    .option('client-id', { type: 'string', describe: 'Pre-registered OAuth client id (skips registration)', group: 'OAuth:' })
    .option('client-secret', { type: 'string', describe: 'Client secret for --client-id; @file or env:NAME keeps it out of `ps`', group: 'OAuth:' })
    .option('client-info', { type: 'string', describe: 'Static client as JSON or @file.json ({"client_id": ..., "client_secret": ...})', group: 'OAuth:' })
    .option('client-credentials', {
      type: 'boolean',
      default: false,
      describe:
        'Machine-to-machine login: the OAuth client credentials grant with --client-id and --client-secret or --client-key-file; never opens a browser (CI, agents, servers)',
      group: 'OAuth:',
    })
    .option('client-key-file', {
      type: 'string',
      describe:
        'PEM private key for private_key_jwt client authentication (RFC 7523) of --client-id with --client-credentials, --workload-token or --idp-issuer; a path, or env:NAME holding the PEM',
      group: 'OAuth:',
    })
    .option('client-key-id', {
      type: 'string',
      describe: 'Key id ("kid" header) of --client-key-file as registered at the authorization server',
      group: 'OAuth:',
    })
    .option('client-key-alg', {
      choices: CLIENT_KEY_ALGS,
      describe: 'Signing algorithm for --client-key-file (default: from the key: RS256 for RSA, ES256/ES384/ES512 for EC, EdDSA for Ed25519)',
      group: 'OAuth:',
    })
    .option('workload-token', {
      type: 'string',
      describe:
        'Workload identity: the platform JWT (GitHub Actions OIDC, Kubernetes service-account token) as @file or env:NAME, presented with the jwt-bearer grant (RFC 7523); the file is read again for every token request; no browser',
      group: 'Enterprise sign-in:',
    })
    .option('idp-issuer', {
      type: 'string',
      describe: "Enterprise-managed authorization: your company IdP's issuer URL; tokens come from an ID-JAG it issues (no consent screen)",
      group: 'Enterprise sign-in:',
    })
    .option('idp-client-id', { type: 'string', describe: "The relay's client id at the IdP", group: 'Enterprise sign-in:' })
    .option('idp-client-secret', { type: 'string', describe: 'Its client secret; @file or env:NAME keeps it out of `ps`', group: 'Enterprise sign-in:' })
    .option('idp-id-token', {
      type: 'string',
      describe: 'A given ID token (@file or env:NAME; CI, tests) instead of logging in at the IdP',
      group: 'Enterprise sign-in:',
    })
    .option('idp-token-endpoint', { type: 'string', describe: 'The IdP token endpoint, where it publishes no metadata', group: 'Enterprise sign-in:' })
    .option('client-metadata-url', {
      type: 'string',
      describe: 'HTTPS URL of a Client ID Metadata Document to use as client_id when the server supports it',
      group: 'OAuth:',
    })
    .option('resource', { type: 'string', describe: 'RFC 8707 resource to request (default: the server URL)', group: 'OAuth:' })
    .option('omit-resource', {
      type: 'boolean',
      default: false,
      describe: 'Do not send the resource parameter (for authorization servers that reject it)',
      group: 'OAuth:',
    })
    .option('scope', { type: 'string', describe: 'Scopes to request (space separated); default: what the server advertises', group: 'OAuth:' })
    .option('callback-port', {
      type: 'number',
      describe: 'Port for the OAuth redirect listener (default: a stable port per server, another if busy)',
      group: 'OAuth:',
    })
    .option('callback-host', { type: 'string', default: '127.0.0.1', describe: 'Loopback host for the OAuth redirect listener', group: 'OAuth:' })
    .option('callback-path', {
      type: 'string',
      describe: 'Path of the login redirect URI (default /callback), for a client registered with another redirect URI',
      group: 'OAuth:',
    })
    .option('auth-timeout', { type: 'number', default: DEFAULT_AUTH_TIMEOUT_S, describe: 'Seconds to wait for a browser login to finish', group: 'OAuth:' })
    .option('login-wait', {
      type: 'number',
      default: 10,
      describe:
        'While you log in, host requests wait this many seconds; then the relay answers them itself (initialize and lists from the last known state, tool calls with the login URL) so the host does not time out',
      group: 'OAuth:',
    })
    .option('device-code', {
      type: 'boolean',
      default: false,
      describe:
        'Log in with the OAuth device flow (open a short URL anywhere, type a code); used automatically where no browser can open and the server supports it',
      group: 'OAuth:',
    })
    .option('dpop', {
      choices: DPOP_MODES,
      default: 'auto' as const,
      describe: 'DPoP-bound tokens (RFC 9449): auto = when the authorization server advertises DPoP or the MCP server asks for it; always; never',
      group: 'OAuth:',
    })
    .option('browser', {
      type: 'boolean',
      default: true,
      describe: 'Open a browser for login; --no-browser prints the URL for `mcp-relay login` instead',
      group: 'OAuth:',
    })
    .option('credential-store', {
      choices: ['auto', 'keychain', 'file'] as const,
      default: 'auto' as const,
      describe:
        'Where tokens and client secrets are kept: auto = the OS keychain where usable (macOS Keychain, Windows Credential Manager, a Secret Service on Linux), else 0600 files (said once in the log); keychain = the keychain or an error; file = 0600 files',
      group: 'Credentials:',
    })
    .option('log-level', { choices: LOG_LEVELS, default: 'info' as const, describe: 'Log level (logs go to stderr, never stdout)', group: 'Logging:' })
    .option('log-file', { type: 'string', describe: 'Also append JSON logs to this file', group: 'Logging:' })
    .option('debug', { type: 'boolean', default: false, describe: 'Shorthand for --log-level debug', group: 'Logging:' });
}

export interface ConnectionArgs {
  serverUrl?: string;
  'server-url'?: string;
  header: string[];
  denyTool?: string[];
  allowTool?: string[];
  allowPrompt?: string[];
  denyPrompt?: string[];
  allowResource?: string[];
  denyResource?: string[];
  transport: TransportChoice;
  allowHttp: boolean;
  timeout: number;
  maxTime?: number;
  maxMessageMb?: number;
  pingInterval?: number;
  headersCommand?: string;
  headersTtl?: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsKeyPassphrase?: string;
  tlsPfx?: string;
  tlsCa?: string;
  clientId?: string;
  clientSecret?: string;
  clientInfo?: string;
  clientMetadataUrl?: string;
  clientCredentials?: boolean;
  clientKeyFile?: string;
  clientKeyId?: string;
  clientKeyAlg?: string;
  workloadToken?: string;
  idpIssuer?: string;
  idpClientId?: string;
  idpClientSecret?: string;
  idpIdToken?: string;
  idpTokenEndpoint?: string;
  resource?: string;
  omitResource: boolean;
  scope?: string;
  callbackPort?: number;
  callbackHost: string;
  callbackPath?: string;
  authTimeout: number;
  loginWait: number;
  deviceCode?: boolean;
  dpop?: DpopMode;
  browser: boolean;
  logLevel: Config['logLevel'];
  logFile?: string;
  debug: boolean;
  credentialStore?: Config['credentialStore'];
}

/**
 * Longest timeout a Node timer honours: past 2^31-1 ms setTimeout fires at once (with a
 * TimeoutOverflowWarning), which would turn a huge timeout into an immediate one.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Seconds from a flag → milliseconds; `allowZero` for flags where 0 means "never". */
function seconds(n: number, flag: string, allowZero: boolean): number {
  const min = allowZero ? '>= 0' : '> 0';
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new RelayError('BAD_CONFIG', `${flag} must be a number of seconds ${min}${allowZero ? ' (0 = never)' : ''} (got ${n})`);
  }
  const ms = Math.ceil(n * 1000);
  if (ms > MAX_TIMER_MS) {
    throw new RelayError('BAD_CONFIG', `${flag} must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds${allowZero ? ' (0 = never)' : ''} (got ${n})`);
  }
  return ms;
}

/** Most a message may be: a JavaScript string holds at most about 512 MiB of UTF-16. */
const MAX_MESSAGE_MB = 512;

function megabytes(n: number, flag: string): number {
  if (!Number.isFinite(n) || n <= 0 || n > MAX_MESSAGE_MB) {
    throw new RelayError('BAD_CONFIG', `${flag} must be a number of MiB above 0 and at most ${MAX_MESSAGE_MB} (got ${n})`);
  }
  return Math.floor(n * 1024 * 1024);
}

/** RFC 8252 §8.3: the redirect listener is loopback only; say so at startup, not mid-login. */
function checkCallbackHost(host: string): string {
  const h = host.trim().toLowerCase();
  const bare = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  if (h === 'localhost' || bare === '::1' || (isIPv4(h) && h.startsWith('127.'))) return host;
  throw new RelayError('BAD_CONFIG', `--callback-host must be a loopback address (127.0.0.1, ::1 or localhost), got ${JSON.stringify(host)}`);
}

/** The redirect URI's path: a plain absolute path (the listener checks it again when it binds). */
function checkCallbackPath(path: string): string {
  if (!/^\/[A-Za-z0-9\-._~/]*$/.test(path) || path.startsWith('//')) {
    throw new RelayError('BAD_CONFIG', `--callback-path must be a plain absolute path like "/oauth/callback", got ${JSON.stringify(path)}`);
  }
  return path;
}

/** RFC 8707 §2: the resource is an absolute URI without a fragment. Kept as given (it is an identity). */
function checkResource(raw: string): string {
  parseServerUrl(raw, true);
  if (raw.includes('#')) throw new RelayError('BAD_CONFIG', `--resource must not contain a fragment (RFC 8707 §2), got ${raw}`);
  return raw;
}

/**
 * A Client ID Metadata Document URL is the client_id itself: https with a path and no fragment
 * (draft-ietf-oauth-client-id-metadata-document §3); http only on loopback, for local testing.
 * Kept exactly as given, since the authorization server compares it with the document's client_id.
 */
function checkClientMetadataUrl(raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  const ok =
    url !== undefined &&
    (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) &&
    !url.username &&
    !url.password &&
    !raw.includes('#') &&
    url.pathname !== '/' &&
    url.pathname !== '';
  if (!ok) {
    throw new RelayError(
      'BAD_CONFIG',
      `--client-metadata-url must be an https URL with a path and no fragment, e.g. https://app.example.com/oauth/client.json (got ${raw})`,
    );
  }
  return raw;
}

/** The static client from --client-id / --client-secret / --client-info, checked for conflicts. */
function staticClientOptions(args: ConnectionArgs, env: NodeJS.ProcessEnv): Pick<Config['auth'], 'clientId' | 'clientSecret' | 'clientInfo'> {
  const clientId = args.clientId !== undefined ? readValue(args.clientId, env, '--client-id') : undefined;
  const clientSecret = args.clientSecret !== undefined ? readValue(args.clientSecret, env, '--client-secret') : undefined;
  const clientInfo = args.clientInfo !== undefined ? parseClientInfo(args.clientInfo, env) : undefined;
  if (clientId !== undefined && clientId.trim() === '') {
    throw new RelayError('BAD_CONFIG', '--client-id is empty; give the client id your authorization server issued, or leave the flag out to register a client');
  }
  if (clientInfo) {
    // --client-info wins wherever the client is built, so anything else must agree with it or
    // fill a gap; a flag that would be silently ignored is refused instead.
    if (clientId !== undefined && clientId !== clientInfo.client_id) {
      throw new RelayError('BAD_CONFIG', '--client-id names a different client than "client_id" in --client-info; give one of them');
    }
    if (clientSecret !== undefined) {
      if (clientInfo.client_secret !== undefined && clientInfo.client_secret !== clientSecret) {
        throw new RelayError('BAD_CONFIG', '--client-secret conflicts with "client_secret" in --client-info; give one of them');
      }
      clientInfo.client_secret = clientSecret;
    }
  }
  return { clientId, clientSecret, clientInfo };
}

/**
 * --client-credentials and its key options, checked against the static client: a client id,
 * and exactly one credential (a secret, or a private key for private_key_jwt).
 */
function clientCredentialsOptions(
  args: ConnectionArgs,
  env: NodeJS.ProcessEnv,
  client: Pick<Config['auth'], 'clientId' | 'clientSecret' | 'clientInfo'>,
): Pick<Config['auth'], 'clientCredentials' | 'clientKey'> {
  if (!args.clientCredentials) {
    // Workload identity and enterprise-managed authorization authenticate the registered MCP
    // client at the token endpoint too: private_key_jwt (RFC 7523 §2.2) works there as well.
    const machine = args.workloadToken !== undefined || args.idpIssuer !== undefined;
    if (args.clientKeyFile !== undefined && machine) return { clientCredentials: false, clientKey: clientKeyOption(args, env, client, args.clientKeyFile) };
    if (args.clientKeyFile !== undefined)
      throw new RelayError(
        'BAD_CONFIG',
        '--client-key-file authenticates a pre-registered client: use it with --client-credentials, --workload-token or --idp-issuer',
      );
    if (args.clientKeyId !== undefined || args.clientKeyAlg !== undefined)
      throw new RelayError('BAD_CONFIG', '--client-key-id and --client-key-alg need --client-key-file');
    return { clientCredentials: false };
  }
  if (args.deviceCode) throw new RelayError('BAD_CONFIG', '--client-credentials and --device-code are two different logins; give one of them');
  if (args.clientMetadataUrl !== undefined)
    throw new RelayError('BAD_CONFIG', '--client-metadata-url is for interactive logins; --client-credentials needs a pre-registered --client-id');
  if (client.clientId === undefined && client.clientInfo === undefined) {
    throw new RelayError(
      'BAD_CONFIG',
      '--client-credentials needs the pre-registered client: --client-id (with --client-secret or --client-key-file) or --client-info',
    );
  }
  if ((args.clientKeyId !== undefined || args.clientKeyAlg !== undefined) && args.clientKeyFile === undefined) {
    throw new RelayError('BAD_CONFIG', '--client-key-id and --client-key-alg need --client-key-file');
  }
  const secret = client.clientSecret ?? (client.clientInfo?.client_secret as string | undefined);
  if (args.clientKeyFile === undefined) {
    if (!secret)
      throw new RelayError(
        'BAD_CONFIG',
        '--client-credentials needs a credential: --client-secret (env:NAME or @file keeps it out of `ps`) or --client-key-file',
      );
    return { clientCredentials: true };
  }
  return { clientCredentials: true, clientKey: clientKeyOption(args, env, client, args.clientKeyFile) };
}

/** --client-key-file (with --client-key-id / --client-key-alg) for the static client, which then has no secret. */
function clientKeyOption(
  args: ConnectionArgs,
  env: NodeJS.ProcessEnv,
  client: Pick<Config['auth'], 'clientId' | 'clientSecret' | 'clientInfo'>,
  raw: string,
): NonNullable<Config['auth']['clientKey']> {
  if (client.clientId === undefined && client.clientInfo === undefined)
    throw new RelayError('BAD_CONFIG', '--client-key-file needs the pre-registered client it authenticates: --client-id or --client-info');
  if (client.clientSecret ?? client.clientInfo?.client_secret) throw new RelayError('BAD_CONFIG', 'give either a client secret or --client-key-file, not both');
  // A path, or env:NAME for keys kept in CI secrets; ${VAR} expands in a path.
  const pem = readValue(raw.startsWith('env:') ? raw : `@${raw}`, env, '--client-key-file');
  const keyId = args.clientKeyId !== undefined ? readValue(args.clientKeyId, env, '--client-key-id') : undefined;
  return parseClientKey(pem, { alg: args.clientKeyAlg, keyId, source: raw });
}

/** An https URL (http on loopback or with --allow-http) for an --idp-* flag; kept as given (an issuer is an identifier). */
function checkIdpUrl(raw: string, flag: string, allowHttp: boolean): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && (allowHttp || isLoopbackHost(url.hostname)))) || raw.includes('#')) {
    throw new RelayError('BAD_CONFIG', `${flag} must be an https URL without a fragment, e.g. https://login.example.com (got ${raw})`);
  }
  return raw;
}

/**
 * --workload-token and --idp-*: the two enterprise machine logins, each exclusive of the other
 * logins; EMA needs the registered MCP client (its second leg authenticates as it).
 */
function enterpriseOptions(
  args: ConnectionArgs,
  env: NodeJS.ProcessEnv,
  client: Pick<Config['auth'], 'clientId' | 'clientSecret' | 'clientInfo'>,
): Pick<Config['auth'], 'workloadToken' | 'enterprise'> {
  const idpFlags = [args.idpClientId, args.idpClientSecret, args.idpIdToken, args.idpTokenEndpoint].some((v) => v !== undefined);
  if (idpFlags && args.idpIssuer === undefined)
    throw new RelayError('BAD_CONFIG', '--idp-client-id, --idp-client-secret, --idp-id-token and --idp-token-endpoint need --idp-issuer');
  // --device-code stays allowed where the relay signs in at the IdP (no --idp-id-token): it picks the device flow there.
  const other = (what: string, deviceAllowed = false) => {
    if (args.clientCredentials) throw new RelayError('BAD_CONFIG', `${what} and --client-credentials are two different logins; give one of them`);
    if (args.deviceCode && !deviceAllowed) throw new RelayError('BAD_CONFIG', `${what} and --device-code are two different logins; give one of them`);
    if (args.clientMetadataUrl !== undefined) throw new RelayError('BAD_CONFIG', `${what} does not use --client-metadata-url`);
  };
  if (args.workloadToken !== undefined) {
    if (args.idpIssuer !== undefined) throw new RelayError('BAD_CONFIG', '--workload-token and --idp-issuer are two different logins; give one of them');
    other('--workload-token');
    return { workloadToken: parseSecretSource(args.workloadToken, env, '--workload-token') };
  }
  if (args.idpIssuer === undefined) return {};
  other(args.idpIdToken !== undefined ? '--idp-id-token' : '--idp-issuer', args.idpIdToken === undefined);
  if (client.clientId === undefined && client.clientInfo === undefined) {
    throw new RelayError(
      'BAD_CONFIG',
      '--idp-issuer needs the client registered at the MCP authorization server: --client-id (with --client-secret or --client-key-file) or --client-info',
    );
  }
  if (args.idpClientSecret !== undefined && args.idpClientId === undefined) throw new RelayError('BAD_CONFIG', '--idp-client-secret needs --idp-client-id');
  return {
    enterprise: {
      idpIssuer: checkIdpUrl(args.idpIssuer, '--idp-issuer', args.allowHttp),
      idpClientId: args.idpClientId !== undefined ? readValue(args.idpClientId, env, '--idp-client-id') : undefined,
      idpClientSecret: args.idpClientSecret !== undefined ? readValue(args.idpClientSecret, env, '--idp-client-secret') : undefined,
      idpIdToken: args.idpIdToken !== undefined ? parseSecretSource(args.idpIdToken, env, '--idp-id-token') : undefined,
      idpTokenEndpoint: args.idpTokenEndpoint !== undefined ? checkIdpUrl(args.idpTokenEndpoint, '--idp-token-endpoint', args.allowHttp) : undefined,
    },
  };
}

/** --deny-tool globs: a tool name is never empty, so neither is a pattern. */
function denyTools(globs: readonly string[]): string[] {
  return filterGlobs(globs, '--deny-tool', 'a tool name or a glob such as "delete_*"');
}

/** Filter globs of any kind (relay/filters.ts): a name or URI is never empty, so neither is a pattern. */
function filterGlobs(globs: readonly string[], flag: string, example: string): string[] {
  for (const g of globs) if (g.trim() === '') throw new RelayError('BAD_CONFIG', `${flag} needs ${example}`);
  return [...globs];
}

/** Pure: parsed argv + environment → Config. Throws RelayError('BAD_CONFIG') naming the flag. */
export function toConfig(args: ConnectionArgs, env: NodeJS.ProcessEnv): Config {
  const rawUrl = args.serverUrl ?? args['server-url'];
  if (!rawUrl) throw new RelayError('BAD_CONFIG', 'missing the server URL, e.g. mcp-relay https://example.com/mcp');
  const serverUrl = parseServerUrl(rawUrl, args.allowHttp);
  if (args.callbackPort !== undefined && (!Number.isInteger(args.callbackPort) || args.callbackPort < 1 || args.callbackPort > 65535)) {
    throw new RelayError('BAD_CONFIG', `--callback-port must be an integer from 1 to 65535 (got ${args.callbackPort})`);
  }
  if (args.clientSecret !== undefined && args.clientId === undefined && args.clientInfo === undefined) {
    throw new RelayError('BAD_CONFIG', '--client-secret needs --client-id');
  }
  if (args.headersTtl !== undefined && args.headersCommand === undefined) throw new RelayError('BAD_CONFIG', '--headers-ttl needs --headers-command');
  const client = staticClientOptions(args, env);
  return {
    serverUrl,
    headers: parseHeaders(args.header ?? [], env),
    denyTools: denyTools(args.denyTool ?? []),
    allowTools: filterGlobs(args.allowTool ?? [], '--allow-tool', 'a tool name or a glob such as "get_*"'),
    allowPrompts: filterGlobs(args.allowPrompt ?? [], '--allow-prompt', 'a prompt name or a glob'),
    denyPrompts: filterGlobs(args.denyPrompt ?? [], '--deny-prompt', 'a prompt name or a glob'),
    allowResources: filterGlobs(args.allowResource ?? [], '--allow-resource', 'a resource URI or a glob such as "file:///docs/*"'),
    denyResources: filterGlobs(args.denyResource ?? [], '--deny-resource', 'a resource URI or a glob such as "file:///secret/*"'),
    transport: args.transport,
    allowHttp: args.allowHttp,
    requestTimeoutMs: seconds(args.timeout, '--timeout', true),
    maxTimeMs: seconds(args.maxTime ?? DEFAULT_MAX_TIME_S, '--max-time', true),
    pingIntervalMs: seconds(args.pingInterval ?? 0, '--ping-interval', true),
    maxMessageBytes: megabytes(args.maxMessageMb ?? DEFAULT_MAX_MESSAGE_MB, '--max-message-mb'),
    tls: tlsOptions(args, env),
    headersCommand:
      args.headersCommand !== undefined
        ? { argv: splitCommand(args.headersCommand, '--headers-command'), ttlMs: seconds(args.headersTtl ?? 0, '--headers-ttl', true) }
        : undefined,
    // --debug raises the level to debug; it never lowers an explicit trace.
    logLevel: args.debug && args.logLevel !== 'trace' ? 'debug' : args.logLevel,
    logFile: args.logFile,
    credentialStore: args.credentialStore ?? 'auto',
    auth: {
      ...client,
      ...clientCredentialsOptions(args, env, client),
      ...enterpriseOptions(args, env, client),
      clientMetadataUrl: args.clientMetadataUrl !== undefined ? checkClientMetadataUrl(args.clientMetadataUrl) : undefined,
      resource: args.resource !== undefined ? checkResource(args.resource) : undefined,
      omitResource: args.omitResource,
      scope: args.scope,
      callbackPort: args.callbackPort,
      callbackHost: checkCallbackHost(args.callbackHost),
      callbackPath: args.callbackPath !== undefined ? checkCallbackPath(args.callbackPath) : undefined,
      authTimeoutMs: seconds(args.authTimeout, '--auth-timeout', false),
      loginWaitMs: seconds(args.loginWait ?? 10, '--login-wait', true),
      deviceCode: args.deviceCode ?? false,
      noBrowser: !args.browser,
      dpop: args.dpop ?? 'auto',
    },
  };
}
