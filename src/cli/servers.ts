/**
 * From the relay's command line to the servers it relays: a URL as before, or names from the
 * servers file (config/servers-file.ts), or every server in it with `--all`.
 *
 * The options a file entry may carry are the proxy's flags themselves: {@link relayOptionSpecs}
 * reads them off `connectionOptions`, so a new flag is one place. A file server's values and the
 * command line meet here: a flag given on the command line replaces the file's value for every
 * server named (a repeatable flag, such as --header or --deny-tool, adds to the file's list), and
 * the result goes through toConfig exactly as a command line would.
 */
import type { Argv } from 'yargs';
import type { Config } from '../config/config.js';
import {
  defaultServersFile,
  fileError,
  SERVERS_FILE_ENV,
  SERVERS_FILE_NAME,
  readServersFile,
  type FileServer,
  type OptionSpec,
  type ServersFile,
} from '../config/servers-file.js';
import { RelayError, isRelayError } from '../errors.js';
import { connectionOptions, type ConnectionArgs } from './options.js';
import { toConfig } from './to-config.js';

/** One server the relay is to carry. */
export interface ResolvedServer {
  /** The name in the servers file, or the URL as given for a URL on the command line. */
  name: string;
  /** Validated, with the command line's flags applied over the file's values. */
  config: Config;
  /**
   * For aggregation, the text before `__` in tool and prompt names: the file's `prefix`, else the
   * server's name; null when the file says `"prefix": ""` or `false` (no prefix), and for a URL.
   */
  prefix: string | null;
}

/** The proxy command's parsed arguments: the connection flags plus `--config` and `--all`. */
export interface ServersArgs extends Omit<ConnectionArgs, 'serverUrl' | 'server-url'> {
  serverUrl?: string | string[] | undefined;
  'server-url'?: string | string[] | undefined;
  config?: string | undefined;
  all?: boolean | undefined;
}

/** The proxy command's own additions to `connectionOptions`: names as positionals, `--config`, `--all`. */
export function serverOptions<T>(y: Argv<T>) {
  return y
    .positional('server-url', {
      array: true,
      describe: 'Remote MCP server URL (Streamable HTTP or legacy SSE endpoint), or the name of a server in the servers file',
    })
    .option('config', {
      type: 'string',
      describe: `Servers file ({"mcpServers": {"<name>": {"url": ..., ...}}}); default: $${SERVERS_FILE_ENV}, else ${SERVERS_FILE_NAME} in the config dir`,
      group: 'Servers file:',
    })
    .option('all', { type: 'boolean', default: false, describe: 'Relay every server of the servers file', group: 'Servers file:' });
}

type FlagSettings = { type?: string; array?: boolean; choices?: readonly string[]; alias?: string | readonly string[] };

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

let specsCache: OptionSpec[] | undefined;
/** The flags' defaults, as yargs would fill them in, by file key. */
const defaults: Record<string, unknown> = {};

/**
 * The proxy's flags as file settings, read from `connectionOptions` by handing it a recorder
 * instead of yargs (no yargs needed, and nothing to keep in step by hand).
 */
export function relayOptionSpecs(): OptionSpec[] {
  if (specsCache) return specsCache;
  const specs: OptionSpec[] = [];
  const recorder = {
    positional: () => recorder,
    option: (name: string, s: FlagSettings & { default?: unknown }) => {
      if (s.default !== undefined) defaults[camel(name)] = s.default;
      const type = s.type === 'number' || s.type === 'boolean' ? s.type : 'string';
      specs.push({ key: camel(name), flag: `--${name}`, type, array: s.array === true, choices: s.choices, aliases: [s.alias ?? []].flat() });
      return recorder;
    },
  };
  connectionOptions(recorder as unknown as Argv);
  specsCache = specs;
  return specs;
}

/** Option keys given on the command line (any spelling yargs takes: --a-b, --aB, --no-a-b, -H). */
export function givenOnCommandLine(argv: readonly string[], specs: readonly OptionSpec[]): Set<string> {
  const byName = new Map<string, string>();
  for (const s of specs) {
    byName.set(s.flag.slice(2), s.key);
    byName.set(s.key, s.key);
    for (const a of s.aliases ?? []) byName.set(a, s.key);
  }
  const given = new Set<string>();
  for (const token of argv) {
    if (token === '--') break;
    if (!token.startsWith('-')) continue;
    const name = token.replace(/^--?/, '').split('=', 1)[0]!;
    const key = byName.get(name) ?? byName.get(name.replace(/^no-/, ''));
    if (key !== undefined) given.add(key);
  }
  return given;
}

/** A command-line positional that is a URL rather than a server name. */
export function isUrlArgument(arg: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(arg);
}

/**
 * The servers a relay command line asks for. `argv` is the raw command line (to tell flags given
 * there from yargs' defaults).
 *
 * @throws RelayError `BAD_CONFIG` (exit 2) naming the file, the server and the key.
 */
