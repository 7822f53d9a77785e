import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isRelayError, type RelayError } from '../../src/errors.js';
import { LOCK_NAME, withLock } from '../../src/store/lock.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHILD = join(ROOT, 'test', 'fixtures', 'store-lock-child.mjs');
/** proper-lockfile's smallest stale time: the fastest takeover of a killed holder's lock. */
const SHORT_STALE_MS = 2_000;

/** The children import dist/: build it when it is missing or older than the sources. */
function ensureBuilt(): void {
  const pairs = ['store/lock', 'errors', 'log'].map((m) => [join(ROOT, 'src', `${m}.ts`), join(ROOT, 'dist', `${m}.js`)] as const);
  const stale = pairs.some(([src, out]) => !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs);
  if (!stale) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // Type errors elsewhere in src/ still emit; check below that our output exists.
  }
  for (const [src, out] of pairs) {
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) throw new Error(`build did not produce an up-to-date ${out}; run npm run build`);
  }
}

function capturingLogger(): { log: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}

let dir: string;
const children: ChildProcess[] = [];

function child(...args: string[]): ChildProcess {
  const c = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  return c;
}

async function holdInChild(staleMs: number): Promise<ChildProcess> {
  const c = child('hold', dir, String(staleMs));
  const stderr: string[] = [];
  c.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const lines = createInterface({ input: c.stdout! });
  const [first] = (await Promise.race([once(lines, 'line'), once(c, 'exit').then(() => [undefined])])) as [string | undefined];
  if (first !== 'locked') throw new Error(`holder child did not take the lock: ${stderr.join('')}`);
  return c;
}

async function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return { code: c.exitCode, signal: c.signalCode };
  const [code, signal] = (await once(c, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
}

beforeAll(() => ensureBuilt(), 120_000);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-relay-lock-'));
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c);
    }
  }
  await rm(dir, { recursive: true, force: true });
});

describe('withLock in one process', () => {
  it('runs two concurrent critical sections one after the other', async () => {
    const events: string[] = [];
    const section = (name: string) => async () => {
      events.push(`enter ${name}`);
      expect((await stat(join(dir, LOCK_NAME))).isDirectory()).toBe(true);
      await sleep(50);
      events.push(`exit ${name}`);
      return name;
    };
    const results = await Promise.all([withLock(dir, section('a')), withLock(dir, section('b')), withLock(dir, section('c'))]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(events).toEqual(['enter a', 'exit a', 'enter b', 'exit b', 'enter c', 'exit c']);
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false);
  });

  it('releases the lock when the critical section throws', async () => {
    await expect(withLock(dir, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false);
    await expect(withLock(dir, async () => 'next', { waitMs: 0 })).resolves.toBe('next');
  });

  it('times out with LOCK_TIMEOUT behind a holder in the same process, and the queue keeps working', async () => {
    let finishHolder!: () => void;
    const holder = withLock(dir, () => new Promise<string>((r) => (finishHolder = () => r('holder'))));
    const err = await withLock(dir, async () => 'never', { waitMs: 100 }).catch((e: unknown) => e);
    expect(isRelayError(err, 'LOCK_TIMEOUT')).toBe(true);
    expect((err as RelayError).message).toContain(join(dir, LOCK_NAME));
    const after = withLock(dir, async () => 'after');
    finishHolder();
    await expect(holder).resolves.toBe('holder');
    await expect(after).resolves.toBe('after');
  });

  it('reports a directory that does not exist as STORE_IO, not as a timeout', async () => {
    const err = await withLock(join(dir, 'missing'), async () => 'never').catch((e: unknown) => e);
    expect(isRelayError(err, 'STORE_IO')).toBe(true);
    expect((err as RelayError).message).toContain(join(dir, 'missing', LOCK_NAME));
  });

  it('does not crash the process when the lock is lost while held: warns and aborts the signal', async () => {
    const { log, lines } = capturingLogger();
    const reason = await withLock(
      dir,
      async (signal) => {
        expect(signal.aborted).toBe(false);
        await rmdir(join(dir, LOCK_NAME)); // as if another process had judged it stale
        await once(signal, 'abort'); // noticed at the next refresh (staleMs / 2)
        return signal.reason as unknown;
      },
      { staleMs: SHORT_STALE_MS, log },
    );
    expect(isRelayError(reason, 'LOCK_TIMEOUT')).toBe(true);
    expect(lines.some((l) => l.level === 40 && l.msg.includes('lost the store lock'))).toBe(true);
  });
});

describe('withLock across processes', () => {
  it('four processes doing 25 locked read-increment-write cycles each end at exactly 100', async () => {
    const counter = join(dir, 'counter');
    await writeFile(counter, '0');
    const procs = Array.from({ length: 4 }, () => child('count', dir, counter, '25'));
    const stderr = procs.map((p) => {
      const out: string[] = [];
      p.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
      return out;
    });
    const results = await Promise.all(procs.map(exited));
    expect(
      results.map((r) => r.code),
      stderr.flat().join(''),
    ).toEqual([0, 0, 0, 0]);
    expect(await readFile(counter, 'utf8')).toBe('100');
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false);
  });

  it('takes over the lock of a holder that was killed with SIGKILL', async () => {
    const holder = await holdInChild(SHORT_STALE_MS);
    holder.kill('SIGKILL');
    expect((await exited(holder)).signal).toBe('SIGKILL');
    // Nothing could clean up after SIGKILL: the lock is still there and still fresh ...
    expect((await stat(join(dir, LOCK_NAME))).isDirectory()).toBe(true);
    const fresh = await withLock(dir, async () => 'never', { waitMs: 0 }).catch((e: unknown) => e);
    expect(isRelayError(fresh, 'LOCK_TIMEOUT')).toBe(true);
    // ... until it has not been refreshed for staleMs, when the next process takes it over.
    await expect(withLock(dir, async () => 'taken over', { staleMs: SHORT_STALE_MS, waitMs: 15_000 })).resolves.toBe('taken over');
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false);
  });

  it('raises LOCK_TIMEOUT while a live process holds the lock, and gets it once that process is terminated', async () => {
    const holder = await holdInChild(SHORT_STALE_MS);
    // Longer than the stale time: a live holder keeps refreshing, so it is never taken over.
    const err = await withLock(dir, async () => 'never', { staleMs: SHORT_STALE_MS, waitMs: 2_500 }).catch((e: unknown) => e);
    expect(isRelayError(err, 'LOCK_TIMEOUT')).toBe(true);
    const message = (err as RelayError).message;
    expect(message).toContain(join(dir, LOCK_NAME));
    expect(message).toContain('removed automatically after 2 s');
    holder.kill('SIGTERM'); // proper-lockfile removes its locks on SIGTERM
    await exited(holder);
    await expect(withLock(dir, async () => 'mine', { waitMs: 5_000 })).resolves.toBe('mine');
  });
});
