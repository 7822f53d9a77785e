/**
 * The pure halves of `mcp-relay doctor` (src/doctor/): judging a Date header, a stored login and
 * the registration options. The network halves are covered by test/e2e/doctor.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { checkClock, CLOCK_WARN_MS } from '../../src/doctor/mcp.js';
import { checkLogin, checkRegistration } from '../../src/doctor/oauth.js';
import { doctorExitCode } from '../../src/doctor/run.js';
import type { Config } from '../../src/config/config.js';

const URL_A = new URL('https://mcp.example.com/mcp');
const NOW = Date.parse('2026-12-03T12:00:00Z');
const config = (auth: Partial<Config['auth']> = {}) => ({ auth }) as unknown as Config;

describe('doctor checks', () => {
  it('clock: within the header resolution is ok, beyond CLOCK_WARN_MS a warning, no header skipped', () => {
    expect(checkClock(new Date(NOW).toUTCString(), NOW + 900).status).toBe('ok');
    const off = checkClock(new Date(NOW).toUTCString(), NOW + CLOCK_WARN_MS + 5_000);
    expect(off).toMatchObject({ status: 'warn', detail: expect.stringContaining('65 s ahead') });
    expect(checkClock(null, NOW).status).toBe('skip');
    expect(checkClock('yesterday', NOW).status).toBe('warn');
  });

  it('login: never shows a token; expired without a refresh token is a warning naming the login command', () => {
    const secret = 'SECRET-UNIT-ACCESS';
    const live = checkLogin(URL_A, { access_token: secret, token_type: 'Bearer', scope: 'a b', expires_at: NOW + 60_000, obtained_at: NOW }, true, NOW);
    expect(live.status).toBe('ok');
    expect(JSON.stringify(live)).not.toContain(secret);
    const expired = checkLogin(URL_A, { access_token: secret, token_type: 'Bearer', expires_at: NOW - 120_000, obtained_at: NOW - 3_600_000 }, true, NOW);
    expect(expired).toMatchObject({ status: 'warn', advice: `run \`mcp-relay login ${URL_A.href}\` to log in again` });
    expect(checkLogin(URL_A, undefined, false, NOW).status).toBe('ok');
    expect(checkLogin(URL_A, undefined, true, NOW).status).toBe('warn');
  });

  it('registration: no way to get a client is a failure that asks for --client-id', () => {
    const none = checkRegistration(
      config(),
      { issuer: 'https://as', authorization_endpoint: 'https://as/a', token_endpoint: 'https://as/t', response_types_supported: ['code'] },
      undefined,
    );
    expect(none).toMatchObject({ status: 'fail', advice: expect.stringContaining('--client-id') });
    const cimd = checkRegistration(
      config(),
      {
        issuer: 'https://as',
        authorization_endpoint: 'https://as/a',
        token_endpoint: 'https://as/t',
        response_types_supported: ['code'],
        client_id_metadata_document_supported: true,
      } as never,
      undefined,
    );
    expect(cimd).toMatchObject({ status: 'ok', detail: expect.stringContaining('--client-metadata-url') });
    expect(checkRegistration(config({ clientId: 'abc' }), undefined, undefined).status).toBe('ok');
  });

  it('exit code: warnings and skips pass, one failure fails', () => {
    expect(
      doctorExitCode([
        { name: 'a', status: 'warn', detail: '' },
        { name: 'b', status: 'skip', detail: '' },
      ]),
    ).toBe(0);
    expect(
      doctorExitCode([
        { name: 'a', status: 'ok', detail: '' },
        { name: 'b', status: 'fail', detail: '' },
      ]),
    ).toBe(1);
  });
});
