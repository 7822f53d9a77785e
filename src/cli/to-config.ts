/**
 * The pure step from parsed argv (options.ts) to a checked Config: every value a flag (or a
 * servers-file setting, which is the same flag camel-cased) may carry is checked here, and a
 * bad one is a BAD_CONFIG RelayError naming the flag.
 */
import { isIPv4 } from 'node:net';
import { isLoopbackHost, parseClientInfo, parseHeaders, parseSecretSource, parseServerUrl, readValue, type Config } from '../config/config.js';
import { parseClientKey } from '../auth/client-key.js';
import { RelayError } from '../errors.js';
import { tlsOptions } from '../config/tls.js';
import { splitCommand } from '../config/words.js';
import { type ConnectionArgs, DEFAULT_MAX_MESSAGE_MB, DEFAULT_MAX_TIME_S } from './options.js';

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
