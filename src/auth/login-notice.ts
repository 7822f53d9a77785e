/**
 * What the user is told during an interactive login (stderr of the relay, the terminal of
 * `mcp-relay login`): the URL to open, how to finish over SSH, and who owns the login when
 * several relays wait on it.
 */
import { RelayError } from '../errors.js';
import { loginCommand } from '../config/launch.js';
import type { PendingLogin } from '../store/store.js';
import { isSshSession } from './browser.js';
import type { LoginContext } from './login.js';
import { processRunning } from '../pid.js';

function portOf(uri: string): number {
  const u = new URL(uri);
  return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
}

/** How this login was come to: started here, joined (another process owns it), or taken over from a process that is gone. */
export type AnnounceMode = 'started' | 'joined' | 'took-over';

/** The command that finishes this login from a terminal here (npx-aware: see config/launch.ts). */
export function terminalLogin(ctx: LoginContext): string {
  return loginCommand(ctx.config.serverUrl.href, { resource: ctx.config.auth.resource, clientId: ctx.config.auth.clientId });
}

export function announce(ctx: LoginContext, pending: PendingLogin, mode: AnnounceMode, previousOwner?: number): void {
  ctx.onWaiting?.();
  const server = ctx.config.serverUrl.href;
  const port = portOf(pending.redirect_uri);
  const minutes = Math.max(1, Math.round((pending.expires_at - ctx.now()) / 60_000));
  ctx.log.info({ url: pending.authorization_url }, 'login required: authorization URL');
  const browserOpens = mode === 'started' && ctx.browser.ok && !ctx.config.auth.noBrowser;
  const lines = [`mcp-relay: ${server} needs you to log in.`];
  if (mode === 'joined') {
    lines.push(
      `  Another mcp-relay process (pid ${pending.pid}) started this login; this one waits for it to finish.`,
      '  If you have not opened the login URL yet, open it in a browser on any machine:',
    );
  } else if (mode === 'took-over') {
    const gone = previousOwner === undefined || !processRunning(previousOwner) ? 'is no longer running' : 'stopped waiting for it';
    lines.push(
      `  The mcp-relay process that started this login (pid ${previousOwner ?? 'unknown'}) ${gone}; this one (pid ${process.pid}) took it over.`,
      `  If your browser already ended on an address starting with ${pending.redirect_uri} that failed to load,`,
      '  reload that page now: it reaches this process. Otherwise open the login URL again:',
    );
  } else {
    lines.push(browserOpens ? '  A browser window is opening. If it does not, open this URL yourself:' : '  Open this URL in a browser on any machine:');
  }
  lines.push(`    ${pending.authorization_url}`);
  if (!browserOpens) {
    if (ctx.browser.reason && !ctx.config.auth.noBrowser) lines.push(`  (Not opening a browser here: ${ctx.browser.reason}.)`);
    lines.push(
      '  After you approve, the browser goes to an address starting with',
      `    ${pending.redirect_uri}?...`,
      '  which may fail to load on another machine. That is expected: copy the whole address',
      ...(ctx.pasteHere
        ? ['  from the address bar and paste it here.']
        : ['  from the address bar, then in a terminal on this machine run', `    ${terminalLogin(ctx)}`, '  and paste it there.']),
    );
    if (isSshSession(process.env)) lines.push(`  Or forward the port before opening the URL:  ssh -L ${port}:127.0.0.1:${port} <this-host>`);
  }
  lines.push(`  Waiting up to ${minutes} min.`);
  ctx.notify(lines.join('\n'));
}

export function timeoutError(ctx: LoginContext): RelayError {
  return new RelayError(
    'AUTH_TIMEOUT',
    `the login was not finished within ${Math.round(ctx.config.auth.authTimeoutMs / 1000)} s; run \`${terminalLogin(ctx)}\` in a terminal, then retry`,
  );
}