export function resolveServers(args: ServersArgs, argv: readonly string[], env: NodeJS.ProcessEnv): ResolvedServer[] {
  const raw = args.serverUrl ?? args['server-url'];
  const targets = [...new Set(raw === undefined ? [] : Array.isArray(raw) ? raw : [raw])];
  if (targets.length === 1 && isUrlArgument(targets[0]!) && !args.all) {
    return [{ name: targets[0]!, config: toConfig({ ...args, serverUrl: targets[0]! } as ConnectionArgs, env), prefix: null }];
  }
  if (targets.length === 0 && !args.all) {
    throw new RelayError('BAD_CONFIG', 'missing the server: a URL (mcp-relay https://example.com/mcp) or a name from the servers file (or --all)');
  }
  const url = targets.find(isUrlArgument);
  if (url !== undefined) {
    throw new RelayError('BAD_CONFIG', `give a server URL on its own, or name the servers of the file only; to relay ${url} with others, add it to the file`);
  }
  if (args.all && targets.length > 0) throw new RelayError('BAD_CONFIG', '--all relays every server of the file; give either --all or names');
  const file = args.config ?? defaultServersFile(env);
  const specs = relayOptionSpecs();
  const loaded = readServersFile(file, specs, env);
  if (!loaded) {
    const what = targets.length
      ? `${JSON.stringify(targets[0])} is neither a URL (https://…) nor a server of the servers file: `
      : '--all needs the servers file, but ';
    throw new RelayError('BAD_CONFIG', `${what}${file} does not exist (give --config FILE, or set ${SERVERS_FILE_ENV})`);
  }
  // --all: every entry but local programs and disabled ones; a broken entry is an error, not silently left out.
  const names = args.all ? [...loaded.servers.values()].filter((s) => s.kind === 'invalid' || (s.kind === 'url' && !s.disabled)).map((s) => s.name) : targets;
  if (names.length === 0) throw new RelayError('BAD_CONFIG', `${file} has no URL servers for --all`);
  const given = givenOnCommandLine(argv, specs);
  return names.map((name) => {
    const server = pick(loaded, name);
    return { name, config: serverConfig(server, args, given, specs, loaded.file, env), prefix: server.prefix === undefined ? name : server.prefix };
  });
}

function pick(loaded: ServersFile, name: string): FileServer {
  const server = loaded.servers.get(name);
  if (!server) {
    const known = [...loaded.servers.keys()];
    throw fileError(loaded.file, name, undefined, `no such server; the file names ${known.length ? known.map((n) => JSON.stringify(n)).join(', ') : 'none'}`);
  }
  if (server.kind === 'stdio') {
    throw fileError(loaded.file, name, undefined, 'runs a local program ("command" or "type": "stdio"); mcp-relay relays remote URL servers only');
  }
  if (server.kind === 'invalid') throw server.error;
  return server;
}

/** The file's server with the command line over it, through toConfig like any command line. */
function serverConfig(server: FileServer, args: ServersArgs, given: Set<string>, specs: readonly OptionSpec[], file: string, env: NodeJS.ProcessEnv): Config {
  const merged: Record<string, unknown> = { ...args, serverUrl: server.url, 'server-url': server.url };
  const fromFile = new Set<string>();
  for (const [key, value] of Object.entries(server.options)) {
    if (Array.isArray(value)) {
      merged[key] = [...value, ...(given.has(key) ? ((args as unknown as Record<string, string[] | undefined>)[key] ?? []) : [])];
      fromFile.add(key);
    } else if (!given.has(key)) {
      merged[key] = value;
      fromFile.add(key);
    }
  }
  merged.header = [...server.headers, ...(args.header ?? [])];
  try {
    return toConfig(merged as unknown as ConnectionArgs, env);
  } catch (err) {
    if (!isRelayError(err, 'BAD_CONFIG')) throw err;
    // toConfig names flags; say which of them came from the file, under the file's key.
    let message = err.message;
    for (const s of specs) {
      if (fromFile.has(s.key)) message = message.replace(new RegExp(`${s.flag}(?![\\w-])`, 'g'), `"${s.key}"`);
    }
    if (!given.has('header')) message = message.replace(/--header(?![\w-])/g, '"headers"');
    message = message.replace(/^server URL/, '"url"');
    throw fileError(file, server.name, undefined, message);
  }
}

/**
 * One server of the file by name, with nothing from the command line: what `status NAME` and
 * `logout NAME` need to find the same store entry the relay uses.
 */
export function resolveNamedServer(name: string, configFile: string | undefined, env: NodeJS.ProcessEnv): ResolvedServer {
  relayOptionSpecs();
  const args = { ...structuredClone(defaults), serverUrl: [name], config: configFile } as unknown as ServersArgs;
  return resolveServers(args, [], env)[0]!;
}
