/**
 * Credentials from a command (--headers-command), the way company SSO CLIs are used: a real SDK
 * server behind a gateway (the fault proxy) that accepts only the current token, and a command
 * (a node script) that prints the current token and counts its runs in a file.
 */
import { appendFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeFaults, faultProxy } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await killAll();
  await closeFaults();
  for (const s of servers.splice(0)) await s.close();
});

const echo = (t: string) => ({ name: 'echo', arguments: { text: t } });
function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0]!.text;
}

/** A command that prints `${prefix}<token in token.txt>` and appends a line to runs.txt each time it runs. */
async function tokenCommand(
  home: string,
  format: 'json' | 'lines' | 'bare',
): Promise<{ command: string; setToken(t: string): Promise<void>; runs(): Promise<number> }> {
  const script = join(home, 'corp-sso.mjs');
  await writeFile(
    script,
    `import { appendFileSync, readFileSync } from 'node:fs';
const dir = ${JSON.stringify(home)};
appendFileSync(dir + '/runs.txt', 'run\\n');
const token = readFileSync(dir + '/token.txt', 'utf8').trim();
const format = ${JSON.stringify(format)};
if (format === 'json') console.log(JSON.stringify({ Authorization: 'Bearer ' + token, 'X-Tenant': 'acme' }));
else if (format === 'lines') console.log('Authorization: Bearer ' + token + '\\nX-Tenant: acme');
else console.log(token);
`,
  );
  appendFileSync(join(home, 'runs.txt'), '');
  return {
    command: `${JSON.stringify(process.execPath)} ${JSON.stringify(script)}`,
    setToken: (t) => writeFile(join(home, 'token.txt'), t),
    runs: async () => (await readFile(join(home, 'runs.txt'), 'utf8')).split('\n').filter(Boolean).length,
  };
}

/** A gateway in front of a real server that accepts only `Bearer <valid()>`. */
async function gateway(valid: () => string) {
  const s = await startTestServer({ kind: 'stateful' });
  servers.push(s);
  const p = await faultProxy({ target: `http://127.0.0.1:${s.port}` });
  p.inject({
    match: (r) => r.headers.authorization !== `Bearer ${valid()}`,
    times: Infinity,
    action: { kind: 'respond', status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' }, body: 'token expired' },
  });
  return p;
}

describe('--headers-command', () => {
  it.each(['json', 'lines', 'bare'] as const)(
    '(%s output) the token is sent; when the gateway rotates it, the next call succeeds with exactly one extra run',
    async (format) => {
      const home = await tempHome();
      const cmd = await tokenCommand(home, format);
      let valid = 'tok-1';
      await cmd.setToken('tok-1');
      const g = await gateway(() => valid);
      const { client, stderr } = await connectRelay([`${g.origin}/mcp`, '--headers-command', cmd.command, '--debug'], { home });
      expect(text(await client.callTool(echo('one')))).toBe('one');
      expect(await cmd.runs()).toBe(1);
      if (format !== 'bare') expect(g.seen.every((r) => r.headers['x-tenant'] === 'acme')).toBe(true);

      valid = 'tok-2';
      await cmd.setToken('tok-2');
      expect(text(await client.callTool(echo('two')))).toBe('two');
      expect(await cmd.runs()).toBe(2);
      // The command's output never reaches a log, even at --debug.
      expect(stderr()).not.toMatch(/tok-[12]/);
    },
  );

  it('a failing command: each request gets its error with the tail of its stderr; no OAuth login is started', async () => {
    const home = await tempHome();
    const g = await gateway(() => 'never');
    const failing = `${JSON.stringify(process.execPath)} -e "console.error('corp-sso: session expired, run corp-sso login'); process.exit(3)"`;
    const relay = spawnRelay([`${g.origin}/mcp`, '--headers-command', failing], { home });
    relay.send(INIT(1));
    const answer = (await relay.waitFor((m) => m.id === 1)) as { error?: { message: string } };
    expect(answer.error?.message).toMatch(/--headers-command: it exited with code 3; its stderr ends: corp-sso: session expired, run corp-sso login/);
    expect(g.seen).toHaveLength(0);
  });

  it.each([
    ['a pipe', 'corp-sso token | cut -c1-10', /runs no shell, so "\|" would not work; write the shell out/],
    ['--headers-ttl without a command', null, /--headers-ttl needs --headers-command/],
  ])('%s: exit 2 at start with a clear message', async (_what, command, message) => {
    const args = command ? ['--headers-command', command] : ['--headers-ttl', '60'];
    const relay = spawnRelay(['http://127.0.0.1:1/mcp', ...args], { home: await tempHome() });
    expect((await relay.exited).code).toBe(2);
    expect(relay.stderr()).toMatch(message);
  });
});
