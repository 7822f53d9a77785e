/**
 * Named servers in a JSON file (`--config FILE`, else `servers.json` in the user config dir).
 *
 * The file has the shape hosts already use: `{"mcpServers": {"<name>": {"url": ..., "headers":
 * {...}, ...}}}`, or VS Code's `{"servers": {...}}`. Each entry carries relay options under the
 * command-line flag names camel-cased (`clientId` for `--client-id`; a boolean flag by its own
 * name, so `--no-browser` is `"browser": false`), plus `prefix` for aggregation. Which options
 * exist, and their types, is not listed here: the caller passes the specs derived from the yargs
 * flags (cli/servers.ts), so a new flag is valid in the file without touching this module. This
 * module only checks the file's shape and each value's JSON type; the values then go through
 * exactly the parsers the flags go through (cli/options.ts toConfig).
 *
 * Errors are RelayError('BAD_CONFIG') naming the file, the server and the key, with a structured
 * `cause` ({ file, server, key }); they never quote a value (headers and secrets live here), only
 * the allowed choices of an enumerated option.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { RelayError } from '../errors.js';
import { expandEnv } from './config.js';

/** Name of the default servers file inside the user config directory. */
export const SERVERS_FILE_NAME = 'servers.json';
/** Environment variable naming the servers file to use when `--config` is not given. */
export const SERVERS_FILE_ENV = 'MCP_RELAY_CONFIG';
/** The config directory's application name (as store/paths.ts APP_NAME; config sits below store). */
const APP_DIR_NAME = 'mcp-relay';

/** One relay option as the file may carry it: derived from a command-line flag. */
export interface OptionSpec {
  /** The key in the file: the flag's name camel-cased (`clientId`). */
  key: string;
  /** The flag as the user types it (`--client-id`), for messages. */
  flag: string;
  type: 'string' | 'number' | 'boolean';
  /** Repeatable flag: a JSON array of `type` in the file. */
  array: boolean;
  /** Allowed values of an enumerated flag. */
  choices?: readonly string[] | undefined;
  /** Other spellings on the command line (`H` for `--header`), to tell what was given there. */
  aliases?: readonly string[] | undefined;
}

export type OptionValue = string | number | boolean | string[];

/** A URL server from the file, checked for shape and types (not yet for meaning). */
export interface FileServer {
  kind: 'url';
  name: string;
  /** `url` with ${ENV} expanded (parsed and checked later, by parseServerUrl). */
  url: string;
  /** `headers` as "Name: value" lines for parseHeaders, which expands ${ENV} in values. */
  headers: string[];
  /** `prefix`: absent (undefined), a string, or null for "" / false (no prefix). */
  prefix: string | null | undefined;
  /** The relay options present in the entry, by key. */
  options: Record<string, OptionValue>;
  /** The host's `"disabled": true`: left out of `--all`, still relayed when named. */
  disabled: boolean;
}

/** An entry that launches a local program (`command`, `"type": "stdio"`): not a relay server. */
export interface FileStdioEntry {
  kind: 'stdio';
  name: string;
}

/**
 * An entry with a mistake. Kept rather than thrown, so one broken entry does not stop the others
 * from being used; naming it (or `--all`) raises its error.
 */
export interface FileBadEntry {
  kind: 'invalid';
  name: string;
  error: RelayError;
}

export type FileEntry = FileServer | FileStdioEntry | FileBadEntry;

export interface ServersFile {
  file: string;
  servers: Map<string, FileEntry>;
}

/**
 * The servers file to read: `$MCP_RELAY_CONFIG` when set and not empty, otherwise
 * `servers.json` in the platform config directory from env-paths (`~/.config/mcp-relay` on
 * Linux, honouring XDG_CONFIG_HOME; `~/Library/Preferences/mcp-relay`; `%APPDATA%\mcp-relay\Config`).
 */
export function defaultServersFile(env: NodeJS.ProcessEnv): string {
  const override = env[SERVERS_FILE_ENV];
  if (override !== undefined && override !== '') return override;
  return join(envPaths(APP_DIR_NAME, { suffix: '' }).config, SERVERS_FILE_NAME);
}

/** Error naming where in the file the problem is; `cause` carries the same fields for code. */
export function fileError(file: string, server: string | undefined, key: string | undefined, problem: string): RelayError {
  const where = [file, server !== undefined ? `server ${JSON.stringify(server)}` : undefined, key !== undefined ? `"${key}"` : undefined]
    .filter(Boolean)
    .join(', ');
  return new RelayError('BAD_CONFIG', `${where}: ${problem}`, { cause: { file, server, key } });
}

