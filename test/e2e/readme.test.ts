/**
 * The README must not drift from the CLI: every flag it documents exists in some command's
 * --help, and its first lines give the two commands a new user runs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RELAY_BIN } from '../helpers/relay.js';
import { MCP_REMOTE_FLAGS } from '../../src/cli/mcp-remote-compat.js';

const README = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');

function help(...command: string[]): string {
  return execFileSync(process.execPath, [RELAY_BIN, ...command, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '200' } });
}

describe('README', () => {
  it('starts with the demo and test commands, and .ci/run runs exactly the test command', () => {
    const head = README.split('\n').slice(0, 8).join('\n');
    expect(head).toContain('npm ci && npm run demo');
    expect(head).toContain('npm ci && npm test');
    expect(readFileSync(resolve(import.meta.dirname, '../../.ci/run'), 'utf8')).toMatch(/^npm ci && npm test$/m);
  });

  it('documents only flags that exist: its own, or those of mcp-remote it accepts', () => {
    const allHelp = ['', 'login', 'status', 'logout', 'demo', 'demo-server', 'doctor', 'import', 'migrate-config']
      .map((c) => (c ? help(c) : help()))
      .join('\n');
    const flags = new Set([...README.matchAll(/`(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
    expect(flags.size).toBeGreaterThan(15);
    for (const flag of flags) {
      const name = flag === '--no-browser' ? '--browser' : flag; // yargs lists the boolean, not its negation
      if (MCP_REMOTE_FLAGS.has(flag) && !allHelp.includes(name)) continue; // the "Coming from mcp-remote" table
      expect(allHelp, `README documents ${flag}`).toContain(name);
    }
  });
});
