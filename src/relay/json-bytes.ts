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
const END = -1;

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

const OBJECT = 1;
const ARRAY = 2;

/**
 * Skip one JSON value at the cursor, checking its structure (see the module comment). Iterative,
 * with an explicit stack, so deep nesting cannot overflow the call stack.
 */
function skipValue(c: Cursor): boolean {
  const stack: number[] = [];
  for (;;) {
    // A value is expected here.
    c.skipWs();
    const b = c.peek();
    let closed = false;
    if (b === QUOTE) {
      if (!c.skipString()) return false;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      c.advance();
      c.skipWs();
      const empty = c.peek() === (b === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET);
      if (empty) {
        c.advance();
      } else {
        stack.push(b === OPEN_BRACE ? OBJECT : ARRAY);
        if (b === OPEN_BRACE && !memberKey(c)) return false;
        continue;
      }
    } else if (!c.skipScalar()) {
      return false;
    }
    // After a value: a comma and the next member, or the end of one or more containers.
    while (!closed) {
      if (stack.length === 0) return true;
      c.skipWs();
      const top = stack[stack.length - 1]!;
      const after = c.peek();
      if (after === COMMA) {
        c.advance();
        if (top === OBJECT && !memberKey(c)) return false;
        closed = true; // leave the loop: a value follows
      } else if (after === (top === OBJECT ? CLOSE_BRACE : CLOSE_BRACKET)) {
        c.advance();
        stack.pop();
      } else {
        return false;
      }
    }
  }
}

/** `"key" :` of an object member. */
function memberKey(c: Cursor): boolean {
  c.skipWs();
  if (c.peek() !== QUOTE || !c.skipString()) return false;
  c.skipWs();
  if (c.peek() !== COLON) return false;
  c.advance();
  return true;
}

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Digits, sign, point, exponent, and the letters of true/false/null. */
function isScalarByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x45 || (b >= 0x61 && b <= 0x7a);
}

/** A position in a list of byte segments, moving forward only. */
class Cursor {
  private seg = 0;
  private off = 0;
  /** Bytes before the current segment. */
  private base = 0;

  constructor(private readonly segments: Buffer[]) {
    this.settle();
  }

  /** The byte at the cursor, or END. */
  peek(): number {
    const s = this.segments[this.seg];
    return s === undefined ? END : s[this.off]!;
  }

  advance(): void {
    this.off++;
    this.settle();
  }

  mark(): number {
    return this.base + this.off;
  }

  /** The bytes from `start` (a mark) to the cursor, when there are at most `max` of them. */
  since(start: number, max: number): Buffer | undefined {
    const end = this.mark();
    if (end - start > max) return undefined;
    const out: Buffer[] = [];
    let at = 0;
    for (const s of this.segments) {
      const from = Math.max(start - at, 0);
      const to = Math.min(end - at, s.length);
      if (from < to) out.push(s.subarray(from, to));
      at += s.length;
      if (at >= end) break;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  skipWs(): void {
    for (let b = this.peek(); b !== END && isWs(b); b = this.peek()) this.advance();
  }

  skipScalar(): boolean {
    const start = this.mark();
    for (let b = this.peek(); b !== END && isScalarByte(b); b = this.peek()) this.advance();
    return this.mark() > start;
  }

  /**
   * At an opening quote: move past the closing one. Within a segment it jumps from one quote or
   * backslash to the next with indexOf; an escape may straddle two segments.
   */
  skipString(): boolean {
    this.advance();
    // The next quote and backslash in the current segment, kept until passed: text dense with
    // escapes must not make each step search the rest of the segment again.
    let cachedSeg = -1;
    let quote = -1;
    let slash = -1;
    for (;;) {
      const s = this.segments[this.seg];
      if (s === undefined) return false;
      if (cachedSeg !== this.seg) {
        cachedSeg = this.seg;
        quote = s.indexOf(QUOTE, this.off);
        slash = s.indexOf(BACKSLASH, this.off);
      } else {
        if (quote !== -1 && quote < this.off) quote = s.indexOf(QUOTE, this.off);
        if (slash !== -1 && slash < this.off) slash = s.indexOf(BACKSLASH, this.off);
      }
      if (slash !== -1 && (quote === -1 || slash < quote)) {
        // Skip the backslash and the byte it escapes (that byte may start the next segment).
        this.off = slash + 1;
        this.settle();
        if (this.peek() === END) return false;
        this.advance();
        continue;
      }
      if (quote !== -1) {
        this.off = quote + 1;
        this.settle();
        return true;
      }
      this.off = s.length;
      this.settle();
    }
  }

  /** Step over exhausted (and empty) segments. */
  private settle(): void {
    let s = this.segments[this.seg];
    while (s !== undefined && this.off >= s.length) {
      this.off -= s.length;
      this.base += s.length;
      s = this.segments[++this.seg];
    }
  }
}
