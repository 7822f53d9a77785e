/**
 * What `mcp-relay migrate-config` changes in a host config file, computed without touching it:
 * every server entry under an `mcpServers` object (Claude Desktop, Claude Code, Cursor, Windsurf,
 * Cline, Roo Code) or a `servers` object (VS Code, `.vscode/mcp.json` or the `mcp` section of its
 * settings), at any depth, whose `command` is `mcp-remote` or whose `args` name the package
 * (`npx -y mcp-remote@latest <url> …`, `cmd /c npx mcp-remote …`), gets that one word replaced by
 * `mcp-relay`. Everything else stays: the other arguments (mcp-relay reads mcp-remote's command
 * line, see mcp-remote-compat.ts), the other entries, the formatting and comments (the string is
 * replaced in place, see jsonc-edit.ts).
 *
 * An entry whose command line mcp-relay would refuse (a flag that weakens security, say) is left
 * as it is and reported: migrating it would turn a working server into a failing one.
 */
import { isRelayError } from '../errors.js';
import { applyEdits, parseJsonc, type JsoncNode, type Span } from './jsonc-edit.js';
import { fromMcpRemote, type CompatDeps } from './mcp-remote-compat.js';

/** The package word, with any version or tag: `mcp-remote`, `mcp-remote@latest`, `mcp-remote@0.1.29`. */
const MCP_REMOTE_WORD = /^mcp-remote(?:@[^\s@/]+)?$/;
const NEW_WORD = 'mcp-relay';
/** Objects whose members are server entries. */
const SERVER_MAPS = new Set(['mcpServers', 'servers']);

export interface EntryChange {
  /** Where the entry is, e.g. `mcpServers.linear`. */
  path: string;
  /** The word replaced, e.g. `mcp-remote@latest`. */
  from: string;
}

export interface EntrySkipped {
  path: string;
  reason: string;
}

export interface MigrationPlan {
  /** The file's new text (equal to the old one when nothing changes). */
  text: string;
  changes: EntryChange[];
  skipped: EntrySkipped[];
  /** The file has comments (they are kept). */
  hasComments: boolean;
}

/** Plan the migration of `text`. Throws JsoncError when the file is not JSON(C). */
export function planMigration(text: string, deps: CompatDeps): MigrationPlan {
  const { root, hasComments } = parseJsonc(text);
  const edits: Array<{ span: Span; text: string }> = [];
  const changes: EntryChange[] = [];
  const skipped: EntrySkipped[] = [];

  const entry = (path: string, node: JsoncNode): void => {
    if (node.kind !== 'object') return;
    const field = (name: string) => node.entries.find((e) => e.key === name)?.value;
    const command = field('command');
    const args = field('args');
    const argNodes = args?.kind === 'array' ? args.items : [];
    let word: JsoncNode & { kind: 'string' };
    let rest: JsoncNode[];
    if (command?.kind === 'string' && MCP_REMOTE_WORD.test(command.value)) {
      word = command;
      rest = argNodes;
    } else {
      const i = argNodes.findIndex((a) => a.kind === 'string' && MCP_REMOTE_WORD.test(a.value));
      if (i === -1) return;
      word = argNodes[i] as JsoncNode & { kind: 'string' };
      rest = argNodes.slice(i + 1);
    }
    if (!rest.every((a) => a.kind === 'string')) {
      skipped.push({ path, reason: 'its args hold something other than strings' });
      return;
    }
    try {
      fromMcpRemote(
        rest.map((a) => (a as { value: string }).value),
        deps,
      );
    } catch (err) {
      if (!isRelayError(err, 'BAD_CONFIG')) throw err;
      skipped.push({ path, reason: `mcp-relay would refuse its command line: ${err.message}` });
      return;
    }
    edits.push({ span: word.span, text: JSON.stringify(NEW_WORD) });
    changes.push({ path, from: word.value });
  };

  const visit = (path: string, node: JsoncNode): void => {
    if (node.kind === 'array') {
      for (const [i, item] of node.items.entries()) visit(`${path}[${i}]`, item);
    }
    if (node.kind !== 'object') return;
    for (const e of node.entries) {
      const here = join(path, e.key);
      if (SERVER_MAPS.has(e.key) && e.value.kind === 'object') {
        for (const server of e.value.entries) entry(join(here, server.key), server.value);
      } else visit(here, e.value);
    }
  };

  visit('', root);
  return { text: applyEdits(text, edits), changes, skipped, hasComments };
}

function join(path: string, key: string): string {
  const k = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
  return path ? `${path}.${k}` : k;
}

/**
 * The changed lines as a unified-style diff (`---`/`+++` headers, one `@@` hunk per run of
 * changed lines). Edits never add or remove a line break, so line N of one is line N of the other.
 */
export function lineDiff(file: string, before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const out = [`--- ${file}`, `+++ ${file} (migrated)`];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    let j = i;
    while (j < a.length && a[j] !== b[j]) j++;
    const count = j - i;
    const range = count === 1 ? `${i + 1}` : `${i + 1},${count}`;
    out.push(`@@ -${range} +${range} @@`, ...a.slice(i, j).map((l) => `-${l.replace(/\r$/, '')}`), ...b.slice(i, j).map((l) => `+${l.replace(/\r$/, '')}`));
    i = j;
  }
  return `${out.join('\n')}\n`;
}
