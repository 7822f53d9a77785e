/**
 * The pure halves of the OAuth request/process pairs: processTokenResponse (RFC 6749 §5.1/§5.2),
 * processRevocationResponse (RFC 7009 §2.2), and the retry decisions of src/auth/retry.ts
 * (allowlist, Retry-After per RFC 9110 §10.2.3), each fed a `new Response(...)`.
 * Assertions are on the error code and `cause`, not on message text.
 */
import { describe, expect, it } from 'vitest';
import { processDeviceAuthorizationResponse } from '../../src/auth/device.js';
import { processRevocationResponse } from '../../src/auth/revocation.js';
import { isTransientTokenFailure, MAX_RETRY_AFTER_MS, retryAfterMs } from '../../src/auth/retry.js';
import { processTokenResponse, tokenProblem } from '../../src/auth/token-endpoint.js';
import { RelayError } from '../../src/errors.js';

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

async function rejection(p: Promise<unknown>): Promise<RelayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RelayError);
  return err as RelayError;
}

describe('processTokenResponse', () => {
  it('returns the checked fields of a 200 answer, and nothing else', async () => {
    const t = await processTokenResponse(
      json({ access_token: 'at', token_type: 'bearer', expires_in: 60, refresh_token: 'rt', scope: 'a b', id_token: 'x', extra: 1 }),
    );
    // id_token is kept: an enterprise IdP login (idp-login.ts) needs it.
    expect(t).toEqual({ access_token: 'at', token_type: 'bearer', expires_in: 60, refresh_token: 'rt', scope: 'a b', id_token: 'x' });
    await expect(processTokenResponse(json({ access_token: 'at', token_type: 'Bearer', id_token: 7 }))).rejects.toThrow('"id_token"');
    expect(await processTokenResponse(json({ access_token: 'at', token_type: 'Bearer' }))).toEqual({ access_token: 'at', token_type: 'Bearer' });
    // Digits in a string (some servers; the SDK accepted them) are read as the number.
    expect((await processTokenResponse(json({ access_token: 'at', token_type: 'Bearer', expires_in: '3600' }))).expires_in).toBe(3600);
  });

  it.each([
    ['access_token', { token_type: 'Bearer' }, 'a non-empty string'],
    ['access_token', { access_token: 42, token_type: 'Bearer' }, 'a non-empty string'],
    ['access_token', { access_token: '', token_type: 'Bearer' }, 'a non-empty string'],
    ['token_type', { access_token: 'at' }, 'a string'],
    ['token_type', { access_token: 'at', token_type: 'mac' }, 'Bearer'],
    ['expires_in', { access_token: 'at', token_type: 'Bearer', expires_in: 'soon' }, 'a non-negative number'],
    ['expires_in', { access_token: 'at', token_type: 'Bearer', expires_in: null }, 'a non-negative number'],
    ['expires_in', { access_token: 'at', token_type: 'Bearer', expires_in: -1 }, 'a non-negative number'],
    ['refresh_token', { access_token: 'at', token_type: 'Bearer', refresh_token: 7 }, 'a non-empty string'],
    ['scope', { access_token: 'at', token_type: 'Bearer', scope: ['a'] }, 'a string'],
    ['(body)', ['not', 'an', 'object'], 'a JSON object'],
    ['(body)', 'not json at all', 'a JSON object'],
  ])('a 200 whose "%s" is wrong is AUTH_FAILED with cause { field, expected }', async (field, body, expected) => {
    const err = await rejection(processTokenResponse(json(body)));
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.status).toBe(200);
    expect(tokenProblem(err)).toMatchObject({ status: 200, field, expected });
  });

  it('an OAuth error answer carries status, error, description and the raw Retry-After', async () => {
    const err = await rejection(processTokenResponse(json({ error: 'temporarily_unavailable', error_description: 'try\nlater' }, 503, { 'retry-after': '7' })));
    expect(err.status).toBe(503);
    expect(tokenProblem(err)).toEqual({ status: 503, error: 'temporarily_unavailable', error_description: 'try later', retryAfter: '7' });
  });

  it('a body that is not an OAuth error is reported by status only (it may echo the request)', async () => {
    const err = await rejection(processTokenResponse(json('<html>refresh_token=SECRET</html>', 502)));
    expect(tokenProblem(err)).toEqual({ status: 502 });
    expect(err.message).not.toContain('SECRET');
    // An "error" that is not an RFC 6749 §5.2 code is not quoted back either.
    expect(tokenProblem(await rejection(processTokenResponse(json({ error: 'bad "quote"\n' }, 400))))).toEqual({ status: 400 });
  });
});

