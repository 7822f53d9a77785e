/**
 * The store lock: one per server directory, shared by every mcp-relay process of the user.
 *
 * proper-lockfile creates `<dir>/lock` with mkdir (atomic on every file system we care about)
 * and keeps touching its mtime while held. A holder that was killed stops touching it, and
 * after `staleMs` the next process removes it and takes over, so a crash never deadlocks the
 * store. Callers in one process are queued in memory first (proper-lockfile keeps one
 * process-wide table keyed by path, so two holders in one process must never overlap).
 */
import { resolve, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { lock as LockFn } from 'proper-lockfile';
import { RelayError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';

/** Name of the lock (a directory, by proper-lockfile's design) inside the locked directory. */
export const LOCK_NAME = 'lock';
/** A lock whose holder stopped refreshing it for this long is taken over (holder was killed). */
export const LOCK_STALE_MS = 10_000;
/** proper-lockfile raises any smaller `stale` to this. */
export const LOCK_MIN_STALE_MS = 2_000;
/** How long to wait for a live holder; an interactive login holds the lock only for writes. */
export const LOCK_WAIT_MS = 60_000;
/** First pause between attempts: short, because credential writes take milliseconds. */
const RETRY_MIN_MS = 50;
/** Longest pause between attempts, so a released lock is noticed within half a second. */
const RETRY_MAX_MS = 500;

export interface WithLockOptions {
  /** Take over a lock not refreshed for this long (default {@link LOCK_STALE_MS}, minimum 2000). */
  staleMs?: number | undefined;
  /** Give up with `LOCK_TIMEOUT` after waiting this long (default {@link LOCK_WAIT_MS}); 0 tries once. */
  waitMs?: number | undefined;
  /** Where compromised-lock and release warnings go (default: nowhere). */
  log?: Logger | undefined;
}

/** Tail of the in-process queue for each lock path; an entry never rejects. */
const queues = new Map<string, Promise<void>>();

/**
 * Run `fn` while holding the lock of `dir` (which must exist), then release it, also when
 * `fn` throws. `fn` receives a signal that aborts if the lock is lost while held (its
 * refresh failed for longer than `staleMs`, e.g. the machine slept, and another process may
 * have taken over): check `signal.aborted` before a write that must not race.
 *
 * @throws RelayError `LOCK_TIMEOUT` when the lock stays held by someone else for `waitMs`;
 *   RelayError `STORE_IO` when the lock cannot be created at all (missing dir, permissions).
 */
export async function withLock<T>(dir: string, fn: (signal: AbortSignal) => Promise<T>, opts: WithLockOptions = {}): Promise<T> {
  const staleMs = Math.max(opts.staleMs ?? LOCK_STALE_MS, LOCK_MIN_STALE_MS);
  const waitMs = Math.max(opts.waitMs ?? LOCK_WAIT_MS, 0);
  const lockPath = join(resolve(dir), LOCK_NAME);
  const deadline = Date.now() + waitMs;

  const previous = queues.get(lockPath) ?? Promise.resolve();
  let endTurn!: () => void;
  const turn = new Promise<void>((r) => (endTurn = r));
  const tail = previous.then(() => turn);
  queues.set(lockPath, tail);
  try {
    await waitForPrevious(previous, deadline, lockPath, staleMs, waitMs);
    const controller = new AbortController();
    const release = await acquire(dir, lockPath, { staleMs, waitMs, deadline }, (err) => {
      // The library's default rethrows here, asynchronously, which would crash the relay.
      (opts.log ?? silentLogger()).warn(
        { lock: lockPath, code: errorCode(err) },
        `lost the store lock ${lockPath} while holding it (it was not refreshed within ${staleMs} ms, e.g. after a sleep or a stalled process); another mcp-relay may now hold it`,
      );
      controller.abort(new RelayError('LOCK_TIMEOUT', `store lock ${lockPath} was lost while held`, { cause: err }));
    });
    try {
      return await fn(controller.signal);
    } finally {
      await release().catch((err: unknown) => {
        // ERELEASED after a compromise is expected; anything else is worth a line.
        if (errorCode(err) !== 'ERELEASED') {
          (opts.log ?? silentLogger()).warn(
            { lock: lockPath, code: errorCode(err) },
            `could not release the store lock ${lockPath}; it will be taken over after ${staleMs} ms`,
          );
        }
      });
    }
  } finally {
    endTurn();
    if (queues.get(lockPath) === tail) queues.delete(lockPath);
  }
}

function errorCode(err: unknown): string | undefined {
  return err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function timeoutError(lockPath: string, staleMs: number, waitMs: number, holder: string): RelayError {
  return new RelayError(
    'LOCK_TIMEOUT',
    `timed out after ${waitMs} ms waiting for the store lock ${lockPath}, held by ${holder}; ` +
      `a lock left by a killed process is removed automatically after ${Math.ceil(staleMs / 1000)} s, ` +
      `or delete ${lockPath} by hand if no mcp-relay is running`,
  );
}

async function waitForPrevious(previous: Promise<void>, deadline: number, lockPath: string, staleMs: number, waitMs: number): Promise<void> {
  const ac = new AbortController();
  const timedOut = Symbol('timeout');
  try {
    const winner = await Promise.race([
      previous,
      sleep(Math.max(deadline - Date.now(), 0), timedOut, { signal: ac.signal, ref: false }).catch(() => undefined),
    ]);
    if (winner === timedOut) throw timeoutError(lockPath, staleMs, waitMs, 'this process');
  } finally {
    ac.abort();
  }
}

/**
 * proper-lockfile (with graceful-fs, retry and signal-exit: 13 files) is loaded on the first lock,
 * not at start: a relay whose login is valid never takes the lock, and every start pays for
 * what it loads (docs/performance.md, "The floor").
 */
let lockfileLock: typeof LockFn | undefined;

async function acquire(
  dir: string,
  lockPath: string,
  t: { staleMs: number; waitMs: number; deadline: number },
  onCompromised: (err: Error) => void,
): Promise<() => Promise<void>> {
  let pause = RETRY_MIN_MS;
  if (!lockfileLock) {
    // A CommonJS package: Node gives its exports as named ones too, the bundle (bin/build.mjs) only as `default`.
    const m = await import('proper-lockfile');
    lockfileLock = m.default?.lock ?? m.lock;
  }
  for (;;) {
    try {
      return await lockfileLock(dir, {
        lockfilePath: lockPath,
        realpath: false,
        stale: t.staleMs,
        update: t.staleMs / 2, // proper-lockfile requires update <= stale / 2
        retries: 0, // we retry ourselves, so the wait is bounded by time rather than by a count
        onCompromised,
      });
    } catch (err) {
      if (errorCode(err) !== 'ELOCKED') {
        throw new RelayError(
          'STORE_IO',
          `could not create the store lock ${lockPath}: ${errorCode(err) ?? String(err)}; check the permissions of ${dir}, or set MCP_RELAY_HOME to move the store`,
          { cause: err },
        );
      }
      const remaining = t.deadline - Date.now();
      if (remaining <= 0) throw timeoutError(lockPath, t.staleMs, t.waitMs, 'another process');
      // Jitter so that many waiters released at once do not retry in lockstep.
      await sleep(Math.min(remaining, pause * (0.5 + Math.random())));
      pause = Math.min(pause * 2, RETRY_MAX_MS);
    }
  }
}
