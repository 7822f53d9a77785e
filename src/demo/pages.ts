/**
 * HTML pages of the demo authorization server: consent, device verification, messages.
 * Self-contained (inline CSS, no scripts or external assets), with a lang attribute, labelled
 * controls and every interpolated value escaped.
 */

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}
h1{font-size:1.4rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}dd{margin:0;word-break:break-all}
ul{padding-left:1.2rem}
.warn{border-left:4px solid #b35900;padding:.25rem .75rem;background:#fff4e5}
.actions{display:flex;gap:1rem;margin-top:1.5rem}
button{font:inherit;padding:.5rem 1.25rem;border-radius:.375rem;border:1px solid #555;cursor:pointer}
button.primary{background:#0b57d0;border-color:#0b57d0;color:#fff}
button:focus-visible,input:focus-visible{outline:3px solid #f9a825;outline-offset:2px}
input{font:inherit;padding:.4rem;letter-spacing:.15em;text-transform:uppercase}
@media (prefers-color-scheme:dark){body{background:#121212;color:#eee}.warn{background:#3a2a12}}
`;

/** Escape text for HTML content and double-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · mcp-relay demo</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

export interface ConsentPageInput {
  /** Where the form posts (same origin). */
  action: string;
  /** Opaque id of the pending authorization request; also what makes the POST unforgeable. */
  requestId: string;
  clientId: string;
  clientName: string | undefined;
  /** MCP 2025-11-25 "Localhost Redirect URI Risks": the AS MUST clearly display the redirect URI hostname. */
  redirectHost: string;
  loopbackRedirect: boolean;
  resource: string;
  scopes: string[];
}

export function consentPage(input: ConsentPageInput): string {
  const who = input.clientName ?? input.clientId;
  const scopes = input.scopes.length ? input.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('') : '<li>no specific scope</li>';
  const warning = input.loopbackRedirect
    ? `<p class="warn" role="note">This application receives the answer on this computer (<strong>${escapeHtml(input.redirectHost)}</strong>). Approve only if you just started this login yourself.</p>`
    : '';
  return page(
    'Authorize access',
    `<h1 id="title">Authorize ${escapeHtml(who)}?</h1>
<p><strong>${escapeHtml(who)}</strong> asks for access to the MCP server <code>${escapeHtml(input.resource)}</code> with these scopes:</p>
<ul aria-label="Requested scopes">${scopes}</ul>
<dl>
<dt>Client ID</dt><dd><code>${escapeHtml(input.clientId)}</code></dd>
<dt>Answer goes to</dt><dd><code>${escapeHtml(input.redirectHost)}</code></dd>
</dl>
${warning}
<form method="post" action="${escapeHtml(input.action)}" aria-labelledby="title">
<input type="hidden" name="request_id" value="${escapeHtml(input.requestId)}">
<div class="actions">
<button type="submit" name="decision" value="approve" class="primary">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</div>
</form>`,
  );
}

export interface DevicePageInput {
  action: string;
  /** Prefilled from verification_uri_complete. */
  userCode: string;
  /** Shown when the code is known, so the user can compare it with the device. */
  clientName: string | undefined;
  scopes: string[] | undefined;
  error: string | undefined;
}

export function devicePage(input: DevicePageInput): string {
  const details =
    input.clientName !== undefined
      ? `<p><strong>${escapeHtml(input.clientName)}</strong> asks for: ${(input.scopes ?? []).map((s) => `<code>${escapeHtml(s)}</code>`).join(', ') || 'no specific scope'}.</p>
<p>Check that the code below is the one shown on your device.</p>`
      : '<p>Enter the code shown on your device.</p>';
  const error = input.error ? `<p class="warn" role="alert">${escapeHtml(input.error)}</p>` : '';
  return page(
    'Connect a device',
    `<h1 id="title">Connect a device</h1>
${error}${details}
<form method="post" action="${escapeHtml(input.action)}" aria-labelledby="title">
<p><label for="user_code">Code</label><br>
<input id="user_code" name="user_code" value="${escapeHtml(input.userCode)}" autocomplete="off" autocapitalize="characters" spellcheck="false" required></p>
<div class="actions">
<button type="submit" name="decision" value="approve" class="primary">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</div>
</form>`,
  );
}

/** A plain message page (errors the AS must not redirect, results of the device flow). */
export function messagePage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>`);
}
