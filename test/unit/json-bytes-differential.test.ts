/**
 * Differential test of the JSON byte scanner (src/jsonrpc/json-bytes.ts, json-cursor.ts) against
 * JSON.parse, the way sse-bytes.test.ts holds the SSE parser to eventsource-parser: seeded random
 * JSON texts (JSON-RPC messages and arbitrary values, with numbers in every spelling, strings with
 * every escape, surrogate pairs and multi-byte UTF-8), cut into random segments that split
 * escapes and characters, must give what a parse of the whole text gives. Invalid texts
 * (truncated, trailing garbage, a stray or missing separator) must be refused.
 *
 * The scan does not judge the bytes inside strings or the spelling of nested numbers and literals
 * (json-bytes.ts says why), so no invalid text here is invalid only there.
 *
 * A failure prints the seed; `MCP_RELAY_SEED=<seed> npx vitest run <this file>` replays it, and
 * `MCP_RELAY_JSON_CASES=<n>` runs more cases.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { decodeMessages, LARGE_MESSAGE_BYTES, scanMessage } from '../../src/jsonrpc/json-bytes.js';
import { asMessage, type JsonRpcMessage } from '../../src/jsonrpc/messages.js';
import { prng, testSeed } from '../helpers/prng.js';

const SEED = testSeed();
const CASES = Number(process.env.MCP_RELAY_JSON_CASES ?? 2_000);
/** Chunkings of each text. */
const CUTS_PER_CASE = 3;
/** Nesting depth of generated values. */
const MAX_DEPTH = 5;
/** Large texts (over LARGE_MESSAGE_BYTES) that go through decodeMessages' scanning path. */
const LARGE_CASES = 4;
/** The keys the scanner reports; every other key is compared through the full parse. */
const FACT_KEYS = ['jsonrpc', 'id', 'method', 'error', 'result', 'params'] as const;

type Rand = ReturnType<typeof prng>;

const WS = [' ', '\n', '\r', '\t'];
const ws = (r: Rand) => (r.chance(0.7) ? '' : Array.from({ length: 1 + r.int(3) }, () => r.pick(WS)).join(''));
const hex4 = (code: number) => code.toString(16).padStart(4, '0');

function number(r: Rand): string {
  const digits = (n: number) => Array.from({ length: n }, () => String(r.int(10))).join('');
  const int = r.chance(0.2) ? '0' : String(1 + r.int(9)) + digits(r.int(6));
  const frac = r.chance(0.3) ? `.${digits(1 + r.int(5))}` : '';
  const exp = r.chance(0.25) ? `${r.pick(['e', 'E'])}${r.pick(['', '+', '-'])}${digits(1 + r.int(3))}` : '';
  return `${r.chance(0.3) ? '-' : ''}${int}${frac}${exp}`;
}

/** One piece of string content, as JSON text: plain, escaped, or raw multi-byte UTF-8. */
function stringPiece(r: Rand): string {
  switch (r.int(10)) {
    case 0:
      return r.pick(['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t']);
    case 1:
      return `\\u${hex4(r.pick([0x22, 0x5c, 0x0a, 0x00, 0x1f, 0x7b, 0x7d, 0xe9, 0x65e5, 0xfeff]))}`;
    case 2: {
      // a surrogate pair, escaped, its hex digits sometimes in upper case
      const pair = hex4(0xd800 + r.int(0x400)) + hex4(0xdc00 + r.int(0x400));
      const digits = r.chance(0.5) ? pair : pair.toUpperCase();
      return `\\u${digits.slice(0, 4)}\\u${digits.slice(4)}`;
    }
    case 3: // raw characters of 2, 3 and 4 UTF-8 bytes
      return r.pick(['é', 'ß', '日', '本', '—', '€', '🎉', '𝄞', '😀']);
    case 4: // JSON punctuation inside a string
      return r.pick(['{', '}', '[', ']', ',', ':', ' ', "'"]);
    default:
      return r.pick(['a', 'b', 'text', 'id', 'method', 'x', '0', 'Z']);
  }
}

function string(r: Rand, pieces = r.int(8)): string {
  return `"${Array.from({ length: pieces }, () => stringPiece(r)).join('')}"`;
}

