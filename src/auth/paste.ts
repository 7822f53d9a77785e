/**
 * The paste flow: finish a pending login from the address the browser was redirected to
 * (or just its code), typed into `mcp-relay login` on the machine the relay runs on.
 */
import { RelayError } from '../errors.js';
import type { PendingLogin } from '../store/store.js';

export interface PastedResponse {
  code: string;
  state: string | undefined;
  iss: string | undefined;
}

/**
 * Parse what the user pasted: the full redirect URL (`http://127.0.0.1:PORT/callback?code=…&state=…`),
 * just its query string, or a bare code. `error=` in it becomes AUTH_FAILED with the server's words.
 */
export function parsePasted(text: string): PastedResponse {
  const t = text.trim().replace(/^["'<]|["'>]$/g, '');
  if (!t) throw new RelayError('AUTH_FAILED', 'nothing was pasted');
  let params: URLSearchParams | undefined;
  if (/^https?:\/\//i.test(t)) {
    try {
      params = new URL(t).searchParams;
    } catch {
      throw new RelayError('AUTH_FAILED', 'the pasted address is not a valid URL; copy the whole address from the browser\'s address bar');
    }
  } else if (t.includes('=')) {
    params = new URLSearchParams(t.startsWith('?') ? t.slice(1) : t);
  }
  if (!params) {
    if (/\s/.test(t)) throw new RelayError('AUTH_FAILED', 'the pasted text is neither an address nor a code');
    return { code: t, state: undefined, iss: undefined };
  }
  const error = params.get('error');
  if (error) {
    const description = (params.get('error_description') ?? '').slice(0, 200);
    throw new RelayError('AUTH_FAILED', `the authorization server refused the login: "${error}"${description ? ` (${description})` : ''}`);
  }
  const code = params.get('code');
  if (!code) throw new RelayError('AUTH_FAILED', 'the pasted address has no "code" parameter; copy the address the browser ended on after you approved');
  return { code, state: params.get('state') ?? undefined, iss: params.get('iss') ?? undefined };
}

/** The pasted state must be the pending login's (RFC 6749 §10.12: CSRF protection). */
export function checkPastedState(pasted: PastedResponse, pending: PendingLogin): void {
  if (pasted.state !== undefined && pasted.state !== pending.state) {
    throw new RelayError('AUTH_FAILED', 'the pasted address belongs to a different (older) login attempt; open the newest login URL and paste the address it ends on');
  }
}
