/**
 * The options the proxy and `login` share, and the pure step from parsed argv to Config.
 */
import type { Argv } from 'yargs';
import { parseClientInfo, parseHeaders, parseServerUrl, readValue, type Config, type TransportChoice } from '../config.js';
import { RelayError } from '../errors.js';

/** Default for --auth-timeout: long enough to find a password manager and approve. */
export const DEFAULT_AUTH_TIMEOUT_S = 300;
/** Default for --timeout: silence tolerated on one request's answer stream. */
export const DEFAULT_REQUEST_TIMEOUT_S = 600;

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
    .option('allow-http', { type: 'boolean', default: false, describe: 'Allow plain http:// to non-local hosts (tokens travel unencrypted)', group: 'Connection:' })
    .option('timeout', {
      type: 'number',
      default: DEFAULT_REQUEST_TIMEOUT_S,
      describe: 'Seconds a request may wait without any sign of life from the server before it is answered with an error (0 = never)',
      group: 'Connection:',
    })
    .option('client-id', { type: 'string', describe: 'Pre-registered OAuth client id (skips registration)', group: 'OAuth:' })
    .option('client-secret', { type: 'string', describe: 'Client secret for --client-id; @file or env:NAME keeps it out of `ps`', group: 'OAuth:' })
    .option('client-info', { type: 'string', describe: 'Static client as JSON or @file.json ({"client_id": ..., "client_secret": ...})', group: 'OAuth:' })
    .option('client-metadata-url', { type: 'string', describe: 'HTTPS URL of a Client ID Metadata Document to use as client_id when the server supports it', group: 'OAuth:' })
    .option('resource', { type: 'string', describe: 'RFC 8707 resource to request (default: the server URL)', group: 'OAuth:' })
    .option('omit-resource', { type: 'boolean', default: false, describe: 'Do not send the resource parameter (for authorization servers that reject it)', group: 'OAuth:' })
    .option('scope', { type: 'string', describe: 'Scopes to request (space separated); default: what the server advertises', group: 'OAuth:' })
    .option('callback-port', { type: 'number', describe: 'Port for the OAuth redirect listener (default: a stable port per server, another if busy)', group: 'OAuth:' })
    .option('callback-host', { type: 'string', default: '127.0.0.1', describe: 'Loopback host for the OAuth redirect listener', group: 'OAuth:' })
    .option('auth-timeout', { type: 'number', default: DEFAULT_AUTH_TIMEOUT_S, describe: 'Seconds to wait for a browser login to finish', group: 'OAuth:' })
    .option('browser', { type: 'boolean', default: true, describe: 'Open a browser for login; --no-browser prints the URL for `mcp-relay login` instead', group: 'OAuth:' })
    .option('log-level', { choices: LOG_LEVELS, default: 'info' as const, describe: 'Log level (logs go to stderr, never stdout)', group: 'Logging:' })
    .option('log-file', { type: 'string', describe: 'Also append JSON logs to this file', group: 'Logging:' })
    .option('debug', { type: 'boolean', default: false, describe: 'Shorthand for --log-level debug', group: 'Logging:' });
}

export interface ConnectionArgs {
  serverUrl?: string;
  'server-url'?: string;
  header: string[];
  transport: TransportChoice;
  allowHttp: boolean;
  timeout: number;
  clientId?: string;
  clientSecret?: string;
  clientInfo?: string;
  clientMetadataUrl?: string;
  resource?: string;
  omitResource: boolean;
  scope?: string;
  callbackPort?: number;
  callbackHost: string;
  authTimeout: number;
  browser: boolean;
  logLevel: Config['logLevel'];
  logFile?: string;
  debug: boolean;
}

function nonNegative(n: number, flag: string): number {
  if (!Number.isFinite(n) || n < 0) throw new RelayError('BAD_CONFIG', `${flag} must be a number of seconds >= 0 (got ${n})`);
  return n;
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
  if (args.resource !== undefined) parseServerUrl(args.resource, true);
  return {
    serverUrl,
    headers: parseHeaders(args.header ?? [], env),
    transport: args.transport,
    allowHttp: args.allowHttp,
    requestTimeoutMs: nonNegative(args.timeout, '--timeout') * 1000,
    logLevel: args.debug ? 'debug' : args.logLevel,
    logFile: args.logFile,
    auth: {
      clientId: args.clientId !== undefined ? readValue(args.clientId, env, '--client-id') : undefined,
      clientSecret: args.clientSecret !== undefined ? readValue(args.clientSecret, env, '--client-secret') : undefined,
      clientInfo: args.clientInfo !== undefined ? parseClientInfo(args.clientInfo, env) : undefined,
      clientMetadataUrl: args.clientMetadataUrl,
      resource: args.resource,
      omitResource: args.omitResource,
      scope: args.scope,
      callbackPort: args.callbackPort,
      callbackHost: args.callbackHost,
      authTimeoutMs: nonNegative(args.authTimeout, '--auth-timeout') * 1000,
      noBrowser: !args.browser,
    },
  };
}
