/**
 * The relay's command line without yargs, for the plain case a host writes: server URLs or names,
 * then `--flag value` / `--flag=value` / `-H value` / `--bool` / `--no-bool`.
 *
 * Every relay a host starts used to load yargs to read that line: 2 MiB of resident memory and a
 * fifth of its start-up instructions (docs/performance.md, "Issue 16 goals"). The flags are
 * still the ones of `connectionOptions` and `serverOptions` (read off them with a recorder, as
 * servers.ts does for the servers file), so there is one option list. Anything that is not
 * plainly one of them, or that yargs would read in a way of its own, returns `undefined` and
 * main.ts hands the line to yargs, which then parses (or refuses, or prints help) as always:
 * unknown or camelCase flags, `--help`, `--version`, `--`, short flags other than the aliases,
 * a flag given twice, a value that starts with `-`, a number that is not plain decimal, a value
 * outside its choices, `--bool true|false` (yargs takes the word as the value), and a repeatable
 * flag followed by a second word (yargs would add it to the list). test/unit/plain-argv.test.ts
 * checks the result against yargs' own.
 */
import type { Argv } from 'yargs';
import { connectionOptions } from './options.js';
import { type ServersArgs, serverOptions } from './servers.js';

interface FlagSpec {
  name: string;
  type: 'string' | 'number' | 'boolean';
  array: boolean;
  choices: readonly string[] | undefined;
  aliases: string[];
  default: unknown;
}

type RecordedSettings = {
  type?: string;
  array?: boolean;
  choices?: readonly string[];
  alias?: string | readonly string[];
  default?: unknown;
};

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** A decimal number as yargs reads it unchanged (no exponents, hex, signs or spaces). */
const PLAIN_NUMBER = /^\d+(\.\d+)?$/;

let flagsCache: Map<string, FlagSpec> | undefined;

/** The proxy command's flags by every name a plain command line may use (`header`, `H`, ...). */
function relayFlags(): Map<string, FlagSpec> {
  if (flagsCache) return flagsCache;
  const flags = new Map<string, FlagSpec>();
  const recorder = {
    positional: () => recorder,
    option: (name: string, s: RecordedSettings) => {
      const type = s.type === 'number' || s.type === 'boolean' ? s.type : 'string';
      const spec: FlagSpec = { name, type, array: s.array === true, choices: s.choices, aliases: [s.alias ?? []].flat(), default: s.default };
      for (const n of [name, ...spec.aliases]) flags.set(n, spec);
      return recorder;
    },
  };
  serverOptions(connectionOptions(recorder as unknown as Argv));
  flagsCache = flags;
  return flags;
}

/** A value as yargs would type it, or undefined where yargs would read it otherwise (or refuse it). */
function typedValue(spec: FlagSpec, raw: string): unknown {
  if (spec.choices && !spec.choices.includes(raw)) return undefined;
  if (spec.type === 'number') return PLAIN_NUMBER.test(raw) ? Number(raw) : undefined;
  return raw;
}

/**
 * The proxy command's arguments, shaped as yargs gives them to its handler (every flag under its
 * own name, its camelCase and its aliases, defaults filled in), or undefined: use yargs.
 */
export function parsePlainRelayArgv(argv: readonly string[]): ServersArgs | undefined {
  let flags: Map<string, FlagSpec>;
  try {
    flags = relayFlags();
  } catch {
    // connectionOptions used a yargs method the recorder lacks: yargs reads the line.
    return undefined;
  }
  const given = new Map<FlagSpec, unknown>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith('-')) {
      // A word yargs would turn into a number is left to it.
      if (token === '' || PLAIN_NUMBER.test(token)) return undefined;
      positionals.push(token);
      continue;
    }
    const long = token.startsWith('--');
    if (!long && token.length !== 2) return undefined;
    const eq = long ? token.indexOf('=') : -1;
    const name = token.slice(long ? 2 : 1, eq === -1 ? undefined : eq);
    let spec = flags.get(name);
    let value: unknown;
    if (spec === undefined && long && eq === -1 && name.startsWith('no-')) {
      spec = flags.get(name.slice(3));
      if (spec?.type !== 'boolean') return undefined;
      value = false;
    } else if (spec === undefined) {
      return undefined;
    } else if (spec.type === 'boolean') {
      if (eq !== -1) return undefined;
      value = true;
    } else {
      const raw = eq !== -1 ? token.slice(eq + 1) : argv[++i];
      if (raw === undefined || raw.startsWith('-')) return undefined;
      value = typedValue(spec, raw);
      if (value === undefined) return undefined;
    }
    const next = argv[i + 1];
    // `--bool false` (yargs reads the word as its value), `-H a b` (yargs adds b to the list).
    if (spec.type === 'boolean' && (next === 'true' || next === 'false')) return undefined;
    if (spec.array && next !== undefined && !next.startsWith('-')) return undefined;
    if (given.has(spec) && !spec.array) return undefined;
    given.set(spec, spec.array ? [...((given.get(spec) as unknown[] | undefined) ?? []), value] : value);
  }
  if (positionals.length === 0) return undefined;
  const args: Record<string, unknown> = { _: [], $0: 'mcp-relay' };
  for (const spec of new Set(flags.values())) {
    const value = given.has(spec) ? given.get(spec) : spec.default;
    if (value === undefined) continue;
    for (const key of new Set([spec.name, camel(spec.name), ...spec.aliases])) args[key] = value;
  }
  args['server-url'] = positionals;
  args.serverUrl = positionals;
  return args as unknown as ServersArgs;
}
