/**
 * mcp-remote's command line, translated to mcp-relay's before yargs parses it, so replacing
 * `mcp-remote` with `mcp-relay` in a host entry is the whole migration.
 *
 * The source of truth is mcp-remote 0.15.1's README and its argument parser: the URL first, an
 * optional callback port right after it (`--header` pairs do not count as positions), and flags
 * matched by exact token (`--flag value`, never `--flag=value`). Each flag maps to mcp-relay's
 * own option; a flag with no counterpart here is dropped with a warning that says why, never a
 * crash; a flag that would weaken security is refused (BAD_CONFIG).
 *
 * Pure apart from `deps.readFile` (`--header-file`, `--static-oauth-client-metadata @file`).
 */
import { createHash } from 'node:crypto';
import { isLoopbackHost } from '../config/config.js';
import { RelayError } from '../errors.js';

export interface CompatDeps {
  readFile(path: string): string;
}

export interface CompatResult {
  /** The argv yargs parses: mcp-relay's spelling. */
  argv: string[];
  /** True when anything was translated, i.e. the command line was written for mcp-remote. */
  translated: boolean;
  /** The same command line for the log: mcp-relay's spelling with secret values elided. */
  spelling: string;
  /** Flags accepted but with no effect here, each with the reason. */
  warnings: string[];
}

/** mcp-remote's `--keep-alive` period when no `--ping-interval` is given (DEFAULT_KEEP_ALIVE_INTERVAL_MS). */
const MCP_REMOTE_KEEP_ALIVE_S = 30;

/** mcp-remote's redirect URI for a static client: http://localhost:<port>/oauth/callback. */
const MCP_REMOTE_CALLBACK_HOST = 'localhost';
const MCP_REMOTE_CALLBACK_PATH = '/oauth/callback';
/** mcp-remote's derived callback port: 3335 + (first 4 hex digits of its server hash) mod 45816. */
const MCP_REMOTE_PORT_BASE = 3335;
const MCP_REMOTE_PORT_RANGE = 45816;

/** What mcp-remote's server hash is made of (its getServerUrlHash), as given on the command line. */
interface HashInputs {
  headers: Record<string, string>;
  authorizeParams: Record<string, string>;
  resource?: string | undefined;
  disableResource: boolean;
  clientMetadataUrl?: string | undefined;
  tokenEndpoint?: string | undefined;
}

/** The callback port mcp-remote derives for a server when none is given. */
export function mcpRemoteDefaultPort(url: string, h: HashInputs): number {
  const parts = [url];
  if (h.resource && !h.disableResource) parts.push(h.resource);
  const params = Object.keys(h.authorizeParams);
  if (params.length > 0) parts.push(JSON.stringify(h.authorizeParams, params.sort()));
  const names = Object.keys(h.headers);
  if (names.length > 0) parts.push(JSON.stringify(h.headers, names.sort()));
  if (h.clientMetadataUrl) parts.push(h.clientMetadataUrl);
  if (h.tokenEndpoint) parts.push(h.tokenEndpoint);
  const hash = createHash('md5').update(parts.join('|')).digest('hex');
  return MCP_REMOTE_PORT_BASE + (Number.parseInt(hash.slice(0, 4), 16) % MCP_REMOTE_PORT_RANGE);
}

/** mcp-remote's header argument: `Name: value` split at the first colon, the name a plain token. */
function headerParts(line: string): [string, string] | undefined {
  const m = /^([A-Za-z0-9_-]+):\s*(.*)$/.exec(line);
  return m ? [m[1]!, m[2]!] : undefined;
}

/** mcp-remote → mcp-relay `--transport` values; mcp-relay's own values pass as they are. */
const TRANSPORTS: Record<string, string> = { 'http-first': 'auto', 'sse-first': 'auto', 'http-only': 'http', 'sse-only': 'sse' };

/** mcp-relay options that take no value (everything else starting with `--` takes the next token). */
const RELAY_BOOLEANS = new Set([
  '--allow-http',
  '--omit-resource',
  '--client-credentials',
  '--device-code',
  '--browser',
  '--no-browser',
  '--debug',
  '--all', // servers file: every server (cli/servers.ts)
  '--help',
  '-h',
  '--version',
]);

