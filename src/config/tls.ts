/**
 * Client certificates and extra trusted CAs for company networks (mutual TLS gateways, private
 * certificate authorities): `--tls-cert` + `--tls-key` (PEM, with `--tls-key-passphrase`), or
 * `--tls-pfx` (PKCS#12), and `--tls-ca` (added to Node's trust store, like NODE_EXTRA_CA_CERTS).
 * Checked at start: a missing file, a key that does not match its certificate, or a wrong
 * passphrase is a BAD_CONFIG error naming the flag, never the passphrase.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import { RelayError } from '../errors.js';
import { readValue } from './config.js';

/** What the HTTP clients need: Node's TLS options for a client. */
export interface TlsClientOptions {
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  pfx?: Buffer | undefined;
  passphrase?: string | undefined;
  /** Node's root certificates plus the --tls-ca ones (undefined: Node's store as it is). */
  ca?: Array<string | Buffer> | undefined;
}

export interface TlsArgs {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsKeyPassphrase?: string | undefined;
  tlsPfx?: string | undefined;
  tlsCa?: string | undefined;
}

function readPemFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new RelayError('BAD_CONFIG', `${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

/** Parse and check the TLS flags (undefined when none is given). */
export function tlsOptions(args: TlsArgs, env: NodeJS.ProcessEnv): TlsClientOptions | undefined {
  const { tlsCert, tlsKey, tlsPfx, tlsCa, tlsKeyPassphrase } = args;
  if (!tlsCert && !tlsKey && !tlsPfx && !tlsCa) {
    if (tlsKeyPassphrase !== undefined) throw new RelayError('BAD_CONFIG', '--tls-key-passphrase needs --tls-key or --tls-pfx');
    return undefined;
  }
  if (tlsPfx && (tlsCert || tlsKey)) throw new RelayError('BAD_CONFIG', '--tls-pfx replaces --tls-cert and --tls-key: give one or the other');
  if (!!tlsCert !== !!tlsKey)
    throw new RelayError('BAD_CONFIG', tlsCert ? '--tls-cert needs --tls-key (the private key of that certificate)' : '--tls-key needs --tls-cert');
  const out: TlsClientOptions = {};
  if (tlsKeyPassphrase !== undefined) out.passphrase = readValue(tlsKeyPassphrase, env, '--tls-key-passphrase');
  if (tlsCert && tlsKey) {
    out.cert = readPemFile(tlsCert, '--tls-cert');
    out.key = readPemFile(tlsKey, '--tls-key');
  }
  if (tlsPfx) out.pfx = readPemFile(tlsPfx, '--tls-pfx');
  if (tlsCa) out.ca = [...rootCertificates, readPemFile(tlsCa, '--tls-ca')];
  check(out, tlsPfx ? '--tls-pfx' : '--tls-cert/--tls-key');
  return out;
}

/** Let Node's TLS stack load it now, so a mismatch or a wrong passphrase fails at start, not mid-request. */
function check(o: TlsClientOptions, flags: string): void {
  try {
    createSecureContext({ cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase, ca: o.ca });
  } catch (err) {
    // Decided by OpenSSL's error code; a PKCS#12 file with the wrong passphrase fails with none.
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ERR_OSSL_BAD_DECRYPT'
        ? 'the key is encrypted and the passphrase is wrong or missing (--tls-key-passphrase)'
        : code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
          ? 'the key does not belong to the certificate'
          : code === 'ERR_OSSL_PEM_NO_START_LINE'
            ? 'not a PEM file'
            : o.pfx && code === undefined
              ? 'the passphrase is wrong or missing (--tls-key-passphrase), or the file is not PKCS#12'
              : `not usable (${code ?? 'unknown TLS error'})`;
    throw new RelayError('BAD_CONFIG', `${flags}: ${why}`, { cause: err });
  }
}
