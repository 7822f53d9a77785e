/**
 * DPoP (RFC 9449; the MCP DPoP extension, SEP-1932) in one place: whether a login is bound, the
 * key pair, the proofs, and the nonces servers hand out.
 *
 * - One key pair per login (ES256 unless the server advertises only others), generated at the
 *   login and stored with the tokens (store/guards.ts `dpop_key`, a secret), so every relay
 *   process of a server signs with the key the token is bound to; a refresh keeps it.
 * - A proof is a fresh JWT per HTTP request, retries included (RFC 9449 §4.2, §11.1): `typ`
 *   dpop+jwt, the public `jwk`, `jti`, `htm`, `htu` without query and fragment, `iat`, plus `ath`
 *   when it goes with an access token (§7.1) and `nonce` when the server asked for one (§8, §9).
 * - jose is imported on first use only: a relay with Bearer tokens never loads it.
 * - No request-body digest claim: SEP-1932 (the MCP DPoP profile) dropped the content digest of
 *   its earlier draft and adopts RFC 9449 unchanged, so servers expect none; the extension's
 *   replay defence is a short `iat` window and server nonces, both followed here.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DpopMode } from '../config/config.js';
import { RelayError } from '../errors.js';
import type { DpopProofRequest } from './hook.js';
import type { StoredDpopKey, StoredTokens } from '../store/store.js';

/** RFC 9449 §5 / the MCP DPoP extension: ES256 unless the server advertises only other algorithms. */
export const DEFAULT_DPOP_ALG = 'ES256';
/**
 * JWS algorithms the relay can sign proofs with, in order of preference. RFC 9449 §4.2: an
 * asymmetric algorithm; never `none` and never a MAC (§4.3 has the server refuse those).
 */
export const DPOP_ALGS: readonly string[] = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'];
/** Random bytes in a `jti` (RFC 9449 §4.2 / §11.1: unique per proof; 128 bits make a repeat practically impossible). */
const JTI_BYTES = 16;
/** Longest DPoP-Nonce value remembered (a server's nonce is short; a long one is junk, not a reason to grow memory). */
const MAX_NONCE_CHARS = 1024;
/** RFC 9449 §8.1: `nonce = 1*NQCHAR`, NQCHAR = %x21 / %x23-5B / %x5D-7E. */
const NONCE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** The members of a JWK that are public (RFC 7518 §6); the proof's `jwk` header carries only these (RFC 9449 §4.2). */
const PUBLIC_JWK_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/** The algorithm for a new key: ES256 when allowed, else the first advertised one the relay can sign with. */
export function chooseDpopAlg(advertised: readonly string[] | undefined): string | undefined {
  if (!advertised || advertised.length === 0 || advertised.includes(DEFAULT_DPOP_ALG)) return DEFAULT_DPOP_ALG;
  return advertised.find((a) => DPOP_ALGS.includes(a));
}

/** The `dpop_signing_alg_values_supported` an authorization server advertises (RFC 9449 §5.1), if any. */
export function advertisedDpopAlgs(metadata: object): string[] | undefined {
  const v = (metadata as { dpop_signing_alg_values_supported?: unknown }).dpop_signing_alg_values_supported;
  return Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string' && a !== 'none') : undefined;
}

/**
 * Whether a new login is DPoP-bound: `always`, or `auto` when the authorization server advertises
 * DPoP algorithms or the MCP server challenged with the DPoP scheme (RFC 9449 §7.1).
 */
export function wantsDpop(mode: DpopMode | undefined, advertised: readonly string[] | undefined, challenged: boolean): boolean {
  if (mode === 'never') return false;
  if (mode === 'always') return true;
  return (advertised !== undefined && advertised.length > 0) || challenged;
}

/** Tokens the authorization server bound to a key (token_type DPoP, RFC 9449 §5) and the key they are bound to. */
export function isDpopBound(t: StoredTokens | undefined): t is StoredTokens & { dpop_key: StoredDpopKey } {
  return !!t?.dpop_key && t.token_type.toLowerCase() === 'dpop';
}

/** The Authorization value for the tokens: `DPoP <token>` when bound (RFC 9449 §7.1), else `Bearer <token>` (RFC 6750 §2.1). */
export function authorizationValue(t: StoredTokens): string {
  return `${isDpopBound(t) ? 'DPoP' : 'Bearer'} ${t.access_token}`;
}

/** The access token of an Authorization value of either scheme. */
export function accessTokenOf(authorization: string | undefined): string | undefined {
  return authorization?.replace(/^(?:Bearer|DPoP)\s+/i, '');
}

/** RFC 9449 §4.2: `htu` is the target URI without query and fragment. */
export function htuOf(url: string | URL): string {
  const u = new URL(url);
  u.search = '';
  u.hash = '';
  return u.href;
}

/** RFC 9449 §4.2: `ath` = base64url(SHA-256(ASCII(access token))). */
export function athOf(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/** A new key pair for `alg`, as it is stored (the private JWK). */
export async function generateDpopKey(alg: string = DEFAULT_DPOP_ALG): Promise<StoredDpopKey> {
  const jose = await import('jose');
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { alg, jwk: Object.fromEntries(Object.entries(jwk).filter(([, v]) => typeof v === 'string')) as Record<string, string> };
}

/** The public half of a stored key (what a proof's `jwk` header carries; never `d` or the RSA primes). */
export function publicJwk(key: StoredDpopKey): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of PUBLIC_JWK_MEMBERS) if (key.jwk[m] !== undefined) out[m] = key.jwk[m]!;
  return out;
}

