/**
 * Messages from the server as bytes, for the relay's forwarding path.
 *
 * A small message is decoded and parsed in full, as before. A large one (a tool result carrying a
 * file or a screenshot) is not: the relay needs only its `jsonrpc`, `id` and `method` and whether
 * it holds `result`, `error` or `params`, so it scans the top level of the object (string values
 * are skipped with one memchr-speed search for their closing quote) and forwards the bytes as
 * they came. Whatever reads `result`, `params` or `error` of such a message gets them from a full
 * parse done then, once (getters on the message object), so nothing downstream needs to know.
 *
 * What the scan checks: one JSON object, balanced brackets and strings, commas and colons in
 * place at every level, nothing after it. What it does not: the bytes inside strings and the
 * spelling of numbers and literals in nested values. Those reach the host as the server wrote
 * them, and its own JSON parser judges them (measured in docs/performance.md: a full parse is most
 * of the relay's time and memory on an 8 MiB answer).
 */
import { asMessage, type JsonRpcMessage } from './jsonrpc.js';

/** Messages at least this large take the scanning path. */
export const LARGE_MESSAGE_BYTES = 256 * 1024;
/** A top-level `id`, `method`, `jsonrpc` or `error` longer than this is parsed the slow way. */
const SMALL_VALUE_BYTES = 64 * 1024;
/** The longest quoted key that may be one of the keys the scan reads ("method" fully \u-escaped is 38). */
const MAX_KEY_BYTES = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** One message decoded from bytes, with the bytes to forward when they can be forwarded as they are. */
export interface DecodedMessage {
  msg: JsonRpcMessage;
  /** The message's own text (a string for small messages, the bytes for large ones); absent inside a batch. */
  raw: string | Buffer | undefined;
}

export type DecodeResult = { ok: true; messages: DecodedMessage[] } | { ok: false; reason: 'not JSON' | 'not a JSON-RPC message' };

/**
 * Decode one JSON text (an SSE `data` buffer or an `application/json` body) into JSON-RPC
 * messages. Never throws. A batch (array) yields each member without its own raw text.
 */