/** A key: mostly plain names (including the ones the scanner reads), sometimes \u-escaped. */
function key(r: Rand): string {
  const name = r.pick(['a', 'b', 'content', 'text', 'type', 'id', 'method', 'jsonrpc', 'result', 'x y', 'é']);
  if (r.chance(0.15)) return `"${[...name].map((ch) => (r.chance(0.5) ? `\\u${hex4(ch.charCodeAt(0))}` : ch)).join('')}"`;
  return r.chance(0.2) ? string(r) : JSON.stringify(name);
}

function value(r: Rand, depth: number): string {
  const kind = depth >= MAX_DEPTH ? r.int(4) : r.int(7);
  switch (kind) {
    case 0:
      return r.pick(['true', 'false', 'null']);
    case 1:
      return number(r);
    case 2:
    case 3:
      return string(r);
    case 4:
    case 5: {
      const members = Array.from({ length: r.int(5) }, () => `${ws(r)}${key(r)}${ws(r)}:${ws(r)}${value(r, depth + 1)}${ws(r)}`);
      return `{${members.join(',') || ws(r)}}`;
    }
    default: {
      const items = Array.from({ length: r.int(5) }, () => `${ws(r)}${value(r, depth + 1)}${ws(r)}`);
      return `[${items.join(',') || ws(r)}]`;
    }
  }
}

/** A JSON-RPC-shaped object: requests, notifications, results and errors, members in any order. */
function message(r: Rand): string {
  const members: [string, string][] = [];
  members.push(['"jsonrpc"', r.pick(['"2.0"', '"2.0"', '"2.0"', '"2\\u002e0"', '"1.0"', '2.0'])]);
  if (r.chance(0.8)) members.push([r.pick(['"id"', '"\\u0069d"']), r.pick([number(r), string(r), 'null', number(r), value(r, 3)])]);
  const shape = r.int(4);
  if (shape === 0) members.push(['"method"', string(r)], ['"params"', value(r, 1)]);
  if (shape === 1) members.push(['"result"', value(r, 1)]);
  if (shape === 2) members.push(['"error"', `{"code":${number(r)},"message":${string(r)}${r.chance(0.5) ? `,"data":${value(r, 2)}` : ''}}`]);
  if (shape === 3) members.push(['"method"', string(r)]);
  for (let i = r.int(3); i > 0; i--) members.push([key(r), value(r, 2)]); // unknown keys, and duplicates of known ones
  for (let i = members.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [members[i], members[j]] = [members[j]!, members[i]!];
  }
  return `${ws(r)}{${members.map(([k, v]) => `${ws(r)}${k}${ws(r)}:${ws(r)}${v}${ws(r)}`).join(',')}}${ws(r)}`;
}

/** A text JSON.parse refuses for its structure, made from a valid one. */
function broken(r: Rand, text: string): string {
  const end = text.trimEnd().length;
  switch (r.int(5)) {
    case 0: // truncated anywhere before the last bracket
      return text.slice(0, r.int(end));
    case 1:
      return text + ws(r) + r.pick(['x', '}', ']', ',', '{}', '"s"', '1', 'null', '{"jsonrpc":"2.0"}', '\u0000']);
    case 2: {
      // a comma, colon or bracket removed or doubled at a structural place (never inside a string)
      const places = structuralPlaces(text);
      if (places.length === 0) return text.slice(0, end - 1);
      const at = r.pick(places);
      // A comma removed between two literals (`true, 3` → `true3`) makes a misspelled literal, which
      // the scanner leaves to the host's parser by design (json-bytes.ts): double it instead.
      const remove = r.chance(0.5) && !(text[at] === ',' && LITERAL_END.test(text.slice(0, at)) && LITERAL_START.test(text.slice(at + 1)));
      return remove ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + text[at] + text.slice(at);
    }
    case 3: // an unterminated string at the end
      return `${text.slice(0, text.lastIndexOf('}'))},"tail":"abc\\"}`;
    default: // a value where a key belongs
      return text.replace(/^(\s*)\{/, '$1{1:2,');
  }
}

/** A number or literal ends right before, or starts right after, a place (blanks between). */
const LITERAL_END = /[0-9a-zA-Z.+-]\s*$/;
const LITERAL_START = /^\s*[0-9a-zA-Z.+-]/;

/** Offsets of `,` `:` `[` `]` `{` `}` outside strings. */
function structuralPlaces(text: string): number[] {
  const out: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (',:[]{}'.includes(ch)) out.push(i);
  }
  return out;
}

