/**
 * Private JSON files: owner-only directories and files, atomic replacement, and reads that
 * never follow a symlink and move a damaged file aside instead of failing forever.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';

/** Store directories: owner only (the files inside hold tokens and client secrets). */
export const PRIVATE_DIR_MODE = 0o700;
/** Store files: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;

/** How many times a read starts over when the file was replaced while it was being read. */
const READ_ATTEMPTS = 3;
/** Bytes of randomness in a temp file name (with the pid, unique across processes). */
const TEMP_NAME_RANDOM_BYTES = 6;

const IS_WINDOWS = process.platform === 'win32';
/** `O_NOFOLLOW` where the platform has it (not Windows): open fails with ELOOP on a symlink. */
const O_NOFOLLOW = IS_WINDOWS ? 0 : (constants.O_NOFOLLOW ?? 0);

/** The next step printed with every store I/O failure. */
const STORE_IO_HINT = `check the permissions of the directory and free disk space, or set MCP_RELAY_HOME to move the store`;

function errnoCode(err: unknown): string | undefined {
  return err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function storeIoError(action: string, path: string, cause: unknown): RelayError {
  const code = errnoCode(cause) ?? (cause instanceof Error ? cause.message : String(cause));
  return new RelayError('STORE_IO', `could not ${action} ${path}: ${code}; ${STORE_IO_HINT}`, { cause });
}

/**
 * `mkdir -p dir` with mode 0700, and remove group and world access from an existing
 * directory that has any (POSIX only; Windows ACLs are left alone).
 *
 * @throws RelayError `STORE_IO` naming the directory and the errno code.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    if (IS_WINDOWS) return;
    const st = await fs.stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    // A directory made by someone else (or under an odd umask) may be open to group/others:
    // take those bits away, but keep the owner's (a read-only store stays read-only).
    if ((st.mode & 0o077) !== 0) await fs.chmod(dir, st.mode & 0o700);
  } catch (err) {
    throw storeIoError('create the private directory', dir, err);
  }
}

/** Where a damaged file is moved: `<file>.corrupt-<ISO time with ':' replaced by '-'>`. */
export function corruptName(file: string, now: Date = new Date()): string {
  return `${file}.corrupt-${now.toISOString().replace(/:/g, '-')}`;
}

/**
 * Read and validate a JSON file.
 *
 * - Missing file: `undefined`.
 * - A symlink, something that is not a regular file, text that is not JSON, or JSON that
 *   `parse` rejects (returns `undefined` or throws an Error naming the field): the file is
 *   renamed to {@link corruptName}, a warning names it and the next step, and the result is
 *   `undefined`, so the caller carries on as if it had never been written.
 * - Other read errors (EACCES, EIO): RelayError `STORE_IO`.
 *
 * `parse` messages and the warning must not contain file contents: they may hold secrets.
 */
export async function readJsonFile<T>(file: string, parse: (v: unknown) => T | undefined, log: Logger): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const read = await readOnce(file);
    if (read.kind === 'missing') return undefined;
    let problem: string;
    if (read.kind === 'text') {
      try {
        const value = parse(JSON.parse(read.text) as unknown);
        if (value !== undefined) return value;
        problem = 'its content is not what this version of mcp-relay expects';
      } catch (err) {
        problem = err instanceof SyntaxError ? 'it is not valid JSON' : err instanceof Error ? err.message : String(err);
      }
    } else {
      problem = read.problem;
    }
    // Another process may have atomically replaced the file since we read it (a writer under
    // the lock): move aside only the file we actually judged, otherwise read the new one.
    if (read.identity !== undefined && !(await sameFile(file, read.identity))) {
      if (attempt < READ_ATTEMPTS) continue;
      return undefined; // replaced again and again: leave it to the writers, report absent
    }
    await moveAside(file, problem, log);
    return undefined;
  }
}

type FileIdentity = { dev: number; ino: number };
type ReadResult = { kind: 'missing' } | { kind: 'text'; text: string; identity: FileIdentity } | { kind: 'bad'; problem: string; identity?: FileIdentity };

