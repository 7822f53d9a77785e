import type { Argv } from 'yargs';
import { type Config, type DpopMode, DPOP_MODES, type TransportChoice } from '../config/config.js';
import { CLIENT_KEY_ALGS } from '../auth/client-key.js';

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
