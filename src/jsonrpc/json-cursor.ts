/**
 * Walking JSON as bytes, across the segments a message arrived in: a forward-only cursor and a
 * structural check of one value (json-bytes.ts says what is checked and what is not).
 */

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
export const COMMA = 0x2c;
export const COLON = 0x3a;
/** What {@link Cursor.peek} returns past the last byte. */
export const END = -1;

const OBJECT = 1;
const ARRAY = 2;

/**
 * Skip one JSON value at the cursor, checking its structure (see the module comment). Iterative,
 * with an explicit stack, so deep nesting cannot overflow the call stack.
 */
export function skipValue(c: Cursor): boolean {
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
export class Cursor {
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
