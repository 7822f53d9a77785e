import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRelayError, type RelayError } from '../../src/errors.js';
import { corruptName, createJsonFileAtomic, ensurePrivateDir, readJsonFile, removeFile, writeJsonFileAtomic } from '../../src/store/files.js';

const SECRET = 'super-secret-token-value';

function capturingLogger(): { log: pino.Logger; lines: Array<Record<string, unknown> & { level: number; msg: string }> } {
  const lines: Array<Record<string, unknown> & { level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  return { log, lines };
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;
const isObj = (v: unknown) => (typeof v === 'object' && v !== null ? (v as { n?: unknown }) : undefined);
const parseN = (v: unknown) => (typeof isObj(v)?.n === 'number' ? (v as { n: number }) : undefined);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-relay-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ensurePrivateDir', () => {
  it('creates nested directories with mode 0700', async () => {
    const nested = join(dir, 'a', 'b');
    await ensurePrivateDir(nested);
    expect(await mode(nested)).toBe(0o700);
    expect(await mode(join(dir, 'a'))).toBe(0o700);
  });

  it('tightens an existing group/world-readable directory to 0700', async () => {
    const loose = join(dir, 'loose');
    await mkdir(loose, { mode: 0o755 });
    await chmod(loose, 0o755);
    await ensurePrivateDir(loose);
    expect(await mode(loose)).toBe(0o700);
  });

  it('keeps the owner bits of a directory it tightens (a read-only store stays read-only)', async () => {
    const readOnly = join(dir, 'ro');
    await mkdir(readOnly);
    await chmod(readOnly, 0o555);
    await ensurePrivateDir(readOnly);
    expect(await mode(readOnly)).toBe(0o500);
    await chmod(readOnly, 0o700);
  });

  it('fails with STORE_IO naming the path when a file is in the way', async () => {
    await writeFile(join(dir, 'file'), 'x');
    const err = await ensurePrivateDir(join(dir, 'file', 'sub')).catch((e: unknown) => e);
    expect(isRelayError(err, 'STORE_IO')).toBe(true);
    expect((err as RelayError).message).toContain(join(dir, 'file', 'sub'));
    expect((err as RelayError).message).toMatch(/ENOTDIR|EEXIST/);
  });
});

describe('writeJsonFileAtomic', () => {
  it('writes a 0600 file and leaves no temp file behind', async () => {
    const file = join(dir, 'tokens.json');
    await writeJsonFileAtomic(file, { n: 1 });
    await writeJsonFileAtomic(file, { n: 2 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ n: 2 });
    expect(await mode(file)).toBe(0o600);
    expect(await readdir(dir)).toEqual(['tokens.json']);
  });

  it('replaces a looser existing file with a 0600 one', async () => {
    const file = join(dir, 'tokens.json');
    await writeFile(file, '{}', { mode: 0o644 });
    await chmod(file, 0o644);
    await writeJsonFileAtomic(file, { n: 3 });
    expect(await mode(file)).toBe(0o600);
  });

  it('replaces a symlink planted at the target instead of writing through it', async () => {
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'precious');
    const file = join(dir, 'tokens.json');
    await symlink(victim, file);
    await writeJsonFileAtomic(file, { n: 4 });
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(file)).isSymbolicLink()).toBe(false);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ n: 4 });
  });

  it('throws STORE_IO naming the path, the errno code and a next step, and removes its temp file', async () => {
    const file = join(dir, 'tokens.json');
    await mkdir(join(file, 'in-the-way'), { recursive: true }); // rename over a non-empty directory fails
    const err = await writeJsonFileAtomic(file, { n: 5 }).catch((e: unknown) => e);
    expect(isRelayError(err, 'STORE_IO')).toBe(true);
    const message = (err as RelayError).message;
    expect(message).toContain(file);
    expect(message).toMatch(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(message).toContain('MCP_RELAY_HOME');
    expect(await readdir(dir)).toEqual(['tokens.json']);
  });

  it('throws STORE_IO when the directory does not exist', async () => {
    const file = join(dir, 'gone', 'tokens.json');
    const err = await writeJsonFileAtomic(file, { n: 6 }).catch((e: unknown) => e);
    expect(isRelayError(err, 'STORE_IO')).toBe(true);
    expect((err as RelayError).message).toContain('ENOENT');
  });
});

