/**
 * How the user can run mcp-relay in a terminal, for the hints the relay gives (in the host's
 * tool errors, on stderr): `mcp-relay login <url>`, or `npx -y mcp-relay login <url>` when this
 * relay was started through npx, since a user who configured `npx -y mcp-relay …` in the host
 * usually has no `mcp-relay` command on their PATH.
 *
 * Started through npx when any of these hold (checked in this order):
 * - `npm_command` is `exec` (npm 7+ sets it for `npx` and `npm exec`);
 * - `npm_lifecycle_event` is `npx` (the script event npm's exec runs the package under);
 * - the script path (argv[1]) lies in npm's npx cache (`…/_npx/<hash>/node_modules/…`).
 */

export interface Launch {
  /** process.argv */
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
}

const NPX_CACHE = /[\\/]_npx[\\/]/;

export function startedThroughNpx(launch: Launch): boolean {
  const { env, argv } = launch;
  return env.npm_command === 'exec' || env.npm_lifecycle_event === 'npx' || NPX_CACHE.test(argv[1] ?? '');
}

/** A word as a POSIX shell reads it: quoted only when it holds more than URL-safe characters. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9@%_+=:,./~-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that logs in to `serverUrl` from a terminal on this machine. `identity`: the
 * options that are part of the server's key in the store (`--resource`, `--client-id`), so the
 * command reaches the same stored login as the relay.
 */
export function loginCommand(
  serverUrl: string,
  identity: { resource?: string | undefined; clientId?: string | undefined } = {},
  launch: Launch = { argv: process.argv, env: process.env },
): string {
  const words = [startedThroughNpx(launch) ? 'npx -y mcp-relay' : 'mcp-relay', 'login', shellWord(serverUrl)];
  if (identity.resource) words.push('--resource', shellWord(identity.resource));
  if (identity.clientId) words.push('--client-id', shellWord(identity.clientId));
  return words.join(' ');
}