/** mcp-remote flags with no counterpart in mcp-relay (value-taking ones first), and why they can go. */
const DROPPED_WITH_VALUE: Record<string, string> = {
  '--protocol': "mcp-relay always detects the server's protocol revision (2025-11-25 or 2026-07-28) itself",
  '--connect-timeout': "mcp-relay's network timeouts are its own; --timeout and --max-time bound each request",
  '--headers-timeout': "mcp-relay's network timeouts are its own; --timeout and --max-time bound each request",
  '--body-timeout': 'mcp-relay never closes a quiet stream for being quiet; --timeout bounds a request without progress',
  '--auth-success-url': 'mcp-relay shows its own page when a login completes',
  '--token-endpoint': 'mcp-relay finds the token endpoint by discovery (RFC 9728, RFC 8414)',
  '--authorize-param': 'mcp-relay sends only the standard authorization parameters; use --scope and --resource',
};
const DROPPED_BOOLEAN: Record<string, string> = {
  '--enable-proxy': 'mcp-relay always honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY',
  '--disable-cookies': 'mcp-relay never keeps cookies',
  '--ipv4': 'mcp-relay connects to whatever address the name resolves to',
  '--use-id-token': 'mcp-relay sends the OAuth access token, which is what MCP authorization specifies',
};

/** Every mcp-remote flag this module translates or accepts (the README test checks its table against it). */
export const MCP_REMOTE_FLAGS: ReadonlySet<string> = new Set([
  '--header',
  '--header-file',
  '--host',
  '--transport',
  '--static-oauth-client-info',
  '--static-oauth-client-metadata',
  '--resource',
  '--disable-resource-parameter',
  '--ignore-tool',
  '--keep-alive',
  '--silent',
  ...Object.keys(DROPPED_WITH_VALUE),
  ...Object.keys(DROPPED_BOOLEAN),
]);

