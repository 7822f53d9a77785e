/**
 * `mcp-relay doctor <server-url>`: runs the checks of src/doctor/ and prints them, as text for
 * people or as one JSON object (`--json`) for scripts. Exit 0 when every step is ok or a warning,
 * 1 when one failed, 2 for bad usage (main.ts). Never prints a secret, and starts a login only with
 * `--login`, through `mcp-relay login`'s own code, when the report found no usable stored login.
 */
import type { Argv } from 'yargs';
import { doctorExitCode, runDoctor, type DoctorStep } from '../doctor/run.js';
import { scrub, silentLogger } from '../log.js';
import { runLogin } from './login.js';
import { connectionOptions, type ConnectionArgs } from './options.js';
import { toConfig } from './to-config.js';

const MARK: Record<DoctorStep['status'], string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function formatDoctor(url: string, steps: DoctorStep[]): string {
  const lines = [`mcp-relay doctor ${url}`];
  for (const s of steps) {
    lines.push(`[${MARK[s.status]}] ${s.name.padEnd(12)} ${s.detail}`);
    if (s.advice) lines.push(`${' '.repeat(20)}→ ${s.advice}`);
  }
  const failed = steps.filter((s) => s.status === 'fail').map((s) => s.name);
  lines.push(failed.length ? `Failed: ${failed.join(', ')}. The first failure is the likely cause.` : 'No step failed.');
  return `${lines.join('\n')}\n`;
}

export function registerDoctorCommand(parser: Argv, env: NodeJS.ProcessEnv): void {
  parser.command(
    'doctor <server-url>',
    'Check step by step why a server cannot be reached or logged in to (DNS, TCP, TLS, proxy, HTTP, protocol, OAuth metadata, stored login, clock)',
    (y) =>
      connectionOptions(y)
        .option('login', {
          type: 'boolean',
          default: false,
          describe: 'When the report finds no usable stored login, log in afterwards (as `mcp-relay login` does)',
        })
        .option('json', {
          type: 'boolean',
          default: false,
          describe: 'Print one JSON object {server, ok, steps: [{name, status, detail, advice}]} for scripts',
        })
        .example('$0 doctor https://example.com/mcp', 'find out why a server does not work')
        .epilogue(
          'Exit code: 0 when every step is ok or a warning, 1 when a step failed, 2 for bad usage. Never prints a token or a secret; starts a login only with --login.',
        ),
    async (args) => {
      const config = toConfig(args as unknown as ConnectionArgs, env);
      const steps = await runDoctor(config, { env, log: silentLogger(), now: Date.now });
      const code = doctorExitCode(steps);
      const text = (args as { json?: boolean }).json
        ? `${JSON.stringify({ server: config.serverUrl.href, ok: code === 0, steps }, null, 2)}\n`
        : formatDoctor(config.serverUrl.href, steps);
      // scrub: belt and braces for anything a server echoed into an error message.
      process.stdout.write(scrub(text));
      const a = args as { json?: boolean; login?: boolean };
      if (a.login && code === 0 && steps.some((s) => s.name === 'login' && s.status === 'warn')) {
        // stdout stays one JSON object with --json: the login talks on stderr then.
        const toErr = (t: string) => void process.stderr.write(t);
        const loginCode = await runLogin(config, env, false, { stdin: process.stdin, out: a.json ? toErr : (t) => void process.stdout.write(t), err: toErr });
        process.exit(loginCode);
      }
      // Sockets a timed-out step left behind must not keep the process alive.
      process.exit(code);
    },
  );
}
