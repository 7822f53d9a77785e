/**
 * The relay's one error class. Code decides by `code` (never by message text); the edges
 * (stdio → JSON-RPC error, CLI → exit code) map codes to what the user sees.
 * Messages name the cause and the next step, and never contain a secret.
 */
export type RelayErrorCode =
  | 'BAD_CONFIG' // CLI input or config file is wrong: exit 2
  | 'REMOTE_UNAVAILABLE' // could not reach the server (DNS, refused, reset, TLS)
  | 'REMOTE_TIMEOUT' // the server did not answer in time
  | 'REMOTE_HTTP' // the server answered with an unexpected HTTP status
  | 'REMOTE_PROTOCOL' // the server's answer was not valid MCP over HTTP
  | 'REMOTE_TOO_LARGE' // an answer over the per-message or in-flight memory bound (http/bounded.ts)
  | 'SESSION_EXPIRED' // 404 for a known session
  /** The server keeps refusing (401/403) credentials the relay just obtained: the user must log in
   *  again. Meant for the remote's 401/403 retry loop; no token endpoint failure raises it. */
  | 'AUTH_REQUIRED'
  /** The token endpoint refused the refresh token or the client (invalid_grant & co, RFC 6749 §5.2):
   *  the stored tokens are dropped and a login follows. */
  | 'AUTH_GRANT_DEAD'
  /** The token endpoint failed for a passing reason (5xx, temporarily_unavailable, reset, timeout)
   *  and retries did not help (src/auth/retry.ts); the stored login is kept. */
  | 'AUTH_SERVER_UNAVAILABLE'
  | 'AUTH_FAILED' // the login or a token request could not be completed (refused, malformed answer)
  | 'AUTH_TIMEOUT' // the user did not finish the login in time
  | 'HEADERS_COMMAND' // --headers-command failed or printed no usable headers
  | 'DISCOVERY_FAILED' // protected-resource / authorization-server metadata unusable
  | 'UNSAFE_URL' // a URL from metadata or config that must not be used
  | 'STORE_IO' // the credential store could not be read or written
  | 'KEYCHAIN_UNAVAILABLE' // --credential-store keychain (or a login kept there) but no usable OS keychain here
  | 'LOCK_TIMEOUT' // the store lock could not be taken in time
  | 'SHUTTING_DOWN'; // the relay is closing

export class RelayError extends Error {
  override readonly name = 'RelayError';
  readonly code: RelayErrorCode;
  /** HTTP status when the error came from an HTTP answer. */
  readonly status: number | undefined;

  constructor(code: RelayErrorCode, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }
}

export function isRelayError(err: unknown, code?: RelayErrorCode): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code);
}

/** A one-line description of any thrown value, for logs and JSON-RPC error messages. */
export function describeError(err: unknown): string {
  const issues = (err as { issues?: unknown } | undefined)?.issues;
  if (Array.isArray(issues) && issues.length) {
    // A schema validation error (zod, from the SDK's metadata parsers): name the fields, not a JSON dump.
    return issues
      .slice(0, 3)
      .map((i: { path?: unknown[]; message?: string }) => `${i.path?.length ? `"${i.path.join('.')}": ` : ''}${i.message ?? 'invalid'}`)
      .join('; ');
  }
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const causeCode = cause && typeof cause === 'object' && 'code' in cause ? String((cause as { code: unknown }).code) : '';
    return causeCode && !err.message.includes(causeCode) ? `${err.message} (${causeCode})` : err.message;
  }
  return String(err);
}
