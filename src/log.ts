/**
 * Logging: pino to stderr (pretty when stderr is a TTY, JSON otherwise) and/or a file.
 * Stdout is the MCP protocol channel: nothing here may ever write to fd 1.
 * Secrets are removed by configuration (redact paths) plus a scrubber for free text,
 * not by the care of each call site.
 */
import { closeSync, fchmodSync, fstatSync, openSync, writeSync } from 'node:fs';
import { RelayError } from './errors.js';
import { pino, type Logger, type LevelWithSilent, type StreamEntry } from 'pino';
import { prettyStderr } from './log-pretty.js';
import { stderrWriter } from './stderr.js';

export type { Logger };

export interface LogOptions {
  level: LevelWithSilent;
  /** Append JSON lines to this file as well. */
  file?: string | undefined;
  /** Force pretty (true) or JSON (false) on stderr; default: pretty when stderr is a TTY. */
  pretty?: boolean | undefined;
  /** Don't log to stderr at all (file only). */
  quietStderr?: boolean | undefined;
}

/** Field names whose values are always secrets, wherever they appear in a log object. */
export const SECRET_KEYS = [
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'code',
  'code_verifier',
  'codeVerifier',
  'verifier',
  'state',
  'authorization',
  'Authorization',
  'password',
  'assertion',
  'client_assertion',
  'token',
  // RFC 9449: the private key DPoP-bound tokens are tied to, and the proof header.
  'dpop_key',
  'dpop',
] as const;

const REDACT_PATHS = [...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]), 'headers.*', '*.headers.*'];

/** Query parameters that carry secrets in URLs we might log (callback URLs, token requests). */
const SECRET_QUERY =
  /((?:^|[?&#\s"',;(])(?:code|state|access_token|refresh_token|id_token|client_secret|code_verifier|token|client_assertion|device_code)=)[^&#\s"',;)]*/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;
/** `DPoP <token>` (RFC 9449 §7.1); only a token-length word, so prose like "a DPoP nonce" stays readable. */
const DPOP_TOKEN = /\b(DPoP)\s+[A-Za-z0-9._~+/=-]{16,}/g;

/** JSON-style `"refresh_token": "…"` (an error page echoing a request body). */
const SECRET_JSON =
  /("(?:code|state|access_token|refresh_token|id_token|client_secret|code_verifier|token|client_assertion|device_code|authorization|password)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
/** Header-style `authorization: …` up to the end of the line or quote. */
const AUTH_HEADER = /(\bauthorization\s*[:=]\s*)(?!\[redacted\])[^\r\n"',}]+/gi;

/** Remove secrets from free text (URLs and form bodies with codes, bearer tokens, echoed JSON or headers). */
export function scrub(text: string): string {
  return text
    .replace(SECRET_QUERY, '$1[redacted]')
    .replace(SECRET_JSON, '$1"[redacted]"')
    .replace(BEARER, '$1 [redacted]')
    .replace(DPOP_TOKEN, '$1 [redacted]')
    .replace(AUTH_HEADER, '$1[redacted]');
}

export function createLogger(opts: LogOptions): Logger {
  const streams: StreamEntry[] = [];
  if (!opts.quietStderr) {
    const usePretty = opts.pretty ?? process.stderr.isTTY === true;
    streams.push({
      level: opts.level as pino.Level,
      // Plain streams only, never pino transports: those run in worker threads loaded by file
      // path, which a bundled build does not have (bin/build.mjs).
      stream: usePretty ? prettyStderr(process.stderr.isTTY === true) : stderrWriter(),
    });
  }
  if (opts.file) streams.push({ level: opts.level as pino.Level, stream: logFileStream(opts.file, opts.quietStderr === true) });
  return pino(
    {
      name: 'mcp-relay',
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        // Free-text messages can carry URLs with codes or tokens: scrub every string argument.
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>);
        },
      },
      serializers: {
        err: (err: unknown) => {
          const e = pino.stdSerializers.err(err as Error);
          return { ...e, message: scrub(String(e.message ?? '')), stack: e.stack ? scrub(e.stack) : undefined };
        },
      },
    },
    pino.multistream(streams),
  );
}

/** Log files hold server URLs and request details: private to the user, like the store. */
const LOG_FILE_MODE = 0o600;

/**
 * The --log-file stream. Opened synchronously so a path that cannot be opened (a missing
 * directory, a directory, no permission) is a clear start-up error (BAD_CONFIG: exit 2) rather
 * than an unhandled 'error' event later. An existing regular file is chmod-ed to 0600 like a new
 * one. A write that fails later (disk full, file system gone) stops file logging with one line on
 * stderr; the relay keeps relaying (losing the log is better than losing the host's answers).
 */
function logFileStream(file: string, quietStderr: boolean): { write(chunk: string): void } {
  let fd: number;
  try {
    fd = openSync(file, 'a', LOG_FILE_MODE);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RelayError(
      'BAD_CONFIG',
      `--log-file ${file}: cannot open it for appending (${code}); check that its directory exists and that it is a writable file`,
      { cause: err },
    );
  }
  try {
    // Only regular files: a device such as /dev/stderr must keep its own mode.
    if (fstatSync(fd).isFile()) fchmodSync(fd, LOG_FILE_MODE);
  } catch (err) {
    closeSync(fd);
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RelayError('BAD_CONFIG', `--log-file ${file}: cannot make it private (chmod 600 failed: ${code})`, { cause: err });
  }
  let failed = false;
  return {
    // Synchronous, like pino.destination({ sync: true }): nothing is lost at process.exit, and a
    // failure is caught here instead of surfacing as an 'error' event nobody listens to.
    write(chunk: string) {
      if (failed) return;
      try {
        writeSync(fd, chunk);
      } catch (err) {
        failed = true;
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        const where = quietStderr ? 'no longer logging' : 'logging to stderr only from now on';
        stderrWriter().write(`mcp-relay: writing the log file ${file} failed (${code}); ${where}\n`);
      }
    },
  };
}

/** A logger that drops everything (unit tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
