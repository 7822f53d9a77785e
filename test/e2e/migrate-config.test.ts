/**
 * `mcp-relay migrate-config FILE [--write]` (issue 19, "Drop-in for mcp-remote"), run as shipped
 * on real files: a dry run changes nothing and prints the diff; --write changes exactly the
 * mcp-remote words, keeps a byte-for-byte backup, the other entries, the formatting and VS Code's
 * comments; a file that is not JSON is refused with exit 2 and left alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, RELAY_BIN, relayEnv, tempHome } from '../helpers/relay.js';

afterEach(killAll);

const CLAUDE_DESKTOP = `{
  "mcpServers": {
    "linear": {
      "command": "npx",
      "args": ["-y", "mcp-remote@latest", "https://mcp.linear.app/sse", "--header", "X-Team:\${TEAM}"],
      "env": { "TEAM": "core" }
    },
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/mcp-remote"]
    },
    "direct": {
      "command": "mcp-remote",
      "args": ["https://example.com/mcp", "9876"]
    }
  },
  "globalShortcut": ""
}
`;

const VSCODE = `// Workspace MCP servers
{
  "servers": {
    /* the wiki */
    "wiki": {
      "type": "stdio",
      "command": "npx",
      "args": [
        "mcp-remote", // pinned by the team
        "https://wiki.example.com/mcp",
      ],
    },
  },
}
`;

function run(home: string, ...args: string[]) {
  return spawnSync(process.execPath, [RELAY_BIN, 'migrate-config', ...args], { env: relayEnv(home), encoding: 'utf8' });
}

async function configFile(text: string, name = 'claude_desktop_config.json') {
  const home = await tempHome();
  const dir = join(home, 'host');
  await mkdir(dir);
  const file = join(dir, name);
  await writeFile(file, text);
  return { home, dir, file };
}

describe('mcp-relay migrate-config', () => {
  it('a dry run changes nothing and prints the diff of the changed lines', async () => {
    const { home, dir, file } = await configFile(CLAUDE_DESKTOP);
    const r = run(home, file);
    expect(r.status).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(CLAUDE_DESKTOP);
    expect(await readdir(dir)).toEqual(['claude_desktop_config.json']);
    expect(r.stdout).toContain('mcpServers.linear: mcp-remote@latest -> mcp-relay');
    expect(r.stdout).toContain('mcpServers.direct: mcp-remote -> mcp-relay');
    expect(r.stdout).toContain(`--- ${file}\n+++ ${file} (migrated)\n@@ -5 +5 @@\n-      "args": ["-y", "mcp-remote@latest",`);
    expect(r.stdout).toContain('+      "args": ["-y", "mcp-relay", "https://mcp.linear.app/sse", "--header", "X-Team:${TEAM}"],');
    expect(r.stdout).toContain('@@ -13 +13 @@\n-      "command": "mcp-remote",\n+      "command": "mcp-relay",');
    expect(r.stdout).not.toContain('filesystem');
    expect(r.stdout).toContain('Dry run');
  });

  it('--write changes only the mcp-remote words, atomically, with a byte-for-byte backup; other entries are untouched', async () => {
    const { home, dir, file } = await configFile(CLAUDE_DESKTOP);
    const r = run(home, file, '--write');
    expect(r.status).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(
      CLAUDE_DESKTOP.replace('"mcp-remote@latest"', '"mcp-relay"').replace('"command": "mcp-remote"', '"command": "mcp-relay"'),
    );
    const names = await readdir(dir);
    const backups = names.filter((n) => /^claude_desktop_config\.json\.bak-\d{8}T\d{6}Z$/.test(n));
    expect(backups).toHaveLength(1);
    expect(names).toHaveLength(2); // no temporary file left behind
    expect(await readFile(join(dir, backups[0]!), 'utf8')).toBe(CLAUDE_DESKTOP);
    expect(r.stdout).toContain(backups[0]!);
    // Run again: nothing left to migrate, nothing written.
    const again = run(home, file, '--write');
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('No mcp-remote entries to migrate');
    expect(await readdir(dir)).toHaveLength(2);
  });

  it("VS Code's JSONC: comments and trailing commas survive --write", async () => {
    const { home, file } = await configFile(VSCODE, 'mcp.json');
    const r = run(home, file, '--write');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('servers.wiki: mcp-remote -> mcp-relay');
    expect(await readFile(file, 'utf8')).toBe(VSCODE.replace('"mcp-remote", //', '"mcp-relay", //'));
  });

  it('an entry whose command line mcp-relay would refuse is left as it is, and said so', async () => {
    const text = '{"mcpServers":{"open":{"command":"npx","args":["mcp-remote","https://example.com/mcp","--host","0.0.0.0"]}}}';
    const { home, file } = await configFile(text);
    const r = run(home, file, '--write');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('mcpServers.open: left as it is: mcp-relay would refuse its command line: --host "0.0.0.0"');
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('a malformed file is refused with exit 2, naming where, and left alone', async () => {
    const broken = CLAUDE_DESKTOP.replace('"env": {', '"env" {');
    const { home, dir, file } = await configFile(broken);
    const r = run(home, file, '--write');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("is not valid JSON (or JSON with comments): expected ':' after a property name at line 6, column 13; nothing changed");
    expect(await readFile(file, 'utf8')).toBe(broken);
    expect(await readdir(dir)).toEqual(['claude_desktop_config.json']);
    expect(run(home, join(dir, 'missing.json')).status).toBe(2);
  });
});
