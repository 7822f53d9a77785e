import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertSafeBrowserUrl, canOpenBrowser, isSshSession, systemOpener } from '../../src/auth/browser.js';
import { RelayError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';

function refusal(raw: string, opts?: { allowHttp?: boolean }): RelayError | undefined {
  try {
    assertSafeBrowserUrl(raw, opts);
    return undefined;
  } catch (err) {
    return err as RelayError;
  }
}

describe('assertSafeBrowserUrl', () => {
  const accepted: [string, { allowHttp?: boolean }?][] = [
    ['https://as.example/authorize?response_type=code&client_id=abc&code_challenge=x_Y-z&code_challenge_method=S256&state=q%2B1'],
    ['https://as.example:8443/oauth2/v1/authorize?scope=openid+profile%20email&resource=https%3A%2F%2Fmcp.example%2Fmcp'],
    ['http://127.0.0.1:4000/authorize?x=1'],
    ['http://127.9.8.7/authorize'],
    ['http://localhost:3000/authorize'],
    ['http://[::1]:3000/authorize'],
    ['http://as.example/authorize', { allowHttp: true }],
  ];
  it.each(accepted)('accepts %s', (raw, opts) => {
    expect(assertSafeBrowserUrl(raw, opts).href).toBe(raw);
  });

  const refused: [string, string, { allowHttp?: boolean }?][] = [
    ['file:///etc/passwd', 'scheme "file:" is not http(s)'],
    ['javascript:alert(1)', 'character'], // the parentheses trip first
    ['javascript:alert', 'scheme "javascript:"'],
    ['data:text/html,hi', 'scheme "data:"'],
    ['vbscript:msgbox', 'scheme "vbscript:"'],
    ['ftp://as.example/x', 'scheme "ftp:"'],
    ['https://x/a"&calc.exe', 'character "\\""'],
    ['https://x/a&calc.exe', '"&" outside the query'],
    ['https://x/?a=1#frag&calc', '"&" outside the query'],
    ['https://x/$(id)', 'character "$"'],
    ['https://x/`id`', 'character "`"'],
    ['https://x/a|b', 'character "|"'],
    ['https://x/a;b', 'character ";"'],
    ['https://x/a^b', 'character "^"'],
    ['https://x/a\\b', 'character'],
    ["https://x/a'b", 'character'],
    ['https://x/a<b>', 'character "<"'],
    ['https://x/{a}', 'character "{"'],
    ['http://as.example/authorize', 'plain http is only allowed for loopback'],
    ['http://127.0.0.1.evil.example/authorize', 'plain http is only allowed for loopback'],
    ['https://user:pw@as.example/authorize', 'username or password'],
    ['https://user@as.example/authorize', 'username or password'],
    ['https://as.example/authorize\n?x=1', 'control character (U+000A)'],
    ['https://as.example/author\rize', 'control character (U+000D)'],
    ['https://as.example/a b', 'whitespace'],
    ['https://as.example/a\tb', 'U+0009'],
    ['https://as.example/a\u202eb', 'U+202E'],
    ['https://as.example/a\u00a0b', 'whitespace'],
    [' https://as.example/', 'whitespace'],
    [`https://as.example/${'a'.repeat(9000)}`, 'longer than 8192 bytes'],
    ['as.example/authorize', 'not a valid absolute URL'],
    ['', 'empty'],
  ];
  it.each(refused)('refuses %j', (raw, why, opts) => {
    const err = refusal(raw, opts);
    expect(err).toBeInstanceOf(RelayError);
    expect(err?.code).toBe('UNSAFE_URL');
    expect(err?.message).toContain('refusing to open authorization URL');
    expect(err?.message).toContain(why);
  });
});

describe('systemOpener with $BROWSER', () => {
  let dir: string;
  let script: string;
  let out: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-relay-browser-'));
    script = join(dir, 'fake-browser.mjs');
    out = join(dir, 'argv.jsonl');
    // A fake browser: appends the arguments it received, one JSON line per launch.
    await writeFile(script, "import { appendFileSync } from 'node:fs';\nappendFileSync(process.argv[2], JSON.stringify(process.argv.slice(3)) + '\\n');\n");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function launches(): Promise<string[][]> {
    while (!existsSync(out)) await new Promise((r) => setTimeout(r, 20));
    return (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string[]);
  }

  it('passes the exact URL as one argument, with no shell in between', async () => {
    const url = 'https://as.example/authorize?response_type=code&client_id=a%20b&state=x~y&redirect_uri=http%3A%2F%2F127.0.0.1%3A33500%2Fcallback';
    const opener = systemOpener(silentLogger(), { BROWSER: `${process.execPath} ${script} ${out}` });
    await opener(url);
    expect(await launches()).toEqual([[url]]);
  });

  it('replaces a %s word with the URL instead of appending it', async () => {
    const opener = systemOpener(silentLogger(), { BROWSER: `${process.execPath} ${script} ${out} --new-tab %s --flag` });
    await opener('https://as.example/authorize?a=1');
    expect(await launches()).toEqual([['--new-tab', 'https://as.example/authorize?a=1', '--flag']]);
  });

  it('never launches the browser for a hostile URL', async () => {
    const opener = systemOpener(silentLogger(), { BROWSER: `${process.execPath} ${script} ${out}` });
    for (const hostile of ['https://x/a"&calc.exe', 'https://x/$(id)', 'file:///etc/passwd', 'https://x/\n/evil']) {
      const err = await opener(hostile).catch((e: unknown) => e);
      expect((err as RelayError).code, hostile).toBe('UNSAFE_URL');
    }
    expect(existsSync(out)).toBe(false);
    // A good launch afterwards is the only one the fake browser ever saw.
    await opener('https://as.example/ok');
    expect(await launches()).toEqual([['https://as.example/ok']]);
  });

  it('refuses plain http to a remote host unless allowHttp was given', async () => {
    const strict = systemOpener(silentLogger(), { BROWSER: `${process.execPath} ${script} ${out}` });
    expect(((await strict('http://as.example/a').catch((e: unknown) => e)) as RelayError).code).toBe('UNSAFE_URL');
    const lax = systemOpener(silentLogger(), { BROWSER: `${process.execPath} ${script} ${out}` }, { allowHttp: true });
    await lax('http://as.example/a');
    expect(await launches()).toEqual([['http://as.example/a']]);
  });

  it('a $BROWSER that does not exist is logged as a warning and does not throw', async () => {
    const lines: string[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write: (c: Buffer, _e, cb) => {
          lines.push(c.toString());
          cb();
        },
      }),
    );
    const opener = systemOpener(log, { BROWSER: join(dir, 'no-such-browser') });
    await expect(opener('https://as.example/authorize')).resolves.toBeUndefined();
    expect(lines.join('')).toContain('could not start the browser');
    expect(lines.join('')).toContain('ENOENT');
  });
});