describe('processDeviceAuthorizationResponse (RFC 8628 §3.2)', () => {
  const ok = { device_code: 'dc', user_code: 'ABCD-EFGH', verification_uri: 'https://as.example.com/device', expires_in: 600 };

  it('returns a complete answer', async () => {
    expect(await processDeviceAuthorizationResponse(json({ ...ok, interval: 2 }))).toMatchObject({ ...ok, interval: 2 });
  });

  it.each([
    ['user_code', { ...ok, user_code: 5 }, 'a string'],
    ['expires_in', { ...ok, expires_in: undefined }, 'a positive number'],
    ['interval', { ...ok, interval: 0 }, 'a positive number'],
  ])('a 200 whose "%s" is wrong names the field', async (field, body, expected) => {
    const err = await rejection(processDeviceAuthorizationResponse(json(body)));
    expect(err.cause).toMatchObject({ status: 200, field, expected });
  });

  it('an error answer carries the OAuth error code', async () => {
    const err = await rejection(processDeviceAuthorizationResponse(json({ error: 'unauthorized_client' }, 400)));
    expect(err.cause).toMatchObject({ status: 400, error: 'unauthorized_client' });
  });
});

describe('processRevocationResponse (RFC 7009 §2.2)', () => {
  it('200 is revoked, whatever the body', async () => {
    expect(await processRevocationResponse(new Response('', { status: 200 }))).toEqual({ revoked: true });
  });

  it.each([
    [503, { error: 'temporarily_unavailable' }, 'AUTH_SERVER_UNAVAILABLE', { status: 503, error: 'temporarily_unavailable' }],
    [500, 'oops', 'AUTH_SERVER_UNAVAILABLE', { status: 500 }],
    [400, { error: 'unsupported_token_type' }, 'AUTH_FAILED', { status: 400, error: 'unsupported_token_type' }],
    [401, { error: 'invalid_client' }, 'AUTH_FAILED', { status: 401, error: 'invalid_client' }],
  ])('HTTP %s %j is %s with cause %j', async (status, body, code, cause) => {
    const err = await rejection(processRevocationResponse(json(body, status)));
    expect(err.code).toBe(code);
    expect(err.cause).toEqual(cause);
  });
});

describe('retry decisions', () => {
  const failure = async (res: Response) => rejection(processTokenResponse(res));

  it('retries 5xx, temporarily_unavailable, resets and timeouts; nothing else', async () => {
    expect(isTransientTokenFailure(await failure(json({ error: 'server_error' }, 500)))).toBe(true);
    expect(isTransientTokenFailure(await failure(json('<html>', 502)))).toBe(true);
    expect(isTransientTokenFailure(await failure(json({ error: 'temporarily_unavailable' }, 400)))).toBe(true);
    expect(isTransientTokenFailure(await failure(json({ error: 'invalid_client' }, 401)))).toBe(false);
    expect(isTransientTokenFailure(await failure(json({ error: 'invalid_grant' }, 400)))).toBe(false);
    expect(isTransientTokenFailure(await failure(json('garbage', 200)))).toBe(false);
    const net = (code: string) => new RelayError('AUTH_FAILED', 'x', { cause: Object.assign(new TypeError('fetch failed'), { cause: { code } }) });
    expect(isTransientTokenFailure(net('ECONNRESET'))).toBe(true);
    expect(isTransientTokenFailure(net('UND_ERR_HEADERS_TIMEOUT'))).toBe(true);
    expect(isTransientTokenFailure(new RelayError('AUTH_FAILED', 'x', { cause: new DOMException('timed out', 'TimeoutError') }))).toBe(true);
    expect(isTransientTokenFailure(net('ECONNREFUSED'))).toBe(false);
    expect(isTransientTokenFailure(net('ENOTFOUND'))).toBe(false);
    // The message is never read: a message that mentions a reset changes nothing.
    expect(isTransientTokenFailure(new RelayError('AUTH_FAILED', 'ECONNRESET 503 temporarily_unavailable'))).toBe(false);
    expect(isTransientTokenFailure(new Error('503'))).toBe(false);
  });

  it('reads Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3)', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3_000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs(new Date(now + 4_000).toUTCString(), now)).toBe(4_000);
    expect(retryAfterMs(new Date(now - 4_000).toUTCString(), now)).toBe(0);
    expect(retryAfterMs('-5', now)).toBeUndefined();
    expect(retryAfterMs('1.5', now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(MAX_RETRY_AFTER_MS).toBeGreaterThan(0);
  });
});