describe('createJsonFileAtomic', () => {
  it('creates the file once and never replaces it', async () => {
    const file = join(dir, 'layout.json');
    expect(await createJsonFileAtomic(file, { n: 1 })).toBe(true);
    expect(await createJsonFileAtomic(file, { n: 2 })).toBe(false);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ n: 1 });
    expect(await mode(file)).toBe(0o600);
    expect(await readdir(dir)).toEqual(['layout.json']);
  });
});

describe('readJsonFile', () => {
  it('returns undefined for a missing file without a warning', async () => {
    const { log, lines } = capturingLogger();
    expect(await readJsonFile(join(dir, 'nope.json'), parseN, log)).toBeUndefined();
    expect(lines).toEqual([]);
  });

  it('returns what the parser accepts', async () => {
    const { log } = capturingLogger();
    await writeJsonFileAtomic(join(dir, 'ok.json'), { n: 7 });
    expect(await readJsonFile(join(dir, 'ok.json'), parseN, log)).toEqual({ n: 7 });
  });

  it('moves a file that is not JSON aside, warns without its content, and reports it absent', async () => {
    const { log, lines } = capturingLogger();
    const file = join(dir, 'tokens.json');
    await writeFile(file, `{"access_token":"${SECRET}"`);
    expect(await readJsonFile(file, parseN, log)).toBeUndefined();
    const names = await readdir(dir);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^tokens\.json\.corrupt-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z$/);
    expect(await readFile(join(dir, names[0]!), 'utf8')).toContain(SECRET); // kept for the user, not deleted
    const warning = lines.find((l) => l.level === 40);
    expect(warning?.msg).toContain('tokens.json');
    expect(warning?.msg).toContain('not valid JSON');
    expect(warning?.msg).toContain(join(dir, names[0]!));
    expect(JSON.stringify(lines)).not.toContain(SECRET);
  });

  it('moves aside JSON the parser rejects and names the field from the parser error', async () => {
    const { log, lines } = capturingLogger();
    const file = join(dir, 'tokens.json');
    await writeFile(file, JSON.stringify({ n: SECRET }));
    const parse = (v: unknown) => {
      if (typeof isObj(v)?.n !== 'number') throw new Error('"n" in tokens.json must be a number');
      return v;
    };
    expect(await readJsonFile(file, parse, log)).toBeUndefined();
    expect((await readdir(dir))[0]).toMatch(/^tokens\.json\.corrupt-/);
    expect(lines.find((l) => l.level === 40)?.msg).toContain('"n" in tokens.json must be a number');
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    // A parser returning undefined is treated the same way.
    await writeFile(file, '{"m":1}');
    expect(await readJsonFile(file, parseN, log)).toBeUndefined();
    expect((await readdir(dir)).filter((n) => n === 'tokens.json')).toEqual([]);
  });

  it('never reads through a symlink: the link is moved aside and its target left alone', async () => {
    const { log, lines } = capturingLogger();
    const target = join(dir, 'elsewhere.json');
    await writeFile(target, JSON.stringify({ n: 8 }));
    const file = join(dir, 'tokens.json');
    await symlink(target, file);
    expect(await readJsonFile(file, parseN, log)).toBeUndefined();
    expect(await readFile(target, 'utf8')).toBe(JSON.stringify({ n: 8 }));
    const aside = (await readdir(dir)).find((n) => n.startsWith('tokens.json.corrupt-'));
    expect(aside).toBeDefined();
    expect((await lstat(join(dir, aside!))).isSymbolicLink()).toBe(true);
    expect(lines.find((l) => l.level === 40)?.msg).toContain('symbolic link');
  });

  it('names set-aside files after the time with ":" replaced', () => {
    expect(corruptName('/s/tokens.json', new Date('2025-03-04T05:06:07.089Z'))).toBe('/s/tokens.json.corrupt-2025-03-04T05-06-07.089Z');
  });
});

describe('removeFile', () => {
  it('removes a file and accepts one that is already gone', async () => {
    const file = join(dir, 'pending.json');
    await writeFile(file, '{}');
    await removeFile(file);
    await removeFile(file);
    expect(await readdir(dir)).toEqual([]);
  });
});
