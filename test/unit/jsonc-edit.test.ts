/**
 * The hand-written JSONC reader behind migrate-config, differentially against JSON.parse on seeded
 * random documents: the same value for every JSON text, every string's span holding exactly that
 * string, comments and trailing commas accepted (and the value unchanged by them), and never
 * accepting a mutilated text that JSON.parse refuses unless only JSONC's extras explain it.
 */
import { describe, expect, it } from 'vitest';
import { applyEdits, JsoncError, parseJsonc, toValue, type JsoncNode } from '../../src/cli/jsonc-edit.js';
import { prng, testSeed } from '../helpers/prng.js';

const DOCS = 300;
const CHARS = ['a', 'Z', ' ', '"', '\\', '/', '*', '\n', '\t', '\u0001', 'é', '😀', '\ud800', ',', ':', '{', ']', 'mcp-remote'];

function randomValue(r: ReturnType<typeof prng>, depth: number): unknown {
  const kind = depth > 3 ? r.int(4) : r.int(6);
  switch (kind) {
    case 0:
      return r.pick([true, false, null]);
    case 1:
      return r.pick([0, -1, 3.25, 1e21, -2.5e-7, 123456789, r.next()]);
    case 2:
    case 3:
      return Array.from({ length: r.int(6) }, () => r.pick(CHARS)).join('');
    case 4:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(4); i > 0; i--) o[Array.from({ length: r.int(4) }, () => r.pick(CHARS)).join('')] = randomValue(r, depth + 1);
      return o;
    }
  }
}

/** JSON text with comments and trailing commas sprinkled between tokens (values as JSON.stringify writes them). */
function withExtras(r: ReturnType<typeof prng>, v: unknown): string {
  const gap = () => r.pick(['', ' ', '\n  ', ' /* c, "x" */ ', ' // line, ] }\n', '\r\n']);
  if (Array.isArray(v)) {
    const items = v.map((x) => `${gap()}${withExtras(r, x)}${gap()}`);
    return `[${items.join(',')}${items.length && r.chance(0.5) ? ',' : ''}${gap()}]`;
  }
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).map(([k, x]) => `${gap()}${JSON.stringify(k)}${gap()}:${gap()}${withExtras(r, x)}${gap()}`);
    return `{${entries.join(',')}${entries.length && r.chance(0.5) ? ',' : ''}${gap()}}`;
  }
  return JSON.stringify(v);
}

function strings(node: JsoncNode, out: Array<JsoncNode & { kind: 'string' }> = []) {
  if (node.kind === 'string') out.push(node);
  if (node.kind === 'array') for (const i of node.items) strings(i, out);
  if (node.kind === 'object') for (const e of node.entries) strings(e.value, out);
  return out;
}

describe('parseJsonc against JSON.parse', () => {
  const seed = testSeed();

  it(`the same value and exact string spans for random JSON texts (seed ${seed})`, () => {
    const r = prng(seed);
    for (let n = 0; n < DOCS; n++) {
      const value = randomValue(r, 0);
      const text = JSON.stringify(value, null, r.pick([undefined, 2, '\t']));
      const { root, hasComments } = parseJsonc(text);
      expect(toValue(root)).toEqual(JSON.parse(text));
      expect(hasComments).toBe(false);
      for (const s of strings(root)) expect(JSON.parse(text.slice(s.span.start, s.span.end))).toBe(s.value);
    }
  });

  it(`comments and trailing commas change nothing in the value (seed ${seed})`, () => {
    const r = prng(seed + 1);
    for (let n = 0; n < DOCS; n++) {
      const value = randomValue(r, 0);
      const text = withExtras(r, value);
      expect(toValue(parseJsonc(text).root)).toEqual(JSON.parse(JSON.stringify(value)));
    }
  });

  it(`a mutilated text is refused whenever JSON.parse refuses it, unless JSONC's trailing commas or comments explain it (seed ${seed})`, () => {
    const r = prng(seed + 2);
    for (let n = 0; n < DOCS; n++) {
      const text = JSON.stringify(randomValue(r, 0));
      const at = r.int(text.length);
      const cut = text.slice(0, at) + text.slice(at + 1 + r.int(2));
      let json: unknown;
      try {
        json = JSON.parse(cut);
      } catch {
        json = undefined;
      }
      let jsonc: unknown;
      try {
        jsonc = toValue(parseJsonc(cut).root);
      } catch (err) {
        expect(err).toBeInstanceOf(JsoncError);
        jsonc = undefined;
      }
      if (json !== undefined) expect(jsonc).toEqual(json);
      // JSONC's extras: a trailing comma, or a comment that the cut let out of a string.
      else if (jsonc !== undefined) expect(cut).toMatch(/,\s*[\]}]|\/\/|\/\*/);
    }
  });

  it('an edit replaces exactly the string it names', () => {
    const text = '{ "a": [ "mcp-remote" , "x" ] } // keep';
    const node = strings(parseJsonc(text).root)[0]!;
    expect(applyEdits(text, [{ span: node.span, text: '"mcp-relay"' }])).toBe('{ "a": [ "mcp-relay" , "x" ] } // keep');
  });
});
