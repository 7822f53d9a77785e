/**
 * A command line given as one string (`--headers-command "gcloud auth print-access-token"`),
 * split into words the way a POSIX shell splits them: blanks separate words, single quotes keep
 * everything literally, double quotes keep everything but `\"`, `\\`, `\$` and `` \` ``, and a backslash outside
 * quotes escapes the next character. Nothing is expanded and no shell runs: an unquoted shell
 * operator or `$` is refused, with the advice to write the shell out (`sh -c '…'`) if one is meant.
 *
 * Ours rather than a library's: the relay must not grow a runtime dependency for 40 lines, so it
 * is tested differentially against shell-quote's parser (test/unit/words.test.ts).
 */
import { RelayError } from '../errors.js';

const OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')', '$', '`']);
/** Inside double quotes a backslash escapes only these (POSIX 2.2.3). */
const DOUBLE_QUOTE_ESCAPES = new Set(['"', '\\', '$', '`']);

export function splitCommand(text: string, flag: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new RelayError('BAD_CONFIG', `${flag}: a single quote is not closed`);
      word += text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && DOUBLE_QUOTE_ESCAPES.has(text[j + 1] ?? '')) j++;
        else if (text[j] === '$' || text[j] === '`')
          throw new RelayError('BAD_CONFIG', `${flag}: runs no shell, so "${text[j]}" would not expand; write the shell out (sh -c '…') if you mean one`);
        word += text[j];
      }
      if (j >= text.length) throw new RelayError('BAD_CONFIG', `${flag}: a double quote is not closed`);
      i = j;
    } else if (c === '\\') {
      if (i + 1 < text.length) word += text[++i];
    } else if (OPERATORS.has(c)) {
      throw new RelayError('BAD_CONFIG', `${flag}: runs no shell, so "${c}" would not work; write the shell out (sh -c '…') if you mean one`);
    } else {
      word += c;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) throw new RelayError('BAD_CONFIG', `${flag}: the command is empty`);
  return words;
}