export function decodeMessages(bytes: Buffer): DecodeResult {
  if (bytes.length >= LARGE_MESSAGE_BYTES) {
    const msg = scanMessage(bytes);
    if (msg) return { ok: true, messages: [{ msg, raw: bytes }] };
  }
  const text = bytes.toString('utf8');
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

/**
 * The message in `buf` from a scan of its top level, or undefined when the scan cannot vouch for
 * it (not an object, brackets or strings unbalanced, unexpected bytes, odd top-level values); the
 * caller then parses it in full, which reports what is wrong.
 */
export function scanMessage(buf: Buffer): JsonRpcMessage | undefined {
  const n = buf.length;
  let i = skipWs(buf, 0);
  if (buf[i] !== OPEN_BRACE) return undefined;
  i = skipWs(buf, i + 1);
  const facts: Record<string, unknown> = {};
  const lazy = new Set<'result' | 'params' | 'error'>();
  if (buf[i] === CLOSE_BRACE) return undefined;
  for (;;) {
    if (buf[i] !== QUOTE) return undefined;
    const keyEnd = stringEnd(buf, i);
    if (keyEnd === -1) return undefined;
    // Keys of interest are short even when written with \u escapes; longer ones are skipped unread.
    const key = keyEnd - i <= MAX_KEY_BYTES ? parseSmall(buf, i, keyEnd) : undefined;
    i = skipWs(buf, keyEnd);
    if (buf[i] !== COLON) return undefined;
    const valueStart = skipWs(buf, i + 1);
    const valueEnd = skipValue(buf, valueStart);
    if (valueEnd === -1) return undefined;
    if (key === 'jsonrpc' || key === 'id' || key === 'method' || key === 'error') {
      if (valueEnd - valueStart > SMALL_VALUE_BYTES) return undefined;
      const value = parseSmall(buf, valueStart, valueEnd);
      if (value === INVALID) return undefined;
      facts[key] = value;
      lazy.delete(key as 'error');
    } else if (key === 'result' || key === 'params') {
      lazy.add(key);
    }
    i = skipWs(buf, valueEnd);
    if (buf[i] === COMMA) {
      i = skipWs(buf, i + 1);
      continue;
    }
    if (buf[i] !== CLOSE_BRACE) return undefined;
    if (skipWs(buf, i + 1) !== n) return undefined;
    break;
  }
  const msg = asMessage(facts);
  if (!msg) return undefined;
  let whole: Record<string, unknown> | undefined;
  const parse = () => (whole ??= JSON.parse(buf.toString('utf8')) as Record<string, unknown>);
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

function parseSmall(buf: Buffer, start: number, end: number): unknown {
  try {
    return JSON.parse(buf.toString('utf8', start, end)) as unknown;
  } catch {
    return INVALID;
  }
}

function isWs(b: number | undefined): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function skipWs(buf: Buffer, i: number): number {
  while (i < buf.length && isWs(buf[i])) i++;
  return i;
}

/** `i` is at an opening quote: the index just past the closing one, or -1. */
function stringEnd(buf: Buffer, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, from);
    if (q === -1) return -1;
    let backslashes = 0;
    for (let k = q - 1; k > i && buf[k] === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** The index just past the JSON value starting at `i`, or -1 when it is not well formed at this level of checking. */
function skipValue(buf: Buffer, i: number): number {
  const b = buf[i];
  if (b === QUOTE) return stringEnd(buf, i);
  if (b === OPEN_BRACE || b === OPEN_BRACKET) return containerEnd(buf, i);
  return scalarEnd(buf, i);
}

/** A number, true, false or null: runs to the next delimiter; only its characters are checked. */
function scalarEnd(buf: Buffer, i: number): number {
  let j = i;
  while (j < buf.length) {
    const c = buf[j]!;
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isWs(c)) break;
    // digits, sign, point, exponent, and the letters of true/false/null
    if (!((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45 || c === 0x65 || (c >= 0x61 && c <= 0x7a))) return -1;
    j++;
  }
  return j === i ? -1 : j;
}

/**
 * An object or array: brackets matched with a stack, strings skipped whole, and at every level a
 * value where one belongs (no `[,]`, `{"a"}` or `{"a":1 "b":2}`).
 */
function containerEnd(buf: Buffer, i: number): number {
  const closers: number[] = [];
  let j = i;
  for (;;) {
    const open = buf[j];
    const inObject = open === OPEN_BRACE;
    closers.push(inObject ? CLOSE_BRACE : CLOSE_BRACKET);
    j = skipWs(buf, j + 1);
    // An empty container.
    if (buf[j] === closers[closers.length - 1]) {
      j++;
    } else {
      // Members until this container (or a nested one just opened) needs more work.
      const next = members(buf, j, inObject);
      if (next.open !== -1) {
        j = next.open;
        continue;
      }
      if (next.end === -1) return -1;
      j = next.end;
    }
    // `j` is just past a closed container: resume its parent's member list.
    for (;;) {
      closers.pop();
      if (closers.length === 0) return j;
      const parentIsObject = closers[closers.length - 1] === CLOSE_BRACE;
      j = skipWs(buf, j);
      if (buf[j] === closers[closers.length - 1]) {
        j++;
        continue;
      }
      if (buf[j] !== COMMA) return -1;
      const next = members(buf, skipWs(buf, j + 1), parentIsObject);
      if (next.open !== -1) {
        j = next.open;
        break;
      }
      if (next.end === -1) return -1;
      j = next.end;
    }
  }
}

/**
 * Walk the members of a container from `j` (at a member): either up to and past its closer
 * (`end`), or up to a nested container that opens (`open`, its index), whichever comes first.
 */
function members(buf: Buffer, j: number, inObject: boolean): { end: number; open: number } {
  const closer = inObject ? CLOSE_BRACE : CLOSE_BRACKET;
  for (;;) {
    if (inObject) {
      if (buf[j] !== QUOTE) return { end: -1, open: -1 };
      j = stringEnd(buf, j);
      if (j === -1) return { end: -1, open: -1 };
      j = skipWs(buf, j);
      if (buf[j] !== COLON) return { end: -1, open: -1 };
      j = skipWs(buf, j + 1);
    }
    const b = buf[j];
    if (b === OPEN_BRACE || b === OPEN_BRACKET) return { end: -1, open: j };
    j = b === QUOTE ? stringEnd(buf, j) : scalarEnd(buf, j);
    if (j === -1) return { end: -1, open: -1 };
    j = skipWs(buf, j);
    if (buf[j] === closer) return { end: j + 1, open: -1 };
    if (buf[j] !== COMMA) return { end: -1, open: -1 };
    j = skipWs(buf, j + 1);
  }
}
