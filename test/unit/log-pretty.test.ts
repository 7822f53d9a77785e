/**
 * The terminal form of the log (src/log-pretty.ts), which replaced pino-pretty: one line per
 * pino entry with time, level, name and message, the other fields as JSON, the stack below.
 */
import { describe, expect, it } from 'vitest';
import { prettyLine } from '../../src/log-pretty.js';

const AT = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();

describe('pretty log lines', () => {
  it('shows time, level, name and message, then the remaining fields, without pid and hostname', () => {
    const line = JSON.stringify({ level: 40, time: AT, pid: 1, hostname: 'h', name: 'mcp-relay', msg: 'retrying', status: 503, url: 'https://x/mcp' });
    expect(prettyLine(line, false)).toBe('03:04:05.006 WARN (mcp-relay): retrying {"status":503,"url":"https://x/mcp"}\n');
  });

  it('colours the level only when asked', () => {
    const line = JSON.stringify({ level: 50, time: AT, name: 'mcp-relay', msg: 'failed' });
    expect(prettyLine(line, true)).toBe('03:04:05.006 \u001b[31mERROR\u001b[39m (mcp-relay): failed\n');
  });

  it("prints an error's stack indented under the line", () => {
    const line = JSON.stringify({
      level: 50,
      time: AT,
      name: 'mcp-relay',
      msg: 'boom',
      err: { type: 'Error', message: 'bad', stack: 'Error: bad\n    at f (x.js:1:1)' },
    });
    expect(prettyLine(line, false)).toBe('03:04:05.006 ERROR (mcp-relay): boom\n    Error: bad\n        at f (x.js:1:1)\n');
  });

  it('passes a line that is not a JSON object through as it is', () => {
    expect(prettyLine('not json', false)).toBe('not json\n');
    expect(prettyLine('[1,2]\n', false)).toBe('[1,2]\n');
  });
});
