/**
 * Human-readable log lines for a person at a terminal (log.ts uses it when stderr is a TTY).
 *
 * This replaces pino-pretty: hosts pipe stderr and get JSON, so the pretty form only serves a
 * person running the relay by hand, and pino-pretty's dependency tree (and its worker-thread
 * transport, which does not survive bundling) cost every install for it. The input is one of
 * pino's JSON lines, already redacted and scrubbed by log.ts; the output is
 * `HH:MM:ss.mmm LEVEL (name): message` plus the remaining fields as JSON, and the error stack
 * on its own lines.
 */
import { stderrWriter } from './stderr.js';

/** pino's numeric levels (pino.levels.values). */
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** ANSI colours per level, as pino-pretty shows them. */
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '34', 30: '32', 40: '33', 50: '31', 60: '41' };
/** Fields shown in the line's head, or dropped as noise for a person (pid, hostname). */
const HEAD_FIELDS = new Set(['level', 'time', 'name', 'msg', 'pid', 'hostname', 'err']);

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Local wall-clock time as HH:MM:ss.mmm. */
function clock(time: unknown): string {
  const d = new Date(typeof time === 'number' ? time : Date.now());
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** One pino JSON line as a readable line (lines that are not JSON objects pass through as they are). */
export function prettyLine(line: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return line.endsWith('\n') ? line : `${line}\n`;
    entry = parsed as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const name = LEVEL_NAMES[level] ?? `LEVEL${level}`;
  const shownLevel = colour ? `\u001b[${LEVEL_COLOURS[level] ?? '0'}m${name}\u001b[39m` : name;
  const rest = Object.fromEntries(Object.entries(entry).filter(([k]) => !HEAD_FIELDS.has(k)));
  const err = entry.err as { type?: unknown; message?: unknown; stack?: unknown } | undefined;
  let text = `${clock(entry.time)} ${shownLevel} (${String(entry.name ?? 'mcp-relay')}): ${String(entry.msg ?? '')}`;
  if (Object.keys(rest).length > 0) text += ` ${JSON.stringify(rest)}`;
  if (err && typeof err === 'object') text += `\n    ${typeof err.stack === 'string' ? err.stack.replace(/\n/g, '\n    ') : String(err.message)}`;
  return `${text}\n`;
}

/** A pino destination that writes each line pretty to stderr (never blocking: see stderr.ts). */
export function prettyStderr(colour: boolean): { write(chunk: string): void } {
  const out = stderrWriter();
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(prettyLine(line, colour));
    },
  };
}
