/**
 * Which entries migrate-config changes, in the shapes the hosts write (the command's file I/O is
 * covered end to end in test/e2e/migrate-config.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { lineDiff, planMigration } from '../../src/cli/migrate-plan.js';

const deps = {
  readFile: (path: string): string => {
    throw Object.assign(new Error(`no file ${path}`), { code: 'ENOENT' });
  },
};

describe('planMigration', () => {
  it('finds entries at any depth: VS Code settings ("mcp"."servers"), Claude Code projects, Windows cmd /c npx', () => {
    const text = JSON.stringify({
      mcp: { servers: { a: { command: 'npx', args: ['mcp-remote@0.1.29', 'https://a.example/mcp'] } } },
      projects: {
        '/home/me/x': { mcpServers: { b: { command: 'cmd', args: ['/c', 'npx', '-y', 'mcp-remote', 'https://b.example/sse', '--transport', 'sse-only'] } } },
      },
    });
    const plan = planMigration(text, deps);
    expect(plan.changes).toEqual([
      { path: 'mcp.servers.a', from: 'mcp-remote@0.1.29' },
      { path: 'projects."/home/me/x".mcpServers.b', from: 'mcp-remote' },
    ]);
    expect(JSON.parse(plan.text)).toEqual(JSON.parse(text.replace('"mcp-remote@0.1.29"', '"mcp-relay"').replace('"mcp-remote"', '"mcp-relay"')));
  });

  it('leaves alone what is not the mcp-remote package word: other packages, a path, a URL, an argument after it', () => {
    const text = JSON.stringify({
      mcpServers: {
        other: { command: 'npx', args: ['mcp-remote-client', 'https://x.example'] },
        path: { command: '/opt/bin/mcp-remote', args: ['https://x.example'] },
        scoped: { command: 'npx', args: ['@acme/mcp-remote', 'https://x.example'] },
        once: { command: 'npx', args: ['mcp-remote', 'https://x.example/mcp-remote', '--header', 'X-Tool:mcp-remote'] },
      },
      servers: 'not an object',
    });
    const plan = planMigration(text, deps);
    expect(plan.changes).toEqual([{ path: 'mcpServers.once', from: 'mcp-remote' }]);
    expect(plan.text).toBe(text.replace('["mcp-remote",', '["mcp-relay",'));
  });

  it('an entry whose flags mcp-relay refuses, or whose args are not all strings, is skipped with the reason', () => {
    const plan = planMigration(
      JSON.stringify({
        mcpServers: {
          a: { command: 'npx', args: ['mcp-remote', 'https://x.example', '--host', 'example.com'] },
          b: { command: 'mcp-remote', args: ['https://x.example', 3000] },
        },
      }),
      deps,
    );
    expect(plan.changes).toEqual([]);
    expect(plan.skipped.map((s) => s.path)).toEqual(['mcpServers.a', 'mcpServers.b']);
    expect(plan.skipped[0]!.reason).toContain('--host');
  });

  it('the diff keeps line numbers and groups adjacent changed lines in one hunk', () => {
    expect(lineDiff('f', 'a\nb\nc\nd\n', 'a\nB\nC\nd\n')).toBe('--- f\n+++ f (migrated)\n@@ -2,2 +2,2 @@\n-b\n-c\n+B\n+C\n');
  });
});
