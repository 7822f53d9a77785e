/**
 * The invariants of the randomized test (test/e2e/invariants.test.ts), checked on what the host
 * saw: the relay's stdout lines.
 * - stdout carries only JSON-RPC 2.0 messages (MCP 2025-11-25 transports, stdio: the server MUST
 *   NOT write anything to stdout that is not a valid MCP message);
 * - every host request with a valid id is answered exactly once (no answer missing, none twice,
 *   none to an id the host never sent);
 * - every invalid line that calls for an answer gets one error with id null (JSON-RPC 2.0 §5).
 */

/** An id as a map key that keeps 7 and "7" apart. */
export function idKey(id: unknown): string {
  return JSON.stringify(id);
}

export interface Expected {
  /** idKey → how many answers the host must see for that id (one per request sent with it). */
  answers: Map<string, number>;
  /** How many errors with id null the host must see (one per invalid line that calls for one). */
  nullErrors: number;
  /** idKey → what the request was, for failure messages. */
  describe: Map<string, string>;
}

export interface Tally {
  /** idKey → answers seen. */
  answers: Map<string, number>;
  nullErrors: number;
  /** Lines that are not JSON-RPC messages, with why. */
  impure: string[];
}

function shorten(line: string): string {
  return line.length > 200 ? `${line.slice(0, 200)}… (${line.length} chars)` : line;
}

/** Why `line` is not a JSON-RPC 2.0 message (response, notification or request), or undefined if it is one. */
function impurity(line: string): string | undefined {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) return 'not a JSON object';
  const o = m as Record<string, unknown>;
  if (o.jsonrpc !== '2.0') return 'no "jsonrpc": "2.0"';
  const idOk = typeof o.id === 'string' || typeof o.id === 'number';
  if (typeof o.method === 'string') return o.id === undefined || idOk ? undefined : 'a request with an id that is not a string or number';
  if (o.method !== undefined) return '"method" is not a string';
  if (!idOk && o.id !== null) return 'a response without a valid id';
  if ('result' in o === 'error' in o) return 'a response must have exactly one of result and error';
  if ('error' in o) {
    const e = o.error as { code?: unknown; message?: unknown } | null;
    if (!e || !Number.isInteger(e.code) || typeof e.message !== 'string') return 'an error without an integer code and a string message';
  }
  if (o.id === null && !('error' in o)) return 'a result with id null';
  return undefined;
}

export function tally(lines: readonly string[]): Tally {
  const t: Tally = { answers: new Map(), nullErrors: 0, impure: [] };
  lines.forEach((line, i) => {
    const why = impurity(line);
    if (why) {
      t.impure.push(`stdout line ${i + 1} (${why}): ${shorten(line)}`);
      return;
    }
    const o = JSON.parse(line) as Record<string, unknown>;
    if (o.method !== undefined) return; // a notification or a server request
    if (o.id === null) t.nullErrors += 1;
    else t.answers.set(idKey(o.id), (t.answers.get(idKey(o.id)) ?? 0) + 1);
  });
  return t;
}

/** Expected answers still missing from `t` (for waiting until the run is answered). */
export function missing(t: Tally, e: Expected): string[] {
  const out: string[] = [];
  for (const [key, n] of e.answers) {
    const seen = t.answers.get(key) ?? 0;
    if (seen < n) out.push(`id ${key} (${e.describe.get(key) ?? '?'}): ${seen} of ${n} answers`);
  }
  if (t.nullErrors < e.nullErrors) out.push(`${e.nullErrors - t.nullErrors} of ${e.nullErrors} id-null errors for invalid lines`);
  return out;
}

/** Every way `t` differs from `e`: impure lines, missing answers, extra answers, answers to ids never sent. */
export function violations(t: Tally, e: Expected): string[] {
  const out = [...t.impure, ...missing(t, e).map((m) => `missing: ${m}`)];
  for (const [key, seen] of t.answers) {
    const n = e.answers.get(key);
    if (n === undefined) out.push(`an answer to id ${key}, which the host never sent (${seen}x)`);
    else if (seen > n) out.push(`id ${key} (${e.describe.get(key) ?? '?'}): ${seen} answers for ${n} request(s)`);
  }
  if (t.nullErrors > e.nullErrors) out.push(`${t.nullErrors} id-null errors for ${e.nullErrors} invalid lines that call for one`);
  return out;
}

export { rssBytes } from './proc-memory.js';
