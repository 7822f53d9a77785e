/**
 * Opening the authorization URL in the user's browser, safely.
 *
 * The URL comes from authorization-server metadata, i.e. from the network. Before anything
 * launches a program with it, {@link assertSafeBrowserUrl} insists on a plain http(s) URL with
 * no credentials and no character a command line could interpret. The openers never go
 * through a shell: `$BROWSER` is spawned with an argument vector, and the `open` package
 * passes the URL to PowerShell as a Base64-encoded single-quoted literal on Windows.
 * (The SDK's own check blocks `javascript:`/`data:`/`vbscript:` but lets `file:` through.)
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';

/** Longest URL we hand to a browser: far above any real authorization URL, far below argv limits. */
export const MAX_BROWSER_URL_BYTES = 8 * 1024;

/**
 * Characters a shell (sh, cmd.exe, PowerShell) could interpret, or that browsers and URL
 * parsers treat inconsistently (`\` becomes `/` in WHATWG URLs). `&` is handled separately:
 * OAuth needs it as the query separator, so it is allowed in the query only.
 */
const SHELL_META = /["'`<>|;$(){}\\^]/;
/** Control, format, private-use, unassigned and surrogate code points, and any whitespace. */
const INVISIBLE = /[\p{C}\s]/u;

/** What a `$BROWSER` of this value means: the user asked for no browser (a common convention). */
const BROWSER_NONE = 'none';

/** Opens a URL in a browser. Resolves once the launch was attempted (not when the page loads). */
export type Opener = (url: string) => Promise<void>;

export interface SafeUrlOptions {
  /** Accept `http:` for non-loopback hosts too (`--allow-http`). */
  allowHttp?: boolean;
}

function refuse(what: string): never {
  throw new RelayError('UNSAFE_URL', `refusing to open authorization URL: ${what}`);
}

/** True for `localhost`, 127.0.0.0/8 and `[::1]` as they appear in a parsed URL's hostname. */
export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Validate a URL before it goes anywhere near a browser command line.
 *
 * Accepts only `https:` (or `http:` for loopback hosts, or anywhere with `allowHttp`), without
 * username/password, at most {@link MAX_BROWSER_URL_BYTES} long, and with no control character,
 * whitespace or shell metacharacter anywhere in the raw string (checked before parsing, since
 * the WHATWG parser silently strips some of them). `&` is allowed only in the query.
 *
 * @returns the parsed URL; pass `url.href` on.
 * @throws RelayError `UNSAFE_URL` naming the offending part.
 */
export function assertSafeBrowserUrl(raw: string, opts: SafeUrlOptions = {}): URL {
  if (typeof raw !== 'string' || raw.length === 0) refuse('it is empty');
  if (Buffer.byteLength(raw, 'utf8') > MAX_BROWSER_URL_BYTES) {
    refuse(`it is longer than ${MAX_BROWSER_URL_BYTES} bytes`);
  }
  const invisible = INVISIBLE.exec(raw);
  if (invisible) {
    const cp = invisible[0].codePointAt(0) ?? 0;
    refuse(`it contains whitespace or a control character (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`);
  }
  const meta = SHELL_META.exec(raw);
  if (meta) refuse(`it contains the character ${JSON.stringify(meta[0])}`);
  const ampersand = raw.indexOf('&');
  if (ampersand !== -1) {
    const query = raw.indexOf('?');
    const fragment = raw.indexOf('#');
    const inQuery = query !== -1 && ampersand > query && (fragment === -1 || ampersand < fragment);
    if (!inQuery || (fragment !== -1 && raw.indexOf('&', fragment) !== -1)) {
      refuse('it contains "&" outside the query string');
    }
  }

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    refuse('it is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    refuse(`scheme ${JSON.stringify(url.protocol)} is not http(s)`);
  }
  if (url.protocol === 'http:' && !opts.allowHttp && !isLoopbackHostname(url.hostname)) {
    refuse(`plain http is only allowed for loopback hosts (got host ${JSON.stringify(url.hostname)}; use https, or --allow-http)`);
  }
  if (url.username !== '' || url.password !== '') refuse('it contains a username or password');
  if (url.hostname === '') refuse('it has no host');
  return url;
}

/** True when this process runs inside an SSH session (a browser would open on the remote machine). */
export function isSshSession(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.SSH_CONNECTION || env.SSH_TTY || env.SSH_CLIENT);
}

