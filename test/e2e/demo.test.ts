/**
 * The demo as users run it: `mcp-relay demo` (what `npm run demo` runs) and
 * `mcp-relay demo-server`, spawned from the built CLI. Guards against the demo rotting: every
 * step must still pass against the real relay, say what it saw, leak no token and leave nothing
 * behind.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { browserMode } from '../../src/demo/run.js';
import { BROWSER_SCRIPT, browserLaunches } from '../helpers/oauth.js';
import { connectRelay, killAll, RELAY_BIN, tempHome } from '../helpers/relay.js';

const AUTO_BROWSER = resolve(import.meta.dirname, '../../dist/demo/auto-browser.js');

const spawned = new Set<ChildProcessWithoutNullStreams>();

afterEach(async () => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  spawned.clear();
  await killAll();
});

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The CLI with a private HOME and TMPDIR and no display, browser or CI settings of our own. */
function cli(args: string[], home: string, extra: Record<string, string> = {}): Run {
  const env: Record<string, string> = { HOME: home, TMPDIR: join(home, 'tmp'), TMP: join(home, 'tmp'), TEMP: join(home, 'tmp'), ...extra };
  for (const k of ['PATH', 'SYSTEMROOT']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  const child = spawn(process.execPath, [RELAY_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  spawned.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function homeWithTmp(): Promise<string> {
  const home = await tempHome();
  await mkdir(join(home, 'tmp'));
  return home;
}

function storePath(stdout: string): string {
  const m = /^ {2}Store +(\S+)/m.exec(stdout);
  expect(m, 'the demo prints where its temporary store is').not.toBeNull();
  return m![1]!;
}

describe('mcp-relay demo', () => {
  it('--auto walks through every step against the real relay, exits 0, leaks no token and removes its store', async () => {
    const home = await homeWithTmp();
    const run = cli(['demo', '--auto'], home);
    const code = await run.exited;
    const out = run.stdout();
    expect(code, `stdout:\n${out}\nstderr:\n${run.stderr()}`).toBe(0);
    for (let n = 1; n <= 9; n++) expect(out).toMatch(new RegExp(`^Step ${n} `, 'm'));
    expect(out).toMatch(/POST \/mcp +→ 401 Unauthorized/);
    expect(out).toMatch(/GET \/\.well-known\/oauth-protected-resource\/mcp/);
    expect(out).toMatch(/GET \/\.well-known\/oauth-authorization-server/);
    expect(out).toMatch(/POST \/register/);
    expect(out).toMatch(/client\.json: client_id demo-/);
    expect(out).toMatch(/approving automatically with a stand-in browser/);
    expect(out).toMatch(/the relay launched the stand-in browser 1 time/);
    expect(out).toMatch(/pressed Approve on the consent page for you/);
    expect(out).toMatch(/POST \/token .*grant_type=authorization_code/);
    expect(out).toMatch(/tokens\.json: Bearer, scope "mcp:tools", access token expires in \d+ s, refresh token stored/);
    expect(out).toMatch(/tools: echo, add, whoami/);
    expect(out).toMatch(/tools\/call echo \{"text": "hello through the relay"\} → "hello through the relay"/);
    expect(out).toMatch(/POST \/mcp → POST \/token → POST \/mcp/);
    expect(out).toMatch(/refresh_token grants \+1, browser tabs \+0/);
    expect(out).toMatch(/A second relay process reuses the stored login/);
    expect(out).toMatch(/registrations 1→1, browser tabs 1→1, code exchanges 1→1/);
    expect(out).toMatch(/Demo finished: all steps passed/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looks for ANSI colour escapes on purpose
    expect(out).not.toMatch(/\x1b\[/); // no colours when stdout is not a terminal
    for (const text of [out, run.stderr()]) {
      expect(text).not.toMatch(/"(access_token|refresh_token|code_verifier|client_secret)"\s*:/);
      expect(text).not.toMatch(/Bearer (?!resource_metadata=)[A-Za-z0-9._~+/-]{16,}/); // a bearer token, not the challenge
    }
    // The throw-away store (and everything else the demo made in TMPDIR) is gone.
    expect(existsSync(dirname(storePath(out)))).toBe(false);
    expect(await readdir(join(home, 'tmp'))).toEqual([]);
  });

  it('with a real browser available it lets the browser approve, and never prints the stored token values', async () => {
    const home = await homeWithTmp();
    // The fixture browser stands in for the user's own: the relay launches it through $BROWSER.
    const run = cli(['demo', '--keep-store'], home, { BROWSER: `${process.execPath} ${BROWSER_SCRIPT}`, BROWSER_LOG: join(home, 'browser.log') });
    const code = await run.exited;
    const out = run.stdout();
    expect(code, `stdout:\n${out}\nstderr:\n${run.stderr()}`).toBe(0);
    expect(out).toMatch(/a browser can open here: you will approve in it/);
    expect(out).toMatch(/click Approve/);
    expect(out).toMatch(/the consent page was opened: waiting for you to click Approve/);
    expect(out).toMatch(/you +approved in your browser/);
    expect(out).not.toMatch(/stand-in browser/);
    expect(browserLaunches(home)).toHaveLength(1);
    const store = storePath(out);
    const [key] = await readdir(join(store, 'servers'));
    const tokens = JSON.parse(readFileSync(join(store, 'servers', key!, 'tokens.json'), 'utf8')) as { access_token: string; refresh_token: string };
    expect(tokens.access_token.length).toBeGreaterThan(8);
    for (const secret of [tokens.access_token, tokens.refresh_token]) {
      expect(out).not.toContain(secret);
      expect(run.stderr()).not.toContain(secret);
    }
    expect(out).toMatch(/Demo finished: all steps passed/);
  });

  it('chooses the stand-in browser only when no real one can open (and says why)', () => {
    expect(browserMode(false, { BROWSER: 'none' })).toEqual({ auto: true, why: 'no browser here: BROWSER is set to "none"' });
    expect(browserMode(false, { SSH_CONNECTION: '10.0.0.1 22 10.0.0.2 22', DISPLAY: ':0' }).auto).toBe(true);
    expect(browserMode(false, { CI: 'true', BROWSER: 'firefox' })).toEqual({ auto: true, why: 'no browser here: CI is set' });
    expect(browserMode(false, { BROWSER: 'firefox' })).toEqual({ auto: false, why: 'a browser can open here' });
    expect(browserMode(true, { BROWSER: 'firefox' })).toEqual({ auto: true, why: '--auto was given' });
  });
});

describe('mcp-relay demo-server', () => {
  it('serves on the printed URL until SIGTERM; a relay launched by a host logs in and calls a tool', async () => {
    const home = await homeWithTmp();
    const server = cli(['demo-server', '--port', '0', '--auto-approve'], home);
    const url = await new Promise<string>((resolveUrl, reject) => {
      const onData = () => {
        const m = /MCP endpoint +(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(server.stdout());
        // Wait for the whole banner: it ends before the live request log starts.
        if (m && server.stdout().includes('Requests as they arrive')) resolveUrl(m[1]!);
      };
      server.child.stdout.on('data', onData);
      void server.exited.then((code) => reject(new Error(`demo-server exited with ${code}: ${server.stderr()}`)));
    });
    expect(server.stdout()).toContain(`"${url}"`); // the host configuration snippet names it
    expect(server.stdout()).toMatch(new RegExp(`login ${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));

    const { client } = await connectRelay([url], { home, env: { BROWSER: `${process.execPath} ${AUTO_BROWSER}` } });
    const result = (await client.callTool({ name: 'echo', arguments: { text: 'via demo-server' } })) as { content: Array<{ text: string }> };
    expect(result.content[0]!.text).toBe('via demo-server');
    // It narrates what hosts do to it, live.
    expect(server.stdout()).toMatch(/POST \/register/);
    expect(server.stdout()).toMatch(/GET \/authorize/);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stdout()).toMatch(/Demo server stopped/);
  });

  it('refuses a port that is not a port, with usage exit code 2', async () => {
    const home = await homeWithTmp();
    const run = cli(['demo-server', '--port', '70000'], home);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toMatch(/--port must be an integer from 0 to 65535/);
  });
});