describe('canOpenBrowser', () => {
  const cases: [string, NodeJS.ProcessEnv, NodeJS.Platform, boolean, string?][] = [
    ['macOS desktop', {}, 'darwin', true],
    ['Windows desktop', {}, 'win32', true],
    ['Linux X11', { DISPLAY: ':0' }, 'linux', true],
    ['Linux Wayland', { WAYLAND_DISPLAY: 'wayland-0' }, 'linux', true],
    ['Linux headless', {}, 'linux', false, 'no graphical display'],
    ['FreeBSD headless', {}, 'freebsd', false, 'no graphical display'],
    ['WSL without a display', { WSL_DISTRO_NAME: 'Ubuntu' }, 'linux', true],
    ['SSH (SSH_CONNECTION) on Linux with X forwarding', { SSH_CONNECTION: '1 2 3 4', DISPLAY: 'localhost:10' }, 'linux', false, 'SSH_CONNECTION'],
    ['SSH (SSH_TTY) on macOS', { SSH_TTY: '/dev/ttys001' }, 'darwin', false, 'SSH_TTY'],
    ['SSH (SSH_CLIENT) on Windows', { SSH_CLIENT: '1 2 3' }, 'win32', false, 'SSH_CLIENT'],
    ['SSH but $BROWSER names a command', { SSH_CONNECTION: '1 2 3 4', BROWSER: 'w3m' }, 'linux', true],
    ['headless Linux but $BROWSER names a command', { BROWSER: '/usr/bin/lynx' }, 'linux', true],
    ['BROWSER=none on a desktop', { BROWSER: 'none' }, 'darwin', false, 'none'],
    ['blank BROWSER is ignored', { BROWSER: '  ' }, 'linux', false, 'no graphical display'],
  ];
  it.each(cases)('%s', (_name, env, platform, ok, reason) => {
    const got = canOpenBrowser(env, platform);
    expect(got.ok).toBe(ok);
    if (reason) expect(got.reason).toContain(reason);
    else expect(got.reason).toBeUndefined();
  });

  it('isSshSession looks at SSH_CONNECTION, SSH_TTY and SSH_CLIENT', () => {
    expect(isSshSession({})).toBe(false);
    expect(isSshSession({ SSH_CONNECTION: 'x' })).toBe(true);
    expect(isSshSession({ SSH_TTY: 'x' })).toBe(true);
    expect(isSshSession({ SSH_CLIENT: 'x' })).toBe(true);
  });
});
