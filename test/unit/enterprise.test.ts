/**
 * The pure halves of enterprise sign-in: reading a token exchange answer (RFC 8693 §2.2) and
 * deciding whether a stored ID token is still good.
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ID_JAG_TYPE, processIdJagResponse } from '../../src/auth/enterprise.js';
import { freshIdToken } from '../../src/auth/idp-login.js';
import { REFRESH_MARGIN_MS } from '../../src/auth/tokens.js';
import { tokenProblem } from '../../src/auth/token-endpoint.js';
import { RelayError } from '../../src/errors.js';

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

async function refused(p: Promise<unknown>): Promise<RelayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RelayError);
  return err as RelayError;
}

describe('processIdJagResponse', () => {
  it('returns the ID-JAG of a token exchange answer (token_type N_A is fine)', async () => {
    expect(await processIdJagResponse(json({ access_token: 'jag', issued_token_type: ID_JAG_TYPE, token_type: 'N_A' }))).toBe('jag');
  });

  it('refuses an answer that issued another token type or no token, naming the field', async () => {
    const other = await refused(
      processIdJagResponse(json({ access_token: 'at', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer' })),
    );
    expect(other.message).toContain('"issued_token_type"');
    const none = await refused(processIdJagResponse(json({ issued_token_type: ID_JAG_TYPE })));
    expect(none.message).toContain('"access_token"');
  });

  it('an OAuth error keeps its code and status for the caller (RFC 6749 §5.2)', async () => {
    const err = await refused(processIdJagResponse(json({ error: 'invalid_grant', error_description: 'expired' }, 400)));
    expect(tokenProblem(err)).toMatchObject({ status: 400, error: 'invalid_grant' });
  });
});

describe('freshIdToken', () => {
  const NOW = 1_800_000_000_000;
  const idToken = (expMs: number) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(expMs / 1000))
      .sign(new Uint8Array(32));
  const tokens = (id_token: string | undefined) => ({ access_token: 'a', token_type: 'Bearer', obtained_at: NOW, ...(id_token ? { id_token } : {}) });

  it('a stored ID token must outlast the renewal margin; one just issued only has to be unexpired', async () => {
    const soon = await idToken(NOW + REFRESH_MARGIN_MS / 2);
    expect(freshIdToken(tokens(soon), NOW)).toBeUndefined();
    expect(freshIdToken(tokens(soon), NOW, 0)).toBe(soon);
    const later = await idToken(NOW + 2 * REFRESH_MARGIN_MS);
    expect(freshIdToken(tokens(later), NOW)).toBe(later);
  });

  it('no ID token, or one that is not a JWT, is not fresh', () => {
    expect(freshIdToken(tokens(undefined), NOW)).toBeUndefined();
    expect(freshIdToken(tokens('not-a-jwt'), NOW)).toBeUndefined();
  });
});