function browserCommand(env: NodeJS.ProcessEnv): string[] | undefined {
  const words = (env.BROWSER ?? '')
    .trim()
    .split(/\s+/)
    .filter((w) => w.length > 0);
  return words.length > 0 ? words : undefined;
}

/**
 * Whether opening a browser here can reach the user.
 * `$BROWSER` naming a command always wins (the user said how); `BROWSER=none` never opens.
 * Otherwise: not over SSH, and on Linux/BSD only with a graphical display (or under WSL,
 * where `open` launches the Windows browser).
 */
export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): { ok: boolean; reason?: string } {
  const command = browserCommand(env);
  if (command) {
    return command.length === 1 && command[0] === BROWSER_NONE ? { ok: false, reason: 'BROWSER is set to "none"' } : { ok: true };
  }
  if (isSshSession(env)) {
    const which = ['SSH_CONNECTION', 'SSH_TTY', 'SSH_CLIENT'].find((k) => env[k]);
    return { ok: false, reason: `this is an SSH session (${which} is set), so a browser would open on the remote machine` };
  }
  if (platform === 'darwin' || platform === 'win32') return { ok: true };
  if (env.DISPLAY || env.WAYLAND_DISPLAY || env.WSL_DISTRO_NAME) return { ok: true };
  return { ok: false, reason: 'no graphical display (DISPLAY and WAYLAND_DISPLAY are not set)' };
}

/** Resolve once the child started, or log why it could not start. Never rejects. */
function launched(child: ChildProcess, what: string, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      log.warn({ command: what, errno: err.code }, 'could not start the browser; open the login URL yourself');
      resolve();
    });
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

/**
 * The real browser opener.
 *
 * Validates the URL again (defence in depth: whatever calls this, nothing unsafe is launched),
 * then runs `$BROWSER` if set (split on whitespace; a `%s` word is replaced by the URL,
 * otherwise the URL is the last argument; no shell, detached, stdio ignored), else the `open`
 * package. A browser that cannot be started (missing xdg-open, bad `$BROWSER`) is logged as a
 * warning and the promise still resolves: callers always print the URL as well.
 *
 * @throws RelayError `UNSAFE_URL` (rejected promise) when the URL fails {@link assertSafeBrowserUrl}.
 */
export function systemOpener(log: Logger, env: NodeJS.ProcessEnv = process.env, opts: SafeUrlOptions = {}): Opener {
  return async (raw: string) => {
    const url = assertSafeBrowserUrl(raw, opts).href;
    const command = browserCommand(env);
    if (command) {
      const [file, ...words] = command as [string, ...string[]];
      if (file === BROWSER_NONE && words.length === 0) {
        log.info('BROWSER is "none": not opening a browser');
        return;
      }
      const args = words.includes('%s') ? words.map((w) => (w === '%s' ? url : w)) : [...words, url];
      const child = spawn(file, args, { shell: false, detached: true, stdio: 'ignore', windowsHide: true });
      return launched(child, file, log);
    }
    try {
      const { default: open } = await import('open'); // loaded only when a browser is really opened
      const child = await open(url, { wait: false });
      // open() has resolved on 'spawn'; a later 'error' must not become an uncaught exception.
      child.on('error', (err: NodeJS.ErrnoException) => {
        log.warn({ errno: err.code }, 'the browser launcher failed; open the login URL yourself');
      });
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException | undefined)?.code;
      log.warn({ errno }, 'could not start a browser (is xdg-open installed?); open the login URL yourself');
    }
  };
}