/**
 * Read and check the servers file. Returns undefined when the file does not exist (the caller
 * decides whether that is an error: it is for `--config FILE` and for a name).
 */
export function readServersFile(file: string, options: readonly OptionSpec[], env: NodeJS.ProcessEnv): ServersFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw fileError(file, undefined, undefined, `cannot read the file (${code ?? 'error'})`);
  }
  return parseServersFile(text, file, options, env);
}

/** Line and column (1-based) of a character offset, for JSON syntax errors. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/**
 * Where JSON.parse stopped. V8 says "at position N" (Node 20) or "(line L column C)" (Node 22+);
 * its message is never shown because it quotes the text around the error, which may be a secret.
 */
function syntaxErrorPlace(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : '';
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return `line ${lc[1]}, column ${lc[2]}`;
  const pos = /position (\d+)/.exec(message);
  if (pos) return lineColumn(text, Number(pos[1]));
  return /end of (JSON )?input/i.test(message) ? 'the end (it stops early)' : 'an unknown place';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Edit distance, for "did you mean" on an unknown key. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Most edits for a suggestion to be worth showing. */
const MAX_SUGGESTION_DISTANCE = 3;

/** The known key closest to `key` (a flag spelling like `client-id` finds `clientId`). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const camel = key.replace(/^-+/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = Math.min(distance(camel.toLowerCase(), k.toLowerCase()), distance(key, k));
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(MAX_SUGGESTION_DISTANCE, Math.floor(key.length / 3)) ? best : undefined;
}

/** Keys an entry may have besides the relay options. `type` is the hosts' transport kind. */
const ENTRY_KEYS = ['url', 'headers', 'prefix', 'type'] as const;
/**
 * Keys hosts keep in their own entries (Cline, Roo Code: `disabled`, `autoApprove`, `alwaysAllow`;
 * several: `description`), accepted and ignored so a host's config file can be used as it is.
 * `"disabled": true` leaves the entry out of `--all`.
 */
const HOST_KEYS = new Set(['disabled', 'autoApprove', 'alwaysAllow', 'description']);
/** Values of `type` for a remote server (VS Code "http"/"sse", Claude Code "http"/"sse", others "streamable-http"). */
const URL_TYPES = new Set(['http', 'sse', 'streamable-http', 'streamableHttp']);
/** Options the file may not set: they are about the command line itself. */
const NOT_IN_FILE = new Set(['help', 'version', 'config', 'all']);

/**
 * Pure: the file's text → its servers. Throws BAD_CONFIG naming the file for a file that is not
 * JSON or not shaped as a servers file; a bad entry becomes a {@link FileBadEntry}.
 */
export function parseServersFile(text: string, file: string, options: readonly OptionSpec[], env: NodeJS.ProcessEnv): ServersFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fileError(file, undefined, undefined, `is not valid JSON: the syntax breaks at ${syntaxErrorPlace(err, text)}`);
  }
  if (!isObject(doc)) throw fileError(file, undefined, undefined, `must be a JSON object with "mcpServers" (got ${jsonType(doc)})`);
  const sections = (['mcpServers', 'servers'] as const).filter((k) => k in doc);
  if (sections.length === 0) throw fileError(file, undefined, undefined, 'has no "mcpServers" (or VS Code "servers") object');
  const specs = options.filter((o) => !NOT_IN_FILE.has(o.key));
  const servers = new Map<string, FileEntry>();
  for (const section of sections) {
    const entries = doc[section];
    if (!isObject(entries)) throw fileError(file, undefined, section, `must be an object of servers by name (got ${jsonType(entries)})`);
    for (const [name, entry] of Object.entries(entries)) {
      if (servers.has(name)) throw fileError(file, name, undefined, 'is named in both "mcpServers" and "servers"; keep one');
      try {
        servers.set(name, parseEntry(file, name, entry, specs, env));
      } catch (err) {
        if (!(err instanceof RelayError)) throw err;
        servers.set(name, { kind: 'invalid', name, error: err });
      }
    }
  }
  return { file, servers };
}