/**
 * The nonces servers handed out, per origin (RFC 9449 §8 for the authorization server, §9 for
 * the MCP server): every later proof to that origin carries the newest one. In memory only: a
 * nonce is short-lived, and a process without it pays one retry.
 */
export class DpopNonces {
  private readonly byOrigin = new Map<string, string>();

  get(url: string | URL): string | undefined {
    return this.byOrigin.get(new URL(url).origin);
  }

  /** Remember a `DPoP-Nonce` header value from `url`'s server; a malformed one (§8.1) is ignored. Returns whether it was taken. */
  remember(url: string | URL, nonce: string | null | undefined): boolean {
    if (!nonce || nonce.length > MAX_NONCE_CHARS || !NONCE_PATTERN.test(nonce)) return false;
    this.byOrigin.set(new URL(url).origin, nonce);
    return true;
  }
}

export interface ProofRequest {
  method: string;
  url: string | URL;
  /** The access token the request carries (adds `ath`, RFC 9449 §7.1); absent at the token endpoint. */
  accessToken?: string | undefined;
  nonce?: string | undefined;
}

/** Signs proofs; keeps the imported private key of the last key it was given (one login at a time). */
export class DpopProver {
  private cached: { jwk: Record<string, string>; key: Promise<import('jose').CryptoKey | Uint8Array> } | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** A new proof JWT for one HTTP request (RFC 9449 §4.2): a fresh `jti` every call. */
  async proof(key: StoredDpopKey, r: ProofRequest): Promise<string> {
    const jose = await import('jose');
    if (this.cached?.jwk !== key.jwk) this.cached = { jwk: key.jwk, key: jose.importJWK(key.jwk, key.alg) as Promise<import('jose').CryptoKey | Uint8Array> };
    const claims: Record<string, string> = { htm: r.method.toUpperCase(), htu: htuOf(r.url) };
    if (r.accessToken !== undefined) claims.ath = athOf(r.accessToken);
    if (r.nonce !== undefined) claims.nonce = r.nonce;
    return new jose.SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: publicJwk(key) })
      .setJti(randomBytes(JTI_BYTES).toString('base64url'))
      .setIssuedAt(Math.floor(this.now() / 1000))
      .sign(await this.cached.key);
  }
}

/** What a token request needs to carry a proof (token-endpoint.ts): the key, and this process's nonces. */
export interface TokenDpop {
  readonly key: StoredDpopKey;
  /** A fresh proof for a POST to `endpoint`, with the nonce last remembered for its origin. */
  proof(endpoint: string): Promise<string>;
  /** A `DPoP-Nonce` header the endpoint answered with (RFC 9449 §8); returns whether it was taken. */
  nonce(endpoint: string, value: string | null): boolean;
}

export function tokenDpop(key: StoredDpopKey, prover: DpopProver, nonces: DpopNonces): TokenDpop {
  return {
    key,
    proof: (endpoint) => prover.proof(key, { method: 'POST', url: endpoint, nonce: nonces.get(endpoint) }),
    nonce: (endpoint, value) => nonces.remember(endpoint, value),
  };
}

/**
 * The proof for a request to the MCP server carrying `r.authorization` with tokens `t`, or
 * undefined when that is not a DPoP-bound token (then no DPoP header is sent).
 */
export function requestProof(prover: DpopProver, t: StoredTokens | undefined, r: DpopProofRequest): Promise<string | undefined> {
  if (!isDpopBound(t) || !/^DPoP\s/i.test(r.authorization)) return Promise.resolve(undefined);
  return prover.proof(t.dpop_key, { method: r.method, url: r.url, accessToken: accessTokenOf(r.authorization), nonce: r.nonce });
}

/** What decides whether a new login is bound, and how. */
export interface NewLoginDpop {
  mode: DpopMode | undefined;
  /** The authorization server metadata. */
  metadata: object;
  /** The DPoP challenge of the MCP server, when it sent one (RFC 9449 §7.1). */
  challenge: { algs?: string[] | undefined } | undefined;
  prover: DpopProver;
  nonces: DpopNonces;
}

/**
 * A new key for a new login (RFC 9449 §5), or undefined when the login is not to be bound.
 *
 * @throws RelayError `AUTH_FAILED` with --dpop always when the server allows no algorithm the relay can sign with.
 */
export async function newLoginDpop(o: NewLoginDpop): Promise<TokenDpop | undefined> {
  const advertised = advertisedDpopAlgs(o.metadata);
  if (!wantsDpop(o.mode, advertised, o.challenge !== undefined)) return undefined;
  const offered = advertised?.length ? advertised : o.challenge?.algs;
  const alg = chooseDpopAlg(offered);
  if (alg === undefined) {
    if (o.mode !== 'always') return undefined;
    throw new RelayError('AUTH_FAILED', `--dpop always: the server allows only DPoP algorithms the relay cannot sign with (${offered?.join(', ')})`);
  }
  return tokenDpop(await generateDpopKey(alg), o.prover, o.nonces);
}