async function readOnce(file: string): Promise<ReadResult> {
  let handle: fs.FileHandle;
  try {
    // lstat first for Windows (no O_NOFOLLOW); O_NOFOLLOW closes the race elsewhere.
    const lst = await fs.lstat(file);
    if (lst.isSymbolicLink()) return { kind: 'bad', problem: 'it is a symbolic link (store files are never read through links)' };
    if (!lst.isFile()) return { kind: 'bad', problem: 'it is not a regular file' };
    handle = await fs.open(file, constants.O_RDONLY | O_NOFOLLOW);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return { kind: 'missing' };
    if (code === 'ELOOP') return { kind: 'bad', problem: 'it is a symbolic link (store files are never read through links)' };
    throw storeIoError('read', file, err);
  }
  try {
    const st = await handle.stat();
    const identity = { dev: st.dev, ino: st.ino };
    if (!st.isFile()) return { kind: 'bad', problem: 'it is not a regular file', identity };
    return { kind: 'text', text: await handle.readFile({ encoding: 'utf8' }), identity };
  } catch (err) {
    throw storeIoError('read', file, err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function sameFile(file: string, identity: FileIdentity): Promise<boolean> {
  try {
    const st = await fs.lstat(file);
    return st.dev === identity.dev && st.ino === identity.ino;
  } catch {
    return false;
  }
}

async function moveAside(file: string, problem: string, log: Logger): Promise<void> {
  const aside = corruptName(file);
  try {
    // rename moves a symlink itself, never its target.
    await fs.rename(file, aside);
    log.warn(
      { file, movedTo: aside },
      `ignoring ${basename(file)} because ${problem}; moved it to ${aside} and carrying on without it (you may need to log in again; delete that file once you no longer need it)`,
    );
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return; // someone else already moved or replaced it
    log.warn({ file, code: errnoCode(err) }, `ignoring ${file} because ${problem}; could not move it aside (${errnoCode(err) ?? 'error'}): delete it by hand`);
  }
}

/**
 * Replace `file` with the JSON of `data` atomically: readers see the old or the new content,
 * never a mix. Writes `<file>.tmp-<pid>-<random>` in the same directory, created exclusively
 * (`wx`, so a planted symlink at the temp name is not followed) with mode 0600, fsyncs it,
 * renames it over `file` (which replaces a symlink at `file` rather than writing through it),
 * then fsyncs the directory where the platform allows.
 *
 * @throws RelayError `STORE_IO` naming the path, the errno code and the next step; the temp
 *   file is removed.
 */
export async function writeJsonFileAtomic(file: string, data: unknown): Promise<void> {
  const temp = await writeTemp(file, data);
  try {
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw storeIoError('write', file, err);
  }
  await fsyncDir(dirname(file));
}

/**
 * Like {@link writeJsonFileAtomic} but only when `file` does not exist yet (hard link of the
 * finished temp file, which fails with EEXIST atomically). Returns false when it existed.
 * Falls back to rename where hard links are unsupported (some network and FAT file systems).
 */
export async function createJsonFileAtomic(file: string, data: unknown): Promise<boolean> {
  const temp = await writeTemp(file, data);
  try {
    await fs.link(temp, file);
    await fsyncDir(dirname(file));
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
      await fs.rename(temp, file).catch((renameErr: unknown) => {
        throw storeIoError('write', file, renameErr);
      });
      await fsyncDir(dirname(file));
      return true;
    }
    throw storeIoError('write', file, err);
  } finally {
    await fs.rm(temp, { force: true }).catch(() => undefined);
  }
}

async function writeTemp(file: string, data: unknown): Promise<string> {
  const temp = join(dirname(file), `${basename(file)}.tmp-${process.pid}-${randomBytes(TEMP_NAME_RANDOM_BYTES).toString('hex')}`);
  const text = `${JSON.stringify(data, null, 2)}\n`;
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(temp, 'wx', PRIVATE_FILE_MODE);
    // The open mode is filtered by the umask; make it exactly 0600 whatever the umask.
    if (!IS_WINDOWS) await handle.chmod(PRIVATE_FILE_MODE);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    return temp;
  } catch (err) {
    await handle?.close().catch(() => undefined);
    // Only remove what we created: with 'wx' an EEXIST means the name belongs to someone else.
    if (errnoCode(err) !== 'EEXIST') await fs.rm(temp, { force: true }).catch(() => undefined);
    throw storeIoError('write', file, err);
  }
}

/** Persist a rename by syncing its directory; not possible on Windows and some file systems. */
async function fsyncDir(dir: string): Promise<void> {
  if (IS_WINDOWS) return;
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort: the data itself was fsynced before the rename.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Delete a file; a file that is already gone is fine.
 *
 * @throws RelayError `STORE_IO` for any other failure.
 */
export async function removeFile(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw storeIoError('remove', file, err);
  }
}
