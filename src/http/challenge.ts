/**
 * WWW-Authenticate parsing (RFC 9110 §11.6.1, RFC 6750 §3). The SDK reads one challenge with a
 * regex; servers may send several challenges in one header (e.g. `Basic realm=x, Bearer ...`),
 * and parameter values may be quoted strings containing commas. We parse properly and keep the
 * Bearer challenge's parameters.
 */
export interface BearerChallenge {
  /** RFC 9728 §5.1: URL of the protected resource metadata. */
  resourceMetadata?: string;
  /** RFC 6750 §3: scopes the resource needs. */
  scope?: string;
  /** RFC 6750 §3.1: invalid_request | invalid_token | insufficient_scope */
  error?: string;
  errorDescription?: string;
  /**
   * The server offered the DPoP scheme (RFC 9449 §7.1): its `algs` and `error` (e.g.
   * `use_dpop_nonce`, §9). Without a Bearer challenge (`only`: the server takes no Bearer token)
   * the fields above come from this one.
   */
  dpop?: { algs?: string[]; error?: string; only?: true };
}

/** One challenge of a WWW-Authenticate value: `scheme token68` or `scheme name=value, ...`. */
export interface Challenge {
  /** Lower-cased (RFC 9110 §11.1: schemes are case-insensitive). */
  scheme: string;
  /** Lower-cased names (RFC 9110 §11.2); a prototype-less object, so any name is safe. */
  params: Record<string, string>;
  /** The opaque token68 form (e.g. `Negotiate abc==`), when the challenge has one. */
  token68?: string;
}

/** RFC 9110 §5.6.2 tchar: what a scheme or parameter name is made of. */
const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
/** RFC 9110 §11.2 token68 characters (before its trailing "=" padding). */
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

/**
 * Parse every challenge in a WWW-Authenticate value (RFC 9110 §11.6.1):
 * `#challenge`, `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`,
 * `auth-param = token BWS "=" BWS ( token / quoted-string )`.
 * Tolerant: junk yields fewer or odd challenges, never a throw. A parameter given twice in one
 * challenge keeps its first value. Unquoted values run to the next comma or whitespace, so an
 * unquoted URL (not a valid token, but sent by some servers) is read whole.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const n = header.length;
  let i = 0;
  const isWs = (c: string | undefined) => c === ' ' || c === '\t';
  const skipWs = () => {
    while (i < n && isWs(header[i])) i++;
  };
  /** Skip whitespace and the commas of empty list elements (RFC 9110 §5.6.1). */
  const skipSeparators = () => {
    while (i < n && (isWs(header[i]) || header[i] === ',')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && TCHAR.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  /** A token68 at i, i.e. its characters, "=" padding, then the end or a comma; else undefined and i unchanged. */
  const token68 = () => {
    const start = i;
    let j = i;
    while (j < n && TOKEN68_CHAR.test(header[j]!)) j++;
    if (j === start) return undefined;
    while (j < n && header[j] === '=') j++;
    const end = j;
    while (j < n && isWs(header[j])) j++;
    if (j < n && header[j] !== ',') return undefined;
    i = j;
    return header.slice(start, end);
  };
  const value = () => {
    if (header[i] !== '"') {
      const start = i;
      while (i < n && header[i] !== ',' && !isWs(header[i])) i++;
      return header.slice(start, i);
    }
    i++; // opening quote
    let v = '';
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++; // quoted-pair
      v += header[i];
      i++;
    }
    i++; // closing quote (or past the end of an unterminated string)
    return v;
  };

  while (i < n) {
    skipSeparators();
    if (i >= n) break;
    const scheme = token();
    if (!scheme) {
      i++; // not a challenge: skip the character and resynchronise
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: Object.create(null) as Record<string, string> };
    out.push(challenge);
    skipWs();
    const t68 = token68();
    if (t68 !== undefined) {
      challenge.token68 = t68;
      continue;
    }
    while (i < n) {
      skipSeparators();
      const save = i;
      const name = token();
      skipWs();
      if (!name || header[i] !== '=') {
        // Not name=value: the next challenge's scheme (or junk the outer loop skips).
        i = save;
        break;
      }
      i++; // '='
      skipWs();
      const v = value();
      const key = name.toLowerCase();
      if (!(key in challenge.params)) challenge.params[key] = v;
      skipWs();
    }
  }
  return out;
}

/** The Bearer (else DPoP) challenge's parameters from a response's WWW-Authenticate header(s). */
export function bearerChallenge(headers: { get(name: string): string | null }): BearerChallenge {
  const raw = headers.get('www-authenticate');
  if (!raw) return {};
  const challenges = parseChallenges(raw);
  const dpop = challenges.find((c) => c.scheme === 'dpop');
  const onlyDpop = !challenges.some((c) => c.scheme === 'bearer');
  const bearer = challenges.find((c) => c.scheme === 'bearer') ?? dpop;
  if (!bearer) return {};
  const p = bearer.params;
  const out: BearerChallenge = {};
  if (dpop) {
    const algs = dpop.params.algs?.split(' ').filter(Boolean);
    out.dpop = { ...(algs?.length ? { algs } : {}), ...(dpop.params.error ? { error: dpop.params.error } : {}), ...(onlyDpop ? { only: true as const } : {}) };
  }
  if (p.resource_metadata) out.resourceMetadata = p.resource_metadata;
  if (p.scope) out.scope = p.scope;
  if (p.error) out.error = p.error;
  if (p.error_description) out.errorDescription = p.error_description;
  return out;
}