/** Segment sizes to draw from: one byte each up to the whole text; large texts in network-sized chunks. */
const SMALL_CUTS = [1, 2, 3, 5, 9, 17, 64, Infinity];
const LARGE_CUTS = [7, 1_500, 16_384, 65_536];

/** Cut `bytes` into random segments of 1 to `max` bytes, sometimes with empty segments between. */
function chunk(r: Rand, bytes: Buffer): Buffer[] {
  const max = Math.min(r.pick(bytes.length >= LARGE_MESSAGE_BYTES ? LARGE_CUTS : SMALL_CUTS), bytes.length + 1);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + r.int(max);
    if (r.chance(0.05)) out.push(Buffer.alloc(0));
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

const INVALID = Symbol('invalid');
function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return INVALID;
  }
}

/** The keys the relay reads, as present (or not) on a message. */
function facts(msg: JsonRpcMessage | Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(FACT_KEYS.filter((k) => k in msg).map((k) => [k, (msg as Record<string, unknown>)[k]]));
}

/** What decodeMessages must say about `text`, from a parse of the whole of it. */
function expectedDecode(text: string) {
  const whole = parse(text);
  if (whole === INVALID) return { ok: false, reason: 'not JSON' };
  const list = Array.isArray(whole) ? whole : [whole];
  const msgs = list.map(asMessage);
  if (msgs.some((m) => m === undefined)) return { ok: false, reason: 'not a JSON-RPC message' };
  return { ok: true, facts: msgs.map((m) => facts(m!)) };
}

function actualDecode(segments: Buffer[]) {
  const out = decodeMessages(segments);
  return out.ok ? { ok: true, facts: out.messages.map((m) => facts(m.msg)) } : out;
}

/** Hold the scanner to JSON.parse on `text` cut `cuts` ways; the message names the case. */
function compare(r: Rand, text: string, label: string): void {
  const bytes = Buffer.from(text);
  const whole = parse(text);
  const expected = whole === INVALID || Array.isArray(whole) ? undefined : asMessage(whole);
  const decoded = expectedDecode(text);
  for (let c = 0; c < CUTS_PER_CASE; c++) {
    const segments = chunk(r, bytes);
    try {
      const scanned = scanMessage(segments);
      // node:assert rather than expect: thousands of comparisons, and expect costs ~10x more each.
      assert.equal(scanned === undefined, expected === undefined, scanned ? 'the scanner vouched for it' : 'the scanner refused it');
      if (scanned && expected) assert.deepStrictEqual(facts(scanned), facts(expected));
      assert.deepStrictEqual(actualDecode(segments), decoded);
    } catch (error) {
      const cuts = segments.length > 50 ? `${segments.length} segments` : `segments of ${segments.map((s) => s.length).join(',')} bytes`;
      const shown = text.length > 2_000 ? `${text.slice(0, 1_000)} … ${text.slice(-1_000)}` : text;
      throw new Error(`MCP_RELAY_SEED=${SEED}, ${label}, ${cuts}:\n${shown}\n${(error as Error).message}`, { cause: error });
    }
  }
}

describe('the JSON byte scanner against JSON.parse (a failure names its MCP_RELAY_SEED)', () => {
  it(`agrees on ${CASES} random messages and values, each in ${CUTS_PER_CASE} random chunkings`, () => {
    const r = prng(SEED);
    for (let i = 0; i < CASES; i++) {
      const text = r.chance(0.8) ? message(r) : `${ws(r)}${value(r, 0)}${ws(r)}`;
      compare(r, text, `case ${i}`);
    }
  });

  it(`refuses ${CASES} random texts that JSON.parse refuses for their structure`, () => {
    const r = prng(SEED ^ 0x5bd1e995);
    for (let i = 0; i < CASES; i++) {
      const text = broken(r, message(r));
      compare(r, text, `broken case ${i}`);
    }
  });

  it(`agrees on large messages that take decodeMessages' scanning path (${LARGE_CASES} cases)`, () => {
    const r = prng(SEED ^ 0x1b873593);
    for (let i = 0; i < LARGE_CASES; i++) {
      const filler = Array.from({ length: 64 }, () => stringPiece(r)).join('');
      const bulk = `"${filler.repeat(Math.ceil(LARGE_MESSAGE_BYTES / Buffer.byteLength(filler)) + 1)}"`;
      const valid = message(r).replace('{', `{"bulk":${bulk},`);
      compare(r, i % 2 === 0 ? valid : broken(r, valid), `large case ${i}`);
    }
  });
});
