/**
 * Logging: pino to stderr (pretty when stderr is a TTY, JSON otherwise) and/or a file.
 * Stdout is the MCP protocol channel: nothing here may ever write to fd 1.
 * Secrets are removed by configuration (redact paths) plus a scrubber for free text,
 * not by the care of each call site.
 */
import { createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent, type StreamEntry } from 'pino';
import type PinoPretty from 'pino-pretty';
import { stderrWriter } from './stderr.js';

/** pino-pretty is only for a person at a terminal; hosts pipe stderr, so load it on demand. */
function loadPretty(): typeof PinoPretty {
  return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
}

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
] as const;

const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  'headers.*',
  '*.headers.*',
];

/** Query parameters that carry secrets in URLs we might log (callback URLs, token requests). */
const SECRET_QUERY = /((?:^|[?&#\s"',;(])(?:code|state|access_token|refresh_token|id_token|client_secret|code_verifier|token|client_assertion|device_code)=)[^&#\s"',;)]*/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;

/** JSON-style `"refresh_token": "…"` (an error page echoing a request body). */
const SECRET_JSON = /("(?:code|state|access_token|refresh_token|id_token|client_secret|code_verifier|token|client_assertion|device_code|authorization|password)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
/** Header-style `authorization: …` up to the end of the line or quote. */
const AUTH_HEADER = /(\bauthorization\s*[:=]\s*)(?!\[redacted\])[^\r\n"',}]+/gi;

/** Remove secrets from free text (URLs and form bodies with codes, bearer tokens, echoed JSON or headers). */
export function scrub(text: string): string {
  return text
    .replace(SECRET_QUERY, '$1[redacted]')
    .replace(SECRET_JSON, '$1"[redacted]"')
    .replace(BEARER, '$1 [redacted]')
    .replace(AUTH_HEADER, '$1[redacted]');
}

export function createLogger(opts: LogOptions): Logger {
  const streams: StreamEntry[] = [];
  if (!opts.quietStderr) {
    const usePretty = opts.pretty ?? process.stderr.isTTY === true;
    streams.push({
      level: opts.level as pino.Level,
      stream: usePretty
        ? loadPretty()({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' })
        : stderrWriter(),
    });
  }
  if (opts.file) {
    streams.push({ level: opts.level as pino.Level, stream: createWriteStream(opts.file, { flags: 'a', mode: 0o600 }) });
  }
  return pino(
    {
      name: 'mcp-relay',
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        // Free-text messages can carry URLs with codes or tokens: scrub every string argument.
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>,
          );
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

/** A logger that drops everything (unit tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
