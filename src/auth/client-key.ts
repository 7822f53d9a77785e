/**
 * Parsing and checking the private key for private_key_jwt client authentication (RFC 7523).
 * Kept apart from the token request code so option parsing loads only node:crypto.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { ClientKey } from '../config/config.js';
import { RelayError } from '../errors.js';

/** RFC 7518 §3.3: RSA keys for RS/PS algorithms MUST be 2048 bits or larger. */
const MIN_RSA_BITS = 2048;

/** What a JWS algorithm needs of the key (RFC 7518 §3.1, RFC 8037 §3.1). */
const KEY_FOR_ALG: Record<string, { types: string[]; curve?: string; text: string }> = {
  RS256: { types: ['rsa'], text: 'an RSA key' },
  RS384: { types: ['rsa'], text: 'an RSA key' },
  RS512: { types: ['rsa'], text: 'an RSA key' },
  PS256: { types: ['rsa', 'rsa-pss'], text: 'an RSA key' },
  PS384: { types: ['rsa', 'rsa-pss'], text: 'an RSA key' },
  PS512: { types: ['rsa', 'rsa-pss'], text: 'an RSA key' },
  ES256: { types: ['ec'], curve: 'prime256v1', text: 'an EC key on P-256' },
  ES384: { types: ['ec'], curve: 'secp384r1', text: 'an EC key on P-384' },
  ES512: { types: ['ec'], curve: 'secp521r1', text: 'an EC key on P-521' },
  EdDSA: { types: ['ed25519', 'ed448'], text: 'an Ed25519 or Ed448 key' },
};
export const CLIENT_KEY_ALGS = Object.keys(KEY_FOR_ALG);

/** The algorithm a key is used with when --client-key-alg is not given. */
function defaultAlg(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'rsa-pss') return 'PS256';
  if (type === 'ed25519' || type === 'ed448') return 'EdDSA';
  if (type === 'ec') return Object.keys(KEY_FOR_ALG).find((alg) => KEY_FOR_ALG[alg]!.curve === key.asymmetricKeyDetails?.namedCurve);
  return undefined;
}

/**
 * Parse a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) for `private_key_jwt` and check it
 * fits the algorithm. Without `alg`, the key decides: RS256 for RSA, ES256/384/512 by curve,
 * EdDSA for Ed25519. Throws BAD_CONFIG naming the flag; never echoes the key.
 */
export function parseClientKey(pem: string, opts: { alg?: string | undefined; keyId?: string | undefined; source: string }): ClientKey {
  const what = `--client-key-file ${opts.source}`;
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new RelayError(
      'BAD_CONFIG',
      `${what} is encrypted; give an unencrypted key (e.g. \`openssl pkey -in key.pem -out plain.pem\`) and protect the file with its permissions`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new RelayError('BAD_CONFIG', `${what} does not hold a PEM private key ("-----BEGIN PRIVATE KEY-----", RSA or EC)`);
  }
  if (opts.alg !== undefined && /^HS/.test(opts.alg)) {
    throw new RelayError(
      'BAD_CONFIG',
      `--client-key-alg ${opts.alg} is a shared-secret algorithm (client_secret_jwt), which the relay does not support; use --client-secret, or an RSA/EC key`,
    );
  }
  if (opts.alg !== undefined && !KEY_FOR_ALG[opts.alg]) {
    throw new RelayError('BAD_CONFIG', `--client-key-alg must be one of ${CLIENT_KEY_ALGS.join(', ')} (got ${JSON.stringify(opts.alg)})`);
  }
  const alg = opts.alg ?? defaultAlg(key);
  const need = alg === undefined ? undefined : KEY_FOR_ALG[alg];
  if (alg === undefined || !need) {
    throw new RelayError(
      'BAD_CONFIG',
      `${what}: a ${key.asymmetricKeyType ?? 'unknown'} key cannot sign client assertions; use an RSA, EC (P-256/384/521) or Ed25519 key`,
    );
  }
  const type = key.asymmetricKeyType ?? '';
  if (!need.types.includes(type) || (need.curve !== undefined && key.asymmetricKeyDetails?.namedCurve !== need.curve)) {
    throw new RelayError(
      'BAD_CONFIG',
      `--client-key-alg ${alg} needs ${need.text}, but ${what} holds a ${type}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''} key`,
    );
  }
  if (type.startsWith('rsa') && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new RelayError('BAD_CONFIG', `${what}: RSA keys must have at least ${MIN_RSA_BITS} bits (RFC 7518 §3.3)`);
  }
  if (opts.keyId !== undefined && opts.keyId.trim() === '') throw new RelayError('BAD_CONFIG', '--client-key-id is empty');
  return { key, alg, keyId: opts.keyId, source: opts.source };
}
