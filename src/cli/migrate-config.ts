/**
 * `mcp-relay migrate-config FILE [--write]`: switch a host config file's mcp-remote entries to
 * mcp-relay (one word each, see migrate-plan.ts). A dry run by default: prints what would change
 * as a diff and writes nothing. `--write` first copies the file to FILE.bak-<UTC timestamp>, then
 * replaces it atomically (a temporary file in the same directory, renamed over it), keeping its
 * permissions; a symlinked config is written through to its target.
 *
 * Exit codes: 0 done (or nothing to do), 1 the write failed, 2 the file is missing or not
 * JSON(C) (nothing written).
 */
import { randomBytes } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { copyFile, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { describeError } from '../errors.js';
import { JsoncError } from './jsonc-edit.js';
import { lineDiff, planMigration } from './migrate-plan.js';

/** As main.ts's EXIT_USAGE (not imported: main.ts loads this module's registry lazily). */
const EXIT_BAD_INPUT = 2;
const EXIT_FAILURE = 1;
/** Backups made within the same second get -1, -2, … rather than overwrite each other. */
const MAX_BACKUP_SUFFIX = 100;

export interface MigrateDeps {
  out(text: string): void;
  err(text: string): void;
  now(): number;
}

export async function runMigrateConfig(opts: { file: string; write: boolean }, deps: MigrateDeps): Promise<number> {
  let before: string;
  let target: string;
  try {
    target = await realpath(opts.file);
    before = await readFile(target, 'utf8');
  } catch (err) {
    deps.err(`mcp-relay: cannot read ${opts.file}: ${describeError(err)}\n`);
    return EXIT_BAD_INPUT;
  }
  let plan: ReturnType<typeof planMigration>;
  try {
    // Files named by flags (--header-file, @file) are read as the relay would from here.
    plan = planMigration(before, { readFile: (path) => readFileSync(path, 'utf8') });
  } catch (err) {
    if (!(err instanceof JsoncError)) throw err;
    deps.err(`mcp-relay: ${opts.file} is not valid JSON (or JSON with comments): ${err.message}; nothing changed\n`);
    return EXIT_BAD_INPUT;
  }
  for (const s of plan.skipped) deps.err(`${s.path}: left as it is: ${s.reason}\n`);
  if (plan.changes.length === 0) {
    deps.out(`No mcp-remote entries to migrate in ${opts.file}.\n`);
    return 0;
  }
  for (const c of plan.changes) deps.out(`${c.path}: ${c.from} -> mcp-relay\n`);
  deps.out(lineDiff(opts.file, before, plan.text));
  if (plan.hasComments) deps.out('(comments and formatting are kept: only the words above change)\n');
  if (!opts.write) {
    deps.out(`Dry run: ${opts.file} was not changed. Run again with --write to apply this (a backup of the file is kept).\n`);
    return 0;
  }
  try {
    const backup = await backUp(target, deps.now());
    await replaceAtomically(target, before, plan.text);
    deps.out(
      `Wrote ${opts.file} (${plan.changes.length} ${plan.changes.length === 1 ? 'entry' : 'entries'}); the original is in ${backup}. Restart the host to use mcp-relay.\n`,
    );
    return 0;
  } catch (err) {
    deps.err(`mcp-relay: could not write ${opts.file}: ${describeError(err)}\n`);
    return EXIT_FAILURE;
  }
}

/** Copy `file` to `file.bak-<UTC yyyymmddThhmmssZ>`, never over an existing file. */
async function backUp(file: string, now: number): Promise<string> {
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  for (let n = 0; n < MAX_BACKUP_SUFFIX; n++) {
    const backup = `${file}.bak-${stamp}${n ? `-${n}` : ''}`;
    try {
      await copyFile(file, backup, constants.COPYFILE_EXCL);
      return backup;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`too many backups named ${file}.bak-${stamp}-*`);
}

/**
 * Write `text` to a temporary file beside `file` (same permissions) and rename it over `file`, so a
 * reader sees the old file or the new one, never half of one. Refuses when the file changed since
 * it was read (the host may have saved it meanwhile): that change would be lost.
 */
async function replaceAtomically(file: string, expected: string, text: string): Promise<void> {
  const { mode } = await stat(file);
  const tmp = `${file}.mcp-relay-${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode: mode & 0o777, flag: 'wx' });
  try {
    if ((await readFile(file, 'utf8')) !== expected) throw new Error('the file changed while mcp-relay was reading it; run the command again');
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

export function registerMigrateConfigCommand(parser: Argv): void {
  parser.command(
    'migrate-config <file>',
    "Switch a host config file's mcp-remote entries to mcp-relay (a dry run printing the diff unless --write)",
    (y) =>
      y
        .positional('file', {
          type: 'string',
          demandOption: true,
          describe: 'The host config file (claude_desktop_config.json, mcp.json, .vscode/mcp.json, …)',
        })
        .option('write', { type: 'boolean', default: false, describe: 'Apply the change (the original is kept as FILE.bak-<timestamp>)' })
        .example('$0 migrate-config ~/Library/Application\\ Support/Claude/claude_desktop_config.json', 'show what would change')
        .example('$0 migrate-config .vscode/mcp.json --write', 'change it, keeping a backup'),
    async (args) => {
      const a = args as unknown as { file: string; write: boolean };
      process.exitCode = await runMigrateConfig(
        { file: a.file, write: a.write },
        { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t), now: Date.now },
      );
    },
  );
}
