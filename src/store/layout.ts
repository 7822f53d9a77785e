/**
 * `<root>/layout.json`: the version of the store's on-disk format, so that a newer mcp-relay
 * can migrate an older store and an older one refuses a newer store instead of clobbering it.
 */
import { join } from 'node:path';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import { createJsonFileAtomic, ensurePrivateDir, readJsonFile, writeJsonFileAtomic } from './files.js';
import { parseLayout } from './guards.js';
import { withLock } from './lock.js';

/**
 * The layout this code reads and writes. Bump it and add a {@link Migration} when a file's
 * meaning changes. The shape of layout.json itself (`{"version": <positive integer>}`) must
 * never change: every version has to be able to read it.
 */
export const LAYOUT_VERSION = 1;
export const LAYOUT_FILE = 'layout.json';

/** Upgrades a store from layout `from` to `from + 1`; runs under the root's lock. */
export interface Migration {
  from: number;
  run(root: string, log: Logger): Promise<void>;
}

/** Layout 1 is the first; nothing to migrate yet. */
export const MIGRATIONS: readonly Migration[] = [];

/** Attempts at creating layout.json when other processes race us to it. */
const LAYOUT_CREATE_ATTEMPTS = 3;

export interface CheckLayoutOptions {
  /** Write layout.json when it is missing (reads of an empty store must not create it). */
  forWrite: boolean;
  /** For tests of the mechanism; default {@link LAYOUT_VERSION} and {@link MIGRATIONS}. */
  version?: number;
  migrations?: readonly Migration[];
}

/**
 * Check (and create or migrate) the layout of the store at `root`. Resolves to true when the
 * layout is present and current, false when it is absent and `forWrite` is false (an empty
 * store, or one made before layout.json existed, which is read as the current layout).
 *
 * @throws RelayError `STORE_IO` for a newer layout than this code knows, an older one with no
 *   migration, or I/O failures.
 */
export async function checkLayout(root: string, log: Logger, opts: CheckLayoutOptions): Promise<boolean> {
  const current = opts.version ?? LAYOUT_VERSION;
  const file = join(root, LAYOUT_FILE);
  for (let attempt = 1; ; attempt++) {
    const layout = await readJsonFile(file, parseLayout, log);
    if (layout === undefined) {
      if (!opts.forWrite) return false;
      await ensurePrivateDir(root);
      if (await createJsonFileAtomic(file, { version: current })) return true;
      if (attempt < LAYOUT_CREATE_ATTEMPTS) continue; // another process wrote it first: check theirs
      throw new RelayError('STORE_IO', `could not create ${file}: it keeps changing; check that only mcp-relay writes to ${root}`);
    }
    if (layout.version === current) return true;
    if (layout.version > current) throw newerLayout(root, layout.version, current);
    await migrate(root, log, current, opts.migrations ?? MIGRATIONS);
    return true;
  }
}

function newerLayout(root: string, found: number, current: number): RelayError {
  return new RelayError(
    'STORE_IO',
    `the credential store at ${root} was written by a newer mcp-relay (layout version ${found}; this one understands ${current}): ` +
      `upgrade mcp-relay, or set MCP_RELAY_HOME to use a separate store`,
  );
}

async function migrate(root: string, log: Logger, current: number, migrations: readonly Migration[]): Promise<void> {
  await withLock(
    root,
    async () => {
      const file = join(root, LAYOUT_FILE);
      // Re-read under the lock: another process may have migrated while we waited.
      let version = (await readJsonFile(file, parseLayout, log))?.version ?? current;
      if (version > current) throw newerLayout(root, version, current);
      while (version < current) {
        const step = migrations.find((m) => m.from === version);
        if (!step) {
          throw new RelayError(
            'STORE_IO',
            `the credential store at ${root} has layout version ${version}, which this mcp-relay cannot migrate: move it away (or set MCP_RELAY_HOME) and log in again`,
          );
        }
        await step.run(root, log);
        version += 1;
        // One step at a time, so a crash mid-way resumes from the last finished step.
        await writeJsonFileAtomic(file, { version });
        log.info({ root, version }, `migrated the credential store to layout version ${version}`);
      }
    },
    { log },
  );
}
