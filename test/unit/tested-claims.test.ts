/**
 * docs/tested-claims.md maps README promises to the tests that prove them. Every test it names
 * (`test/… .test.ts › name`, several names separated by `; ›`) must exist in that file, so the
 * map cannot point at a test that was renamed or removed.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const DOC = readFileSync(resolve(ROOT, 'docs/tested-claims.md'), 'utf8');

/** Every (file, test name) the doc's tables name. */
function references(): Array<{ file: string; name: string }> {
  const refs: Array<{ file: string; name: string }> = [];
  for (const m of DOC.matchAll(/(test\/[\w/.-]+\.test\.ts) › ([^|]+)/g)) {
    for (const name of m[2]!.split('; ›')) refs.push({ file: m[1]!, name: name.trim() });
  }
  return refs;
}

describe('docs/tested-claims.md', () => {
  it('names only tests that exist', () => {
    const refs = references();
    expect(refs.length).toBeGreaterThan(40);
    for (const { file, name } of refs) {
      const source = readFileSync(resolve(ROOT, file), 'utf8');
      expect(source, `${file} › ${name}`).toContain(name);
    }
  });
});
