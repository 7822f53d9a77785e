/**
 * Messages from the server as bytes, for the relay's forwarding path.
 *
 * A small message is decoded and parsed in full, as before. A large one (a tool result carrying a
 * file or a screenshot) is not: the relay needs only its `jsonrpc`, `id` and `method` and whether
 * it holds `result`, `error` or `params`, so it scans the structure of the object (string values
 * are skipped with memchr-speed searches for their closing quote) and forwards the bytes as they
 * came, still in the network chunks that carried them. Whatever reads `result`, `params` or
 * `error` of such a message gets them from a full parse done then, once (getters on the message
 * object), so nothing downstream needs to know.
 *
 * What the scan checks: one JSON object, balanced brackets and strings, commas and colons in
 * place at every level, nothing after it. What it does not: the bytes inside strings and the
 * spelling of numbers and literals in nested values. Those reach the host as the server wrote
 * them, and its own JSON parser judges them (measured in docs/performance.md: a full parse is most
 * of the relay's time and memory on an 8 MiB answer).
 */
import { CLOSE_BRACE, COLON, COMMA, Cursor, END, OPEN_BRACE, QUOTE, skipValue } from './json-cursor.js';
import { asMessage, type JsonRpcMessage } from './messages.js';

/** Messages at least this large take the scanning path. */
export const LARGE_MESSAGE_BYTES = 256 * 1024;
/** A top-level `id`, `method`, `jsonrpc` or `error` longer than this is parsed the slow way. */
const SMALL_VALUE_BYTES = 64 * 1024;
/** The longest quoted key that may be one of the keys the scan reads ("method" fully \u-escaped is 38). */
const MAX_KEY_BYTES = 64;

/** One message decoded from bytes, with the text or bytes to forward when they can be forwarded as they are. */
export interface DecodedMessage {
  msg: JsonRpcMessage;
  /** The message's own text (small messages) or its byte segments (large ones); absent inside a batch. */
  raw: string | Buffer[] | undefined;
}

export type DecodeResult = { ok: true; messages: DecodedMessage[] } | { ok: false; reason: 'not JSON' | 'not a JSON-RPC message' };

/**
 * Decode one JSON text, given as byte segments in order (an SSE `data` line as it arrived, or an
 * `application/json` body), into JSON-RPC messages. Never throws. A batch (array) yields each
 * member without its own raw text.
 */
export function decodeMessages(segments: Buffer[], bytes = totalBytes(segments)): DecodeResult {
  if (bytes >= LARGE_MESSAGE_BYTES) {
    const msg = scanMessage(segments);
    if (msg) return { ok: true, messages: [{ msg, raw: segments }] };
  }
  const text = segments.length === 1 ? segments[0]!.toString('utf8') : Buffer.concat(segments, bytes).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const list = Array.isArray(value) ? value : [value];
  const messages: DecodedMessage[] = [];
  for (const item of list) {
    const msg = asMessage(item);
    if (!msg) return { ok: false, reason: 'not a JSON-RPC message' };
    messages.push({ msg, raw: Array.isArray(value) ? undefined : text });
  }
  return { ok: true, messages };
}

function totalBytes(segments: readonly Buffer[]): number {
  let n = 0;
  for (const s of segments) n += s.length;
  return n;
}

/**
 * The message in `segments` from a scan of its structure, or undefined when the scan cannot vouch
 * for it (not an object, brackets or strings unbalanced, unexpected bytes, odd top-level values);
 * the caller then parses it in full, which reports what is wrong.
 */
export function scanMessage(segments: Buffer[]): JsonRpcMessage | undefined {
  const c = new Cursor(segments);
  c.skipWs();
  if (c.peek() !== OPEN_BRACE) return undefined;
  c.advance();
  c.skipWs();
  if (c.peek() === CLOSE_BRACE) return undefined;
  const facts: Record<string, unknown> = {};
  const lazy = new Set<'result' | 'params'>();
  for (;;) {
    const keyStart = c.mark();
    if (c.peek() !== QUOTE || !c.skipString()) return undefined;
    const keyBytes = c.since(keyStart, MAX_KEY_BYTES);
    // Keys of interest are short even when written with \u escapes; longer ones are skipped unread.
    const key = keyBytes ? parseBytes(keyBytes) : undefined;
    c.skipWs();
    if (c.peek() !== COLON) return undefined;
    c.advance();
    c.skipWs();
    const valueStart = c.mark();
    if (!skipValue(c)) return undefined;
    if (key === 'jsonrpc' || key === 'id' || key === 'method' || key === 'error') {
      const valueBytes = c.since(valueStart, SMALL_VALUE_BYTES);
      if (!valueBytes) return undefined;
      const value = parseBytes(valueBytes);
      if (value === INVALID) return undefined;
      facts[key] = value;
    } else if (key === 'result' || key === 'params') {
      lazy.add(key);
    }
    c.skipWs();
    if (c.peek() === COMMA) {
      c.advance();
      c.skipWs();
      continue;
    }
    if (c.peek() !== CLOSE_BRACE) return undefined;
    c.advance();
    c.skipWs();
    if (c.peek() !== END) return undefined;
    break;
  }
  const msg = asMessage(facts);
  if (!msg) return undefined;
  let whole: Record<string, unknown> | undefined;
  const parse = () => (whole ??= JSON.parse(Buffer.concat(segments).toString('utf8')) as Record<string, unknown>);
  for (const key of lazy) {
    Object.defineProperty(msg, key, {
      enumerable: true,
      configurable: true,
      get: () => parse()[key],
      set: (value: unknown) => Object.defineProperty(msg, key, { value, enumerable: true, writable: true, configurable: true }),
    });
  }
  return msg;
}

const INVALID = Symbol('invalid');

function parseBytes(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return INVALID;
  }
}
