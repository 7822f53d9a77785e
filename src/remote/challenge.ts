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
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse every challenge in a WWW-Authenticate value. Tolerant: junk yields fewer params, never a throw. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipWs();
    while (i < n && header[i] === ',') {
      i++;
      skipWs();
    }
    const scheme = token();
    if (!scheme) {
      i++;
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    skipWs();
    // auth-params: name=value pairs separated by commas, until the next scheme token (a token not followed by '=').
    while (i < n) {
      skipWs();
      const save = i;
      const name = token();
      skipWs();
      if (!name || header[i] !== '=') {
        i = save;
        // token68 (e.g. Basic's blob) or the start of the next challenge
        if (name && header[i] !== ',') break;
        if (!name && header[i] === ',') {
          i++;
          continue;
        }
        if (name) break;
        i++;
        continue;
      }
      i++; // '='
      skipWs();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        const start = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(start, i);
      }
      challenge.params[name.toLowerCase()] = value;
      skipWs();
      if (header[i] === ',') i++;
    }
  }
  return out;
}

/** The Bearer challenge's parameters from a response's WWW-Authenticate header(s). */
export function bearerChallenge(headers: Headers): BearerChallenge {
  const raw = headers.get('www-authenticate');
  if (!raw) return {};
  const bearer = parseChallenges(raw).find((c) => c.scheme === 'bearer');
  if (!bearer) return {};
  const p = bearer.params;
  const out: BearerChallenge = {};
  if (p.resource_metadata) out.resourceMetadata = p.resource_metadata;
  if (p.scope) out.scope = p.scope;
  if (p.error) out.error = p.error;
  if (p.error_description) out.errorDescription = p.error_description;
  return out;
}
