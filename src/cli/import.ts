/**
 * `mcp-relay import [--from DIR] [server-url]`: take over logins made with mcp-remote on demand
 * (a relay does the same by itself on first contact with a server it has no login for). Its files
 * are only read. Prints what was taken, never a secret.
 */
import type { Argv } from 'yargs';
import { join } from 'node:path';
import { describeImport, findMcpRemoteLogin, importLogin, MCP_REMOTE_IMPORTS_FILE, mcpRemoteRoot, noteImported } from '../auth/mcp-remote-import.js';
import { describeError, RelayError } from '../errors.js';
import { createLogger } from '../log.js';
import { canonicalUrl, defaultStoreRoot, serverKey } from '../store/paths.js';
import { CredentialStore } from '../store/store.js';

export interface ImportDeps {
  env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  now(): number;
}

interface Target {
  url: string;
  resource?: string | undefined;
}

/** Import for one server URL, or for every server mcp-relay's store knows. Returns the exit code. */
export async function runImport(
  opts: { target?: string | undefined; resource?: string | undefined; from?: string | undefined },
  deps: ImportDeps,
): Promise<number> {
  const root = opts.from ?? mcpRemoteRoot(deps.env);
  const store = new CredentialStore(defaultStoreRoot(deps.env), createLogger({ level: 'warn' }));
  let targets: Target[];
  if (opts.target !== undefined) {
    let url: string;
    try {
      url = canonicalUrl(opts.target);
    } catch {
      throw new RelayError('BAD_CONFIG', `not a server URL: ${opts.target}`);
    }
    targets = [{ url, resource: opts.resource }];
  } else {
    // mcp-remote names its files by a hash of the URL, so the URLs must come from somewhere else:
    // the servers mcp-relay has already been started for.
    targets = (await store.list()).flatMap((l) => (l.server ? [{ url: l.server.url, resource: l.server.resource }] : []));
    if (targets.length === 0) {
      deps.err(
        `mcp-relay has no servers yet, and mcp-remote's files in ${root} are named by a hash of the URL: give the URL (mcp-relay import <server-url>), or just start the relay, which imports by itself\n`,
      );
      return 1;
    }
  }
  let found = 0;
  for (const t of targets) {
    const server = store.server(serverKey({ serverUrl: t.url, resource: t.resource }));
    try {
      if (await server.readTokens()) {
        deps.out(`${t.url}: already logged in with mcp-relay; nothing imported\n`);
        found++;
        continue;
      }
      const login = await findMcpRemoteLogin(root, t.url, { resource: t.resource, staticClient: false });
      if (!login) {
        deps.out(`${t.url}: no mcp-remote login in ${root}\n`);
        continue;
      }
      if (await importLogin(server, login)) {
        await noteImported(join(store.root, MCP_REMOTE_IMPORTS_FILE), login.tokens);
        const now = deps.now();
        const existing = await server.readServer();
        await server.writeServer({
          url: t.url,
          created_at: existing?.created_at ?? now,
          last_used_at: existing?.last_used_at ?? now,
          ...(t.resource ? { resource: t.resource } : {}),
        });
        deps.out(`${t.url}: imported ${describeImport(login, now)}\n`);
      } else deps.out(`${t.url}: logged in with mcp-relay meanwhile; nothing imported\n`);
      found++;
    } catch (err) {
      deps.err(`${t.url}: ${describeError(err)}\n`);
    }
  }
  return opts.target !== undefined && found === 0 ? 1 : 0;
}

export function registerImportCommand(parser: Argv, env: NodeJS.ProcessEnv): void {
  parser.command(
    'import [server-url]',
    'Take over logins made with mcp-remote (its files are only read; a relay also does this by itself)',
    (y) =>
      y
        .positional('server-url', { type: 'string', describe: 'The server URL as in the mcp-remote entry (default: every server mcp-relay knows)' })
        .option('from', { type: 'string', describe: "mcp-remote's store (default: $MCP_REMOTE_CONFIG_DIR, else ~/.mcp-auth)" })
        .option('resource', { type: 'string', describe: 'The --resource the mcp-remote entry had' })
        .example('$0 import https://example.com/mcp', 'use the login mcp-remote has for this server'),
    async (args) => {
      const a = args as unknown as { serverUrl?: string; from?: string; resource?: string };
      process.exitCode = await runImport(
        { target: a.serverUrl, resource: a.resource, from: a.from },
        { env, out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t), now: Date.now },
      );
    },
  );
}
