/**
 * In-memory authorization codes, access tokens and refresh tokens of the demo authorization
 * server. Every code or device authorization starts a token *family*; replaying a used code or
 * a rotated refresh token revokes the whole family, as real authorization servers do
 * (OAuth 2.1 §4.1.3 for codes, §4.3.1 / RFC 9700 §4.14.2 for refresh tokens).
 */
import { randomToken } from './http.js';

/** OAuth 2.1 §4.1.2 recommends a short code lifetime (10 minutes at most). */
export const CODE_TTL_MS = 60_000;

export interface CodeRecord {
  clientId: string;
  /** The redirect URI the code was sent to. */
  redirectUri: string;
  /** Whether the authorization request carried redirect_uri (then the token request MUST repeat it). */
  redirectUriSent: boolean;
  codeChallenge: string;
  resource: string;
  scope: string[];
  expiresAt: number;
  used: boolean;
  familyId: string;
}

export interface TokenRecord {
  familyId: string;
  clientId: string;
  scope: string[];
  resource: string;
  /** Epoch ms; refresh tokens never expire here. */
  expiresAt: number;
  revoked: boolean;
  /** Refresh tokens only: replaced by a newer one (presenting it again is a replay). */
  rotated: boolean;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

export type CodeResult = { kind: 'ok'; code: CodeRecord } | { kind: 'invalid'; reason: string };
export type RefreshResult = { kind: 'ok'; token: TokenRecord } | { kind: 'invalid'; reason: string };

export interface GrantStoreDeps {
  now: () => number;
  accessTokenTtlSec: number;
  rotateRefreshTokens: boolean;
}

export class GrantStore {
  private readonly codes = new Map<string, CodeRecord>();
  private readonly access = new Map<string, TokenRecord>();
  private readonly refresh = new Map<string, TokenRecord>();
  private readonly revokedFamilies = new Set<string>();

  constructor(private readonly deps: GrantStoreDeps) {}

  newFamilyId(): string {
    return randomToken(12);
  }

  issueCode(fields: Omit<CodeRecord, 'used' | 'expiresAt' | 'familyId'>): string {
    const code = randomToken();
    this.codes.set(code, { ...fields, used: false, expiresAt: this.deps.now() + CODE_TTL_MS, familyId: this.newFamilyId() });
    return code;
  }

  /**
   * Redeem a code once. A second use is refused and revokes every token issued from the first
   * (OAuth 2.1 §4.1.3: the AS SHOULD revoke tokens previously issued based on that code).
   */
  takeCode(code: string, clientId: string): CodeResult {
    const rec = this.codes.get(code);
    if (!rec) return { kind: 'invalid', reason: 'unknown authorization code' };
    if (rec.clientId !== clientId) return { kind: 'invalid', reason: 'authorization code was issued to another client' };
    if (rec.used) {
      this.revokeFamily(rec.familyId);
      return { kind: 'invalid', reason: 'authorization code already used; tokens issued from it are revoked' };
    }
    rec.used = true;
    if (rec.expiresAt <= this.deps.now()) return { kind: 'invalid', reason: 'authorization code expired' };
    return { kind: 'ok', code: rec };
  }

  /** Issue an access token (and a refresh token when asked) in a family. */
  issue(family: { familyId: string; clientId: string; resource: string; scope: string[] }, withRefresh: boolean): TokenResponse {
    const now = this.deps.now();
    const base = { ...family, scope: [...family.scope], revoked: false, rotated: false };
    const accessToken = randomToken();
    this.access.set(accessToken, { ...base, expiresAt: now + this.deps.accessTokenTtlSec * 1000 });
    const out: TokenResponse = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: this.deps.accessTokenTtlSec,
      scope: family.scope.join(' '),
    };
    if (withRefresh) {
      const refreshToken = randomToken();
      this.refresh.set(refreshToken, { ...base, expiresAt: Number.POSITIVE_INFINITY });
      out.refresh_token = refreshToken;
    }
    return out;
  }

  /**
   * Check a presented refresh token. A rotated one is a replay: the family is revoked so that
   * neither the thief nor the client keeps access (OAuth 2.1 §4.3.1).
   */
  checkRefresh(token: string, clientId: string): RefreshResult {
    const rec = this.refresh.get(token);
    if (!rec) return { kind: 'invalid', reason: 'unknown refresh token' };
    if (rec.clientId !== clientId) return { kind: 'invalid', reason: 'refresh token was issued to another client' };
    if (rec.revoked || this.revokedFamilies.has(rec.familyId)) return { kind: 'invalid', reason: 'refresh token revoked' };
    if (rec.rotated) {
      this.revokeFamily(rec.familyId);
      return { kind: 'invalid', reason: 'refresh token already used (rotated); the token family is revoked' };
    }
    return { kind: 'ok', token: rec };
  }

  /** Answer a refresh: rotate (new refresh token, old one dead) or hand back the same one. */
  redeemRefresh(token: string, rec: TokenRecord, scope: string[]): TokenResponse {
    const family = { familyId: rec.familyId, clientId: rec.clientId, resource: rec.resource, scope };
    if (this.deps.rotateRefreshTokens) {
      rec.rotated = true;
      const out = this.issue(family, true);
      // The new refresh token keeps the family's full grant even when this access token is narrower.
      const fresh = this.refresh.get(out.refresh_token!);
      if (fresh) fresh.scope = [...rec.scope];
      return out;
    }
    return { ...this.issue(family, false), refresh_token: token };
  }

  /** A valid (known, unexpired, unrevoked) access token, or why it is not. */
  checkAccess(token: string): { kind: 'ok'; token: TokenRecord } | { kind: 'invalid'; reason: string } {
    const rec = this.access.get(token);
    if (!rec) return { kind: 'invalid', reason: 'unknown access token' };
    if (rec.revoked || this.revokedFamilies.has(rec.familyId)) return { kind: 'invalid', reason: 'access token revoked' };
    if (rec.expiresAt <= this.deps.now()) return { kind: 'invalid', reason: 'access token expired' };
    return { kind: 'ok', token: rec };
  }

  revokeFamily(familyId: string): void {
    this.revokedFamilies.add(familyId);
  }

  /**
   * RFC 7009 §2.1: revoke a token of this client. Revoking a refresh token also revokes the
   * access tokens of the same grant. Unknown tokens and other clients' tokens are ignored.
   */
  revokeToken(token: string, clientId: string): boolean {
    const refresh = this.refresh.get(token);
    if (refresh && refresh.clientId === clientId) {
      this.revokeFamily(refresh.familyId);
      return true;
    }
    const access = this.access.get(token);
    if (access && access.clientId === clientId) {
      access.revoked = true;
      return true;
    }
    return false;
  }

  revokeAll(): void {
    for (const rec of [...this.access.values(), ...this.refresh.values()]) rec.revoked = true;
  }

  expireAccessTokens(): void {
    const past = this.deps.now() - 1;
    for (const rec of this.access.values()) rec.expiresAt = Math.min(rec.expiresAt, past);
  }
}
