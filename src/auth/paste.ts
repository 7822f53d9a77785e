/**
 * The paste flow: finish a pending login from the address the browser was redirected to, typed
 * into `mcp-relay login` on the machine the relay runs on.
 *
 * What may be pasted: the whole redirected address (always accepted), its query string, or the
 * bare code. A bare code is accepted only from an authorization server that does not advertise
 * `authorization_response_iss_parameter_supported`: one that does sends `iss` in the redirect
 * (RFC 9207 §2), and `iss` is what lets the relay tell its own server's answer from a mixed-up
 * one, so a code without it is refused with instructions (not with the mix-up alarm, which is
 * kept for an `iss` that is present and wrong).
 */
import { RelayError } from '../errors.js';
import type { PendingLogin } from '../store/store.js';

export interface PastedResponse {
  /** Absent only for an address with no `code` (see {@link checkPasted}). */
  code: string | undefined;
  state: string | undefined;
  iss: string | undefined;
  /** What was pasted: the whole address, its query string, or a bare code. */
  form: 'address' | 'query' | 'code';
  /** For an address: where it points (origin and path, no query), to compare with the redirect URI. */
  target?: string | undefined;
}

/**
 * What a plausible bare code looks like: RFC 6749 §4.1.2 codes are opaque, but in practice
 * URL-safe characters and long enough to be unguessable (RFC 6749 §10.10).
 */
const PLAUSIBLE_CODE = /^[A-Za-z0-9._~+/=-]{8,}$/;

const NOT_THE_ADDRESS = 'that is not the redirected address';

/**
 * Parse what the user pasted. `error=` in it becomes AUTH_FAILED with the server's words;
 * text that is neither an address, a query string nor a plausible code is refused as such.
 */
export function parsePasted(text: string): PastedResponse {
  const t = text.trim().replace(/^["'<]|["'>]$/g, '');
  if (!t) throw new RelayError('AUTH_FAILED', 'nothing was pasted');
  let params: URLSearchParams | undefined;
  let target: string | undefined;
  let form: PastedResponse['form'] = 'query';
  if (/^https?:\/\//i.test(t)) {
    try {
      const url = new URL(t);
      params = url.searchParams;
      target = `${url.origin}${url.pathname}`;
      form = 'address';
    } catch {
      throw new RelayError('AUTH_FAILED', `${NOT_THE_ADDRESS} (not a valid URL); copy the whole address from the browser's address bar`);
    }
  } else if (t.includes('=') && !/\s/.test(t)) {
    params = new URLSearchParams(t.startsWith('?') ? t.slice(1) : t);
  }
  if (!params) {
    if (!PLAUSIBLE_CODE.test(t)) {
      throw new RelayError(
        'AUTH_FAILED',
        `${NOT_THE_ADDRESS}: paste the whole address the browser ended on after you approved (it starts with http://127.0.0.1:…)`,
      );
    }
    return { code: t, state: undefined, iss: undefined, form: 'code' };
  }
  const error = params.get('error');
  if (error) {
    const description = (params.get('error_description') ?? '').slice(0, 200);
    throw new RelayError('AUTH_FAILED', `the authorization server refused the login: "${error}"${description ? ` (${description})` : ''}`);
  }
  const code = params.get('code') ?? undefined;
  if (code === undefined && form === 'query')
    throw new RelayError('AUTH_FAILED', `${NOT_THE_ADDRESS} (it has no "code"); paste the whole address the browser ended on after you approved`);
  return { code, state: params.get('state') ?? undefined, iss: params.get('iss') ?? undefined, form, target };
}

/**
 * Check a paste against the pending login before anything is sent:
 * - an address must point at the pending login's redirect URI and carry a code (pasting the
 *   login URL itself is the usual slip);
 * - its state must be the pending login's (RFC 6749 §10.12: CSRF protection);
 * - a bare code only where no `iss` is expected (see the module comment).
 */
export function checkPasted(pasted: PastedResponse, pending: PendingLogin, issExpected: boolean): asserts pasted is PastedResponse & { code: string } {
  if (pasted.form === 'address') {
    const redirect = new URL(pending.redirect_uri);
    if (pasted.target !== `${redirect.origin}${redirect.pathname}` || pasted.code === undefined) {
      throw new RelayError(
        'AUTH_FAILED',
        `${NOT_THE_ADDRESS}: after you approve, the browser goes to an address starting with ${pending.redirect_uri}?code=… (the page may fail to load); paste that one`,
      );
    }
  }
  if (pasted.state !== undefined && pasted.state !== pending.state) {
    throw new RelayError(
      'AUTH_FAILED',
      'the pasted address belongs to a different (older) login attempt; open the newest login URL and paste the address it ends on',
    );
  }
  if (pasted.form !== 'address' && issExpected && pasted.iss === undefined) {
    throw new RelayError(
      'AUTH_FAILED',
      `a code on its own cannot be checked for this server: it adds "iss" to its redirect (RFC 9207) so the relay can verify where the code came from. Paste the whole address the browser ended on (starting with ${pending.redirect_uri}?)`,
    );
  }
  if (pasted.code === undefined) throw new RelayError('AUTH_FAILED', `${NOT_THE_ADDRESS} (it has no "code")`);
}

/** Whether the authorization server promises `iss` in its authorization responses (RFC 9207 §3). */
export function issExpected(metadata: object): boolean {
  return (metadata as { authorization_response_iss_parameter_supported?: unknown }).authorization_response_iss_parameter_supported === true;
}
