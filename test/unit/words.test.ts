/**
 * --headers-command's word splitting (src/config/words.ts) against the real thing: /bin/sh splits
 * the same seeded random command lines (words, blanks, single and double quotes, backslash
 * escapes; no operators or `$`, which the relay refuses because it runs no shell) and prints each
 * word. shell-quote was tried as the reference first and splits `a\\"b c"` wrongly; the shell is
 * the definition. Replay with MCP_RELAY_SEED.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { splitCommand } from '../../src/config/words.js';
import { parseHeadersOutput } from '../../src/auth/headers-command.js';
import { prng, testSeed } from '../helpers/prng.js';

const SEED = testSeed();

const PLAIN = 'abcXYZ019-_./=:,@%+é';

function randomLine(rand: () => number): string {
  const pick = (s: string) => s[Math.floor(rand() * s.length)]!;
  const parts: string[] = [];
  const n = 1 + Math.floor(rand() * 6);
  for (let w = 0; w < n; w++) {
    let word = '';
    const pieces = 1 + Math.floor(rand() * 3);
    for (let p = 0; p < pieces; p++) {
      const kind = rand();
      const len = Math.floor(rand() * 6);
      const plain = () => Array.from({ length: len }, () => pick(PLAIN)).join('');
      if (kind < 0.4) word += plain() || 'x';
      else if (kind < 0.6) word += `'${plain().replace(/'/g, '')} ${plain()}'`;
      else if (kind < 0.8) word += `"${plain()} \\" ${plain()}"`;
      else word += `\\${pick(' \'"\\')}`;
    }
    parts.push(word);
  }
  return parts.join(rand() < 0.5 ? ' ' : '  \t');
}

describe('splitCommand', () => {
  it(`splits random command lines exactly as /bin/sh does (seed ${SEED})`, () => {
    const rand = prng(SEED).next;
    const lines = Array.from({ length: 1000 }, () => randomLine(rand));
    // One shell for all: each line's words NUL-terminated, lines separated by \x01.
    const script = lines.map((l) => `printf '%s\\0' ${l}; printf '\\001'`).join('\n');
    const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { LC_ALL: 'C.UTF-8' } });
    const bySh = out
      .split('\x01')
      .slice(0, -1)
      .map((chunk) => chunk.split('\0').slice(0, -1));
    lines.forEach((line, i) => {
      expect(splitCommand(line, '--headers-command'), `seed ${SEED}, line ${JSON.stringify(line)}`).toEqual(bySh[i]);
    });
  });

  it.each(['gcloud auth print-access-token | cat', 'a; b', 'echo $TOKEN', 'echo "$TOKEN"', 'a && b', 'cat < f', '`id`'])(
    'refuses %s: it runs no shell',
    (line) => {
      expect(() => splitCommand(line, '--headers-command')).toThrow(/runs no shell/);
    },
  );

  it('refuses unclosed quotes and an empty command', () => {
    expect(() => splitCommand(`say 'hi`, '--headers-command')).toThrow(/single quote is not closed/);
    expect(() => splitCommand(`say "hi`, '--headers-command')).toThrow(/double quote is not closed/);
    expect(() => splitCommand('   ', '--headers-command')).toThrow(/empty/);
  });
});

describe('parseHeadersOutput', () => {
  it('reads a JSON object, "Name: value" lines, or a bare token', () => {
    expect(parseHeadersOutput('{"Authorization":"Bearer a","X-Api-Key":"k"}\n')).toEqual({ authorization: 'Bearer a', 'x-api-key': 'k' });
    expect(parseHeadersOutput('Authorization: Bearer b\r\nX-Tenant: t1\n')).toEqual({ authorization: 'Bearer b', 'x-tenant': 't1' });
    expect(parseHeadersOutput('ya29.token-from-gcloud\n')).toEqual({ authorization: 'Bearer ya29.token-from-gcloud' });
  });

  it.each([
    ['', /printed nothing/],
    ['{"a": 1}', /value of a must be a string/],
    ['{not json', /not valid JSON/],
    ['[1,2]', /not "Name: value"/],
    ['two words', /line 1 of its output is not "Name: value"/],
    ['Bad Name: v', /is not a header name/],
  ])('refuses %j with a clear reason', (out, reason) => {
    expect(() => parseHeadersOutput(out)).toThrow(reason);
  });
});
