/**
 * A JSON-with-comments reader that keeps where every string is in the text, so a host config can
 * be edited in place: the bytes around an edited string (formatting, key order, comments,
 * trailing commas) stay exactly as they were. VS Code's files are JSONC (`//` and block
 * comments, trailing commas); the other hosts' files are JSON, which is JSONC too.
 *
 * Strict otherwise (RFC 8259 for tokens): an unterminated string, a bad escape, a raw control
 * character in a string, a stray token or trailing garbage is a {@link JsoncError} naming the
 * line and column. Strings are decoded with JSON.parse, so their values are exactly JSON's.
 */

/** Offsets into the text: [start, end) of the token, quotes included for strings. */
export interface Span {
  start: number;
  end: number;
}

export type JsoncNode =
  | { kind: 'object'; entries: Array<{ key: string; value: JsoncNode }>; span: Span }
  | { kind: 'array'; items: JsoncNode[]; span: Span }
  | { kind: 'string'; value: string; span: Span }
  | { kind: 'scalar'; value: number | boolean | null; span: Span };

export class JsoncError extends Error {
  override readonly name = 'JsoncError';
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${message} at line ${line}, column ${column}`);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERALS: Record<string, boolean | null> = { true: true, false: false, null: null };
/** Deeper than any host config; bounds the recursion on a hostile file. */
const MAX_DEPTH = 256;

export interface ParsedJsonc {
  root: JsoncNode;
  /** The text holds comments (it is not plain JSON). */
  hasComments: boolean;
}

export function parseJsonc(text: string): ParsedJsonc {
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let hasComments = false;

  const fail = (message: string, at = pos): never => {
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    throw new JsoncError(message, line, at - before.lastIndexOf('\n'));
  };

  const skip = (): void => {
    for (;;) {
      const c = text[pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') pos++;
      else if (c === '/' && text[pos + 1] === '/') {
        hasComments = true;
        const nl = text.indexOf('\n', pos);
        pos = nl === -1 ? text.length : nl;
      } else if (c === '/' && text[pos + 1] === '*') {
        hasComments = true;
        const end = text.indexOf('*/', pos + 2);
        if (end === -1) fail('unterminated comment');
        pos = end + 2;
      } else return;
    }
  };

  const string = (): JsoncNode & { kind: 'string' } => {
    const start = pos;
    pos++;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (Number.isNaN(c)) fail('unterminated string', start);
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in a string');
      pos += c === 0x5c ? 2 : 1;
    }
    pos++;
    let value: string;
    try {
      value = JSON.parse(text.slice(start, pos)) as string;
    } catch {
      return fail('invalid escape in a string', start);
    }
    return { kind: 'string', value, span: { start, end: pos } };
  };

  const value = (depth: number): JsoncNode => {
    if (depth > MAX_DEPTH) fail('nested too deeply');
    skip();
    const start = pos;
    const c = text[pos];
    if (c === '"') return string();
    if (c === '{' || c === '[') {
      const object = c === '{';
      pos++;
      const entries: Array<{ key: string; value: JsoncNode }> = [];
      const items: JsoncNode[] = [];
      const close = object ? '}' : ']';
      skip();
      while (text[pos] !== close) {
        if (object) {
          if (text[pos] !== '"') fail('expected a property name in double quotes');
          const key = string().value;
          skip();
          if (text[pos] !== ':') fail("expected ':' after a property name");
          pos++;
          entries.push({ key, value: value(depth + 1) });
        } else items.push(value(depth + 1));
        skip();
        if (text[pos] === ',') {
          pos++;
          skip(); // JSONC: a trailing comma before the closing bracket is allowed
        } else if (text[pos] !== close) fail(`expected ',' or '${close}'`);
      }
      pos++;
      const span = { start, end: pos };
      return object ? { kind: 'object', entries, span } : { kind: 'array', items, span };
    }
    NUMBER.lastIndex = pos;
    const number = NUMBER.exec(text);
    if (number) {
      pos += number[0].length;
      return { kind: 'scalar', value: Number(number[0]), span: { start, end: pos } };
    }
    for (const [word, v] of Object.entries(LITERALS)) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return { kind: 'scalar', value: v, span: { start, end: pos } };
      }
    }
    return fail(pos >= text.length ? 'unexpected end of the file' : `unexpected character ${JSON.stringify(text[pos])}`);
  };

  const root = value(0);
  skip();
  if (pos < text.length) fail('unexpected text after the end of the document');
  return { root, hasComments };
}

/** The plain value of a node (what JSON.parse gives for the same text without comments). */
export function toValue(node: JsoncNode): unknown {
  switch (node.kind) {
    case 'object': {
      const out: Record<string, unknown> = {};
      // Own properties as JSON.parse makes them (an assignment to "__proto__" would not be one).
      for (const e of node.entries) Object.defineProperty(out, e.key, { value: toValue(e.value), enumerable: true, writable: true, configurable: true });
      return out;
    }
    case 'array':
      return node.items.map(toValue);
    default:
      return node.value;
  }
}

/** `text` with each span replaced (spans must not overlap). */
export function applyEdits(text: string, edits: ReadonlyArray<{ span: Span; text: string }>): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.span.start - a.span.start)) out = out.slice(0, e.span.start) + e.text + out.slice(e.span.end);
  return out;
}
