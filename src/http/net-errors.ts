/**
 * Turn what fetch throws into a RelayError a user can act on. Decided by errno / error code
 * (never by message text), after get-port's approach of an explicit code list.
 */
import { RelayError } from '../errors.js';

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

/** TLS alerts a server sends when it wants a client certificate, or refuses the one it got (mutual TLS). */
const CLIENT_CERT_ALERTS = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
]);

function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * errno / undici codes of a connection that broke or stalled (worth one more try), as opposed
 * to one that could not be made at all (DNS, refused, TLS: trying again at once will not help).
 */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Whether a thrown fetch error is a connection reset or a timeout (by code or error name, never by message). */
export function isTransientNetworkError(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    if ((e as { name?: unknown }).name === 'TimeoutError') return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Map a thrown fetch/stream error for `url` to a RelayError (REMOTE_UNAVAILABLE or REMOTE_TIMEOUT). */
export function networkError(err: unknown, url: URL | string, what = 'the MCP server'): RelayError {
  if (err instanceof RelayError) return err;
  const host = typeof url === 'string' ? url : url.host;
  const code = causeCode(err);
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new RelayError('REMOTE_TIMEOUT', `${what} at ${host} did not answer in time`, { cause: err });
  }
  if (code && CLIENT_CERT_ALERTS.has(code)) {
    return new RelayError(
      'REMOTE_UNAVAILABLE',
      `${what} at ${host} refused the TLS connection (${code}): it wants a client certificate it trusts; give one with --tls-cert and --tls-key (or --tls-pfx)`,
      { cause: err },
    );
  }
  if (code && TLS_CODES.has(code)) {
    return new RelayError(
      'REMOTE_UNAVAILABLE',
      `TLS error talking to ${what} at ${host} (${code}). If your network uses its own certificate authority, set NODE_EXTRA_CA_CERTS=/path/to/ca.pem`,
      { cause: err },
    );
  }
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new RelayError('REMOTE_UNAVAILABLE', `cannot resolve ${host} (${code}): check the URL and your network/DNS`, { cause: err });
    case 'ECONNREFUSED':
      return new RelayError(
        'REMOTE_UNAVAILABLE',
        `${what} at ${host} refused the connection (ECONNREFUSED): is it running? The relay retries on the next request`,
        { cause: err },
      );
    case 'ECONNRESET':
    case 'ECONNABORTED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      // Over TLS 1.3 a gateway that refuses a client certificate may cut the connection before its
      // alert is read: say so as a possibility, since the code alone cannot tell.
      return new RelayError(
        'REMOTE_UNAVAILABLE',
        `connection to ${what} at ${host} was reset (${code})${typeof url !== 'string' && url.protocol === 'https:' ? '; if it requires a client certificate, check --tls-cert and --tls-key' : ''}`,
        { cause: err },
      );
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new RelayError('REMOTE_TIMEOUT', `connecting to ${what} at ${host} timed out (${code})`, { cause: err });
    default:
      return new RelayError(
        'REMOTE_UNAVAILABLE',
        `cannot reach ${what} at ${host}${code ? ` (${code})` : ''}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
  }
}