/** `@file` or inline JSON, as mcp-remote reads `--static-oauth-client-metadata`. */
function readJson(raw: string, flag: string, deps: CompatDeps): Record<string, unknown> {
  let text = raw;
  if (raw.startsWith('@')) {
    try {
      text = deps.readFile(raw.slice(1));
    } catch (err) {
      throw new RelayError('BAD_CONFIG', `${flag}: cannot read file ${raw.slice(1)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RelayError('BAD_CONFIG', `${flag} is not valid JSON (give @path/to/file.json or a JSON object)`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RelayError('BAD_CONFIG', `${flag} must be a JSON object`);
  return parsed as Record<string, unknown>;
}

/** `--header-file`: one `Name: value` per line, `#` comments, as mcp-remote reads it. */
function headerFile(path: string, deps: CompatDeps, warnings: string[]): string[] {
  let text: string;
  try {
    text = deps.readFile(path);
  } catch (err) {
    // mcp-remote too fails here: a header file that cannot be read must not mean an unauthenticated request.
    throw new RelayError('BAD_CONFIG', `--header-file: cannot read file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  const out: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    if (/^[A-Za-z0-9_-]+:/.test(t)) out.push(t);
    else warnings.push(`--header-file ${path}: line ${i + 1} is not "Name: value"; ignored`);
  });
  return out;
}

/** Translate an mcp-remote command line (argv after the program name) to mcp-relay's. */
export function fromMcpRemote(input: readonly string[], deps: CompatDeps): CompatResult {
  const out: string[] = [];
  const shown: string[] = [];
  const warnings: string[] = [];
  const positionals: number[] = [];
  let translated = false;
  let silent = false;
  let keepAlive = false;
  const hashed: HashInputs = { headers: {}, authorizeParams: {}, disableResource: false };
  const add = (args: string[], display: string[] = args) => {
    out.push(...args);
    shown.push(...display);
  };
  const has = (flag: string) => input.includes(flag);

  for (let i = 0; i < input.length; i++) {
    const a = input[i]!;
    const next = input[i + 1];
    const value = (): string => {
      if (next === undefined) throw new RelayError('BAD_CONFIG', `${a} needs a value`);
      i++;
      return next;
    };
    if (!a.startsWith('-') || a === '-') {
      positionals.push(out.length);
      add([a]);
      continue;
    }
    if (a === '--header') {
      const v = value();
      const kv = headerParts(v);
      if (kv) hashed.headers[kv[0]] = kv[1];
      add([a, v], [a, `'${v.split(':', 1)[0]}: …'`]);
    } else if (a === '--header-file') {
      translated = true;
      for (const h of headerFile(value(), deps, warnings)) {
        const kv = headerParts(h);
        if (kv) hashed.headers[kv[0]] = kv[1];
        add(['--header', h], ['--header', `'${h.split(':', 1)[0]}: …'`]);
      }
    } else if (a === '--host') {
      translated = true;
      const host = value();
      // RFC 8252 §8.3: the redirect listener is loopback only; a code sent elsewhere can be stolen.
      if (!isLoopbackHost(host.replace(/^\[|\]$/g, ''))) {
        throw new RelayError(
          'BAD_CONFIG',
          `--host ${JSON.stringify(host)}: mcp-relay receives the login callback on a loopback address only (127.0.0.1, ::1 or localhost), so the authorization code never leaves this machine`,
        );
      }
      add(['--callback-host', host]);
    } else if (a === '--transport') {
      const v = value();
      const mapped = TRANSPORTS[v];
      if (mapped !== undefined) {
        translated = true;
        if (v === 'sse-first') warnings.push('--transport sse-first: mcp-relay tries Streamable HTTP first and falls back to SSE (--transport auto)');
        add(['--transport', mapped]);
      } else add([a, v]);
    } else if (a === '--static-oauth-client-info') {
      translated = true;
      const v = value();
      add(['--client-info', v], ['--client-info', v.startsWith('@') ? v : "'{…}'"]);
    } else if (a === '--static-oauth-client-metadata') {
      translated = true;
      const meta = readJson(value(), a, deps);
      for (const key of Object.keys(meta)) {
        if (key === 'scope' && typeof meta.scope === 'string') add(['--scope', meta.scope]);
        else warnings.push(`--static-oauth-client-metadata "${key}": mcp-relay chooses this itself from the server's metadata; ignored`);
      }
    } else if (a === '--resource') {
      const v = value();
      hashed.resource = v.trim();
      if (v.trim() === '') {
        translated = true;
        add(['--omit-resource']);
      } else add([a, v.trim()]);
    } else if (a === '--disable-resource-parameter') {
      translated = true;
      hashed.disableResource = true;
      add(['--omit-resource']);
    } else if (a === '--ignore-tool') {
      translated = true;
      add(['--deny-tool', value()]);
    } else if (a === '--keep-alive') {
      translated = true;
      keepAlive = true;
    } else if (a === '--silent') {
      translated = true;
      silent = true;
    } else if (a in DROPPED_WITH_VALUE) {
      translated = true;
      const v = value();
      if (a === '--token-endpoint') hashed.tokenEndpoint = v.trim();
      if (a === '--authorize-param' && v.indexOf('=') > 0) hashed.authorizeParams[v.slice(0, v.indexOf('=')).trim()] = v.slice(v.indexOf('=') + 1);
      warnings.push(`${a} ${a === '--authorize-param' ? `${v.split('=', 1)[0]}=…` : v}: ignored, ${DROPPED_WITH_VALUE[a]}`);
    } else if (a in DROPPED_BOOLEAN) {
      translated = true;
      warnings.push(`${a}: not needed, ${DROPPED_BOOLEAN[a]}`);
    } else if (a.startsWith('--') && !a.includes('=') && !RELAY_BOOLEANS.has(a) && next !== undefined) {
      // One of mcp-relay's own value options (or an unknown one, for yargs to report).
      const v = value();
      if (a === '--client-metadata-url') hashed.clientMetadataUrl = v.trim();
      add([a, v]);
    } else add([a]);
  }

  if (keepAlive && !has('--ping-interval')) add(['--ping-interval', String(MCP_REMOTE_KEEP_ALIVE_S)]);
  // mcp-remote: --debug wins over --silent. Errors still reach the host's log, so a relay that
  // cannot start says why.
  if (silent && !has('--debug') && !has('--log-level')) add(['--log-level', 'error']);

  // The callback port: the positional right after the URL, as mcp-remote reads it.
  if (positionals.length >= 2 && /^\d+$/.test(out[positionals[1]!]!)) {
    translated = true;
    const at = positionals[1]!;
    const port = out[at]!;
    out.splice(at, 1, '--callback-port', port);
    shown.splice(at, 1, '--callback-port', port);
  }
  // A static client was registered with mcp-remote's redirect URI, http://localhost:<port>/oauth/callback
  // (the port given, else derived from the server): listen exactly there so the authorization
  // server still accepts it.
  if (has('--static-oauth-client-info') && !has('--client-credentials') && !has('--device-code') && positionals.length > 0) {
    translated = true;
    if (!has('--host') && !has('--callback-host')) add(['--callback-host', MCP_REMOTE_CALLBACK_HOST]);
    if (!has('--callback-path')) add(['--callback-path', MCP_REMOTE_CALLBACK_PATH]);
    if (!out.includes('--callback-port')) add(['--callback-port', String(mcpRemoteDefaultPort(out[positionals[0]!]!, hashed))]);
  }
  // The URL first, so no array option (--header, --deny-tool) takes it as one of its values.
  if (translated && positionals.length > 0 && positionals[0] !== 0) {
    const at = positionals[0]!;
    out.unshift(...out.splice(at, 1));
    shown.unshift(...shown.splice(at, 1));
  }
  if (!translated) return { argv: [...input], translated, spelling: '', warnings };
  return { argv: out, translated, spelling: ['mcp-relay', ...shown].join(' '), warnings };
}
