/**
 * The small HTML pages the loopback callback listener shows in the user's browser.
 *
 * Contract: self-contained documents (inline CSS only, no scripts, no external assets, no
 * links), so they render under the listener's `default-src 'none'` CSP and leak nothing
 * (no referrer, no third-party fetch) from a URL that carried an authorization code.
 * Every piece of dynamic text goes through {@link escapeHtml}: error descriptions come from
 * the authorization server, or from whoever crafted the link, and are never trusted.
 */
import type { ServerResponse } from 'node:http';

/** Brand shown on the pages when the caller does not pass one. */
export const DEFAULT_BRAND = 'mcp-relay';

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for use in HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}

type Tone = 'ok' | 'fail' | 'info';

const ICONS: Readonly<Record<Tone, string>> = { ok: '✓', fail: '✕', info: 'ℹ' };

// Colours chosen for WCAG AA contrast on both the light and the dark background.
const STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --text: #1b1f24; --muted: #4a5360;
  --ok: #116329; --fail: #a40e26; --info: #0a4fa8; }
@media (prefers-color-scheme: dark) { :root { --bg: #0e1116; --card: #161b22; --text: #e6edf3;
  --muted: #b1bac4; --ok: #56d364; --fail: #ff7b72; --info: #79c0ff; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  background: var(--bg); color: var(--text); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 34rem; margin: 1.5rem; padding: 2rem; background: var(--card); border-radius: 12px;
  box-shadow: 0 1px 3px rgb(0 0 0 / 15%); }
.brand { margin: 0 0 .5rem; color: var(--muted); font-size: .875rem; letter-spacing: .02em; }
h1 { margin: 0 0 1rem; font-size: 1.5rem; line-height: 1.25; }
.icon { display: inline-block; margin-right: .4rem; }
.ok .icon { color: var(--ok); } .fail .icon { color: var(--fail); } .info .icon { color: var(--info); }
p { margin: .5rem 0; overflow-wrap: anywhere; }
.next { color: var(--muted); }
`;

function page(brand: string, tone: Tone, title: string, paragraphs: { text: string; next?: boolean }[]): string {
  const b = escapeHtml(brand || DEFAULT_BRAND);
  const t = escapeHtml(title);
  const body = paragraphs
    .filter((p) => p.text.length > 0)
    .map((p) => `<p${p.next ? ' class="next"' : ''}>${escapeHtml(p.text)}</p>`)
    .join('\n    ');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>${t} · ${b}</title>
  <style>${STYLE}</style>
</head>
<body>
  <main class="${tone}">
    <p class="brand">${b}</p>
    <h1><span class="icon" aria-hidden="true">${ICONS[tone]}</span>${t}</h1>
    ${body}
  </main>
</body>
</html>
`;
}

/** The page shown when the authorization response was accepted. */
export function successPage(brand: string = DEFAULT_BRAND): string {
  return page(brand, 'ok', 'Login complete', [
    { text: `${brand || DEFAULT_BRAND} received the authorization response.` },
    { text: 'You can close this tab and return to your app.', next: true },
  ]);
}

/**
 * A page for anything that did not complete the login.
 * @param title short headline, e.g. "Login failed"
 * @param detail what happened (escaped; may contain text from the authorization server)
 * @param nextStep what the user should do now
 */
export function failurePage(brand: string, title: string, detail: string, nextStep: string): string {
  return page(brand, 'fail', title, [{ text: detail }, { text: nextStep, next: true }]);
}

/** The page for hits that arrive after the one login this listener serves has finished. */
export function finishedPage(brand: string = DEFAULT_BRAND): string {
  return page(brand, 'info', 'Login already finished', [
    { text: 'This login was already completed (or cancelled) in this tab or another one.' },
    { text: 'You can close this tab and return to your app.', next: true },
  ]);
}

/** A status and page the listener answers with. */
export interface Reply {
  status: number;
  html: string;
}

const RETURN = 'Return to your app.';
const RESTART = 'Start the login again from your app.';

/** Every answer the callback listener gives, with its HTTP status, for one brand. */
export function callbackReplies(brand: string = DEFAULT_BRAND) {
  const fail = (status: number, title: string, detail: string, next: string): Reply => ({
    status,
    html: failurePage(brand, title, detail, next),
  });
  return {
    success: (): Reply => ({ status: 200, html: successPage(brand) }),
    finished: (): Reply => ({ status: 200, html: finishedPage(brand) }),
    /** The authorization server's `error=`; both texts must already be sanitised (they are escaped here). */
    serverError: (error: string, description: string): Reply =>
      fail(
        200,
        'Login failed',
        `The authorization server said "${error}"${description ? `: ${description}` : '.'}`,
        'Close this tab and try again from your app.',
      ),
    stale: (): Reply =>
      fail(
        400,
        'Login link not recognised',
        'This login link is stale or was not started by this relay.',
        'Close this tab and use the most recent login tab, or start the login again from your app.',
      ),
    malformed: (what: string): Reply => fail(400, 'Malformed login response', what, RESTART),
    badHost: (): Reply => fail(400, 'Bad request', 'This address only answers to the login redirect.', RETURN),
    crossOrigin: (): Reply => fail(403, 'Forbidden', 'Web pages may not call this address.', RETURN),
    notFound: (): Reply => fail(404, 'Not found', 'There is nothing here.', RETURN),
    notReady: (): Reply => fail(503, 'Not ready', 'This app is not waiting for a login right now.', RESTART),
    stopped: (): Reply => fail(503, 'Login not completed', 'This app stopped waiting for the login.', RESTART),
  };
}

export type CallbackReplies = ReturnType<typeof callbackReplies>;

/**
 * Headers on every answer: never cached (the URL held a code), no referrer, nothing loadable
 * but the inline style, never framed.
 */
export const REPLY_HEADERS = {
  'Cache-Control': 'no-store',
  'Content-Type': 'text/html; charset=utf-8',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
} as const;

/** Write a reply; `last` adds `Connection: close` so the listener can close right after it. */
export function sendReply(res: ServerResponse, reply: Reply, last = false): void {
  if (res.destroyed || res.headersSent) return; // the browser gave up on a held request
  const body = Buffer.from(reply.html, 'utf8');
  res.writeHead(reply.status, { ...REPLY_HEADERS, 'Content-Length': body.length, ...(last ? { Connection: 'close' } : {}) });
  res.end(body);
}
