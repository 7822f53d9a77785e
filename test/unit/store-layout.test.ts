import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRelayError, type RelayError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { checkLayout, LAYOUT_FILE, LAYOUT_VERSION, type Migration } from '../../src/store/layout.js';

const log = silentLogger();
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcp-relay-layout-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const readLayout = async () => JSON.parse(await readFile(join(root, LAYOUT_FILE), 'utf8')) as unknown;

describe('checkLayout', () => {
  it('leaves an empty store untouched on reads and writes the current version on the first write', async () => {
    expect(await checkLayout(root, log, { forWrite: false })).toBe(false);
    expect(await readdir(root)).toEqual([]);
    expect(await checkLayout(root, log, { forWrite: true })).toBe(true);
    expect(await readLayout()).toEqual({ version: LAYOUT_VERSION });
  });

  it('lets many first writers race: one layout.json, everyone agrees', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => checkLayout(root, log, { forWrite: true })));
    expect(results.every(Boolean)).toBe(true);
    expect(await readLayout()).toEqual({ version: LAYOUT_VERSION });
    expect(await readdir(root)).toEqual([LAYOUT_FILE]);
  });

  it('migrates an older store one step at a time, under the lock, and records each step', async () => {
    await writeFile(join(root, LAYOUT_FILE), JSON.stringify({ version: 1 }));
    const ran: number[] = [];
    const migrations: Migration[] = [
      {
        from: 2,
        run: async (r) => {
          ran.push(2);
          await writeFile(join(r, 'step2'), 'done');
        },
      },
      {
        from: 1,
        run: async (r) => {
          ran.push(1);
          expect((await readdir(r)).includes('lock')).toBe(true); // runs while holding the root's lock
        },
      },
    ];
    expect(await checkLayout(root, log, { forWrite: false, version: 3, migrations })).toBe(true);
    expect(ran).toEqual([1, 2]);
    expect(await readLayout()).toEqual({ version: 3 });
    expect(await readFile(join(root, 'step2'), 'utf8')).toBe('done');
    // Already current: nothing runs again.
    expect(await checkLayout(root, log, { forWrite: false, version: 3, migrations })).toBe(true);
    expect(ran).toEqual([1, 2]);
  });

  it('refuses an older store it has no migration for, and a newer one, without changing layout.json', async () => {
    await mkdir(root, { recursive: true });
    await writeFile(join(root, LAYOUT_FILE), JSON.stringify({ version: 1 }));
    const older = await checkLayout(root, log, { forWrite: true, version: 2, migrations: [] }).catch((e: unknown) => e);
    expect(isRelayError(older, 'STORE_IO')).toBe(true);
    expect((older as RelayError).message).toContain('cannot migrate');

    await writeFile(join(root, LAYOUT_FILE), JSON.stringify({ version: 7 }));
    const newer = await checkLayout(root, log, { forWrite: true }).catch((e: unknown) => e);
    expect(isRelayError(newer, 'STORE_IO')).toBe(true);
    expect((newer as RelayError).message).toMatch(/newer mcp-relay \(layout version 7; this one understands 1\)/);
    expect(await readLayout()).toEqual({ version: 7 });
  });
});
