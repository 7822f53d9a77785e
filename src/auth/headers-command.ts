/**
 * Credentials from a command (`--headers-command`): what company SSO CLIs print
 * (`gcloud auth print-access-token`, `az account get-access-token`, internal tools). The command
 * runs without a shell; its standard output is a JSON object of headers, `Name: value` lines, or
 * a bare token (sent as `Authorization: Bearer <token>`). It runs at start, again when the server
 * refuses what it gave (once per refusal: concurrent 401s for the same value share one run), and
 * again when its output is older than `--headers-ttl`. Its output never reaches a log; a failure
 * (exit code, signal, 30 s timeout, unusable output) is a HEADERS_COMMAND error with the tail of
 * its stderr.
 */
import { execFile } from 'node:child_process';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AuthHook, UnauthorizedInfo } from './hook.js';

/** A command that does not finish in this long is killed and reported. */
export const HEADERS_COMMAND_TIMEOUT_MS = 30_000;
/** More output than this is not a set of headers. */
const MAX_OUTPUT_BYTES = 256 * 1024;
/** How much of the command's stderr an error quotes. */
const STDERR_TAIL_CHARS = 400;
/** RFC 6750 §2.1: what a bearer token may look like (a bare line of output is taken as one). */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** RFC 9110 §5.1: a field name is a token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export interface HeadersCommandOptions {
  /** The command's words (config/words.ts). */
  argv: string[];
  /** Re-run when the last output is older than this (0: only at start and on refusal). */
  ttlMs: number;
  env: NodeJS.ProcessEnv;
  log: Logger;
  now?: () => number;
}

/** Parse the command's output into headers (pure; the unit tests feed it directly). */
export function parseHeadersOutput(stdout: string): Record<string, string> {
  const text = stdout.trim();
  if (!text) throw new RelayError('HEADERS_COMMAND', 'the command printed nothing');
  const headers: Record<string, string> = {};
  const put = (name: string, value: unknown, where: string) => {
    if (!TOKEN.test(name)) throw new RelayError('HEADERS_COMMAND', `${where}: "${name.slice(0, 40)}" is not a header name`);
    if (typeof value !== 'string' || /[\r\n\0]/.test(value))
      throw new RelayError('HEADERS_COMMAND', `${where}: the value of ${name} must be a string on one line`);
    headers[name.toLowerCase()] = value.trim();
  };
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new RelayError('HEADERS_COMMAND', 'the command printed something that starts like JSON but is not valid JSON');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new RelayError('HEADERS_COMMAND', 'the JSON the command printed must be an object of headers');
    for (const [name, value] of Object.entries(parsed)) put(name, value, 'its JSON');
    return headers;
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 1 && B64TOKEN.test(lines[0]!.trim())) {
    // A bare token, as `gcloud auth print-access-token` prints it.
    headers.authorization = `Bearer ${lines[0]!.trim()}`;
    return headers;
  }
  lines.forEach((line, i) => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new RelayError('HEADERS_COMMAND', `line ${i + 1} of its output is not "Name: value"`);
    put(line.slice(0, colon).trim(), line.slice(colon + 1), `line ${i + 1} of its output`);
  });
  return headers;
}

export class HeadersCommand implements AuthHook {
  private current: { headers: Record<string, string>; at: number } | undefined;
  private running: Promise<void> | undefined;
  private readonly now: () => number;
  constructor(private readonly o: HeadersCommandOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Run the command now (single flight) and keep its headers. */
  refresh(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** The headers to send, running the command first when there are none yet or they are past their TTL. */
  async headers(): Promise<Record<string, string>> {
    if (!this.current || (this.o.ttlMs > 0 && this.now() - this.current.at >= this.o.ttlMs)) await this.refresh();
    const { authorization: _omit, ...rest } = this.current!.headers;
    return rest;
  }

  async authorization(): Promise<string | undefined> {
    if (!this.current || (this.o.ttlMs > 0 && this.now() - this.current.at >= this.o.ttlMs)) await this.refresh();
    return this.current!.headers.authorization;
  }

  /** Whether the last output carried an Authorization header (then it replaces the OAuth login). */
  get hasAuthorization(): boolean {
    return this.current?.headers.authorization !== undefined;
  }

  /**
   * The server refused what the command gave: run it once more, unless another request's refusal
   * already did since this request's headers were taken (the value it sent is not current).
   */
  async unauthorized(info: UnauthorizedInfo): Promise<void> {
    if (this.running) return this.running;
    if (info.rejected !== undefined && this.current && info.rejected !== this.current.headers.authorization) return;
    this.o.log.info(`the server refused the headers from --headers-command (HTTP ${info.status}); running it again`);
    await this.refresh();
  }

  private async run(): Promise<void> {
    const [file, ...args] = this.o.argv;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(file!, args, { env: this.o.env, timeout: HEADERS_COMMAND_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, windowsHide: true }, (err, out, errText) => {
        if (!err) return resolve(out);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: string | number | null };
        const tail = String(errText ?? '')
          .trim()
          .slice(-STDERR_TAIL_CHARS);
        const why =
          e.code === 'ENOENT'
            ? `${file} was not found (is it on the PATH?)`
            : e.killed && e.signal === 'SIGTERM'
              ? `it did not finish within ${HEADERS_COMMAND_TIMEOUT_MS / 1000} s`
              : e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'
                ? `it printed more than ${MAX_OUTPUT_BYTES / 1024} KiB`
                : typeof e.code === 'number'
                  ? `it exited with code ${e.code}`
                  : `it failed (${e.signal ?? e.code ?? 'unknown'})`;
        reject(new RelayError('HEADERS_COMMAND', `--headers-command: ${why}${tail ? `; its stderr ends: ${tail}` : ''}`, { cause: err }));
      });
    });
    let headers: Record<string, string>;
    try {
      headers = parseHeadersOutput(stdout);
    } catch (err) {
      throw err instanceof RelayError ? new RelayError('HEADERS_COMMAND', `--headers-command: ${err.message}`) : err;
    }
    this.current = { headers, at: this.now() };
    this.o.log.info({ headers: Object.keys(headers) }, 'ran --headers-command');
  }
}