function parseEntry(file: string, name: string, entry: unknown, specs: readonly OptionSpec[], env: NodeJS.ProcessEnv): FileServer | FileStdioEntry {
  const err = (key: string | undefined, problem: string) => fileError(file, name, key, problem);
  if (!isObject(entry)) throw err(undefined, `must be an object with "url" (got ${jsonType(entry)})`);
  // A host's local-program entry: not ours, and not checked; an error only if it is asked for.
  if ('command' in entry || entry.type === 'stdio') return { kind: 'stdio', name };
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const options: Record<string, OptionValue> = {};
  for (const [key, value] of Object.entries(entry)) {
    if ((ENTRY_KEYS as readonly string[]).includes(key) || HOST_KEYS.has(key)) continue;
    const spec = byKey.get(key);
    if (!spec) {
      const hint = closestKey(key, [...ENTRY_KEYS, ...byKey.keys()]);
      throw err(
        key,
        `is not a setting mcp-relay knows${hint ? `; did you mean "${hint}"?` : ' (settings are the command-line flags camel-cased, e.g. "clientId")'}`,
      );
    }
    options[key] = optionValue(spec, value, (problem) => err(key, problem));
  }
  if (entry.type !== undefined && (typeof entry.type !== 'string' || !URL_TYPES.has(entry.type))) {
    throw err(
      'type',
      `must be one of ${[...URL_TYPES].join(', ')} or "stdio" (got ${typeof entry.type === 'string' ? JSON.stringify(entry.type) : jsonType(entry.type)})`,
    );
  }
  // "type": "sse" is the host's way of saying the legacy transport; an explicit "transport" wins.
  if (entry.type === 'sse' && options.transport === undefined) options.transport = 'sse';
  if (typeof entry.url !== 'string' || entry.url.trim() === '') {
    throw err('url', entry.url === undefined ? 'is missing: give the remote server URL' : `must be a URL string (got ${jsonType(entry.url)})`);
  }
  return {
    kind: 'url',
    name,
    url: expandIn(entry.url, env, err, 'url'),
    headers: headerLines(entry.headers, err),
    prefix: prefixOf(entry.prefix, err),
    options,
    disabled: entry.disabled === true,
  };
}

/** ${ENV} expansion with the error naming the file's key instead of a flag. */
function expandIn(value: string, env: NodeJS.ProcessEnv, err: (key: string, problem: string) => RelayError, key: string): string {
  try {
    return expandEnv(value, env, key);
  } catch {
    const name = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(value.replace(/\$\$\{/g, ''))?.[1] ?? '';
    throw err(key, `uses \${${name}} but the environment variable ${name} is not set`);
  }
}

/** `headers`: an object of string values (expanded later by parseHeaders, as for --header). */
function headerLines(headers: unknown, err: (key: string, problem: string) => RelayError): string[] {
  if (headers === undefined) return [];
  if (!isObject(headers)) throw err('headers', `must be an object of "Name": "value" (got ${jsonType(headers)})`);
  return Object.entries(headers).map(([n, v]) => {
    if (typeof v !== 'string') throw err(`headers.${n}`, `must be a string (got ${jsonType(v)})`);
    if (n.trim() === '' || n.includes(':')) throw err('headers', `has a header name that is empty or holds a colon`);
    return `${n}: ${v}`;
  });
}

/** Characters a prefix may hold: those of an MCP tool name (2025-11-25 server/tools, tool names). */
const PREFIX_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

function prefixOf(prefix: unknown, err: (key: string, problem: string) => RelayError): string | null | undefined {
  if (prefix === undefined) return undefined;
  if (prefix === false || prefix === '') return null;
  if (typeof prefix !== 'string') throw err('prefix', `must be a string, or "" or false for none (got ${jsonType(prefix)})`);
  if (!PREFIX_PATTERN.test(prefix)) throw err('prefix', 'may hold only letters, digits, "_", "-" and "." (at most 64)');
  return prefix;
}

function optionValue(spec: OptionSpec, value: unknown, err: (problem: string) => RelayError): OptionValue {
  if (spec.array) {
    if (!Array.isArray(value) || !value.every((v) => typeof v === spec.type)) {
      throw err(`must be an array of ${spec.type}s, like ${spec.flag} repeated (got ${jsonType(value)})`);
    }
    return value as string[];
  }
  if (typeof value !== spec.type) throw err(`must be a ${spec.type}, like ${spec.flag} (got ${jsonType(value)})`);
  if (spec.type === 'number' && !Number.isFinite(value)) throw err('must be a finite number');
  if (spec.choices && !spec.choices.includes(value as string)) {
    // Only enumerated values are quoted back: they are never secrets.
    throw err(`must be one of ${spec.choices.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return value as OptionValue;
}
