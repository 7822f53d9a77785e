/**
 * One budget per host request, kept in one place for every transport and revision, so that
 * "every request gets exactly one answer" also means "in bounded time":
 * - `--timeout`: no progress (a complete message for the request, not a byte) for this long;
 * - `--max-time`: the request's total time, however busy the server keeps it.
 * Either limit answers the host with a JSON-RPC error naming the limit and what the server was
 * doing, and aborts the request's RequestWatch so the remote stops reading its answer.
 * Time the request spends on someone other than the server (a login the user is going through,
 * a host that is slow to read stdout) is held off the no-progress clock.
 *
 * Cheap on the hot path: a request costs one timer, set at start and cleared at its answer;
 * progress only stores a timestamp, and the timer checks it when it fires.
 */
import type { JsonRpcId } from '../jsonrpc/messages.js';
import type { RequestWatch } from '../remote/types.js';

export interface BudgetLimits {
  /** --timeout in ms: no progress for this long ends the request (0 = no limit). */
  idleMs: number;
  /** --max-time in ms: the longest a request may take in all (0 = no limit). */
  totalMs: number;
}

/** Default for --max-time: generous enough for any tool call a person waits for. */
export const DEFAULT_MAX_TIME_MS = 60 * 60 * 1000;

/** Requests that stay open by design (a 2026-07-28 host's listen stream) are held to no clock. */
const LONG_LIVED_METHODS = new Set(['subscriptions/listen']);

export type LimitName = 'timeout' | 'max-time';

export interface Expiry {
  limit: LimitName;
  /** What the remote said it was doing for the request when the limit fired. */
  phase: string;
  /** The limit in ms. */
  ms: number;
}

class RequestBudget implements RequestWatch {
  private readonly abort = new AbortController();
  private readonly started: number;
  private lastProgress: number;
  private holds = 0;
  private timer: NodeJS.Timeout | undefined;
  private what = 'sending it to the server';

  constructor(
    private readonly limits: BudgetLimits,
    private readonly now: () => number,
    private readonly onExpire: (e: Expiry) => void,
  ) {
    this.started = this.lastProgress = now();
    this.arm();
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  progress(): void {
    this.lastProgress = this.now();
  }

  phase(what: string): void {
    this.what = what;
  }

  async hold<T>(work: Promise<T>): Promise<T> {
    this.holds++;
    try {
      return await work;
    } finally {
      this.holds--;
      this.lastProgress = this.now();
      this.arm();
    }
  }

  /** The request is answered: no limit fires any more. */
  end(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.abort.signal.aborted) return;
    const now = this.now();
    const deadlines: number[] = [];
    if (this.limits.totalMs > 0) deadlines.push(this.started + this.limits.totalMs);
    if (this.limits.idleMs > 0 && this.holds === 0) deadlines.push(this.lastProgress + this.limits.idleMs);
    if (deadlines.length === 0) return;
    this.timer = setTimeout(() => this.check(), Math.max(0, Math.min(...deadlines) - now));
  }

  private check(): void {
    const now = this.now();
    if (this.limits.totalMs > 0 && now - this.started >= this.limits.totalMs) return this.expire('max-time', this.limits.totalMs);
    if (this.limits.idleMs > 0 && this.holds === 0 && now - this.lastProgress >= this.limits.idleMs) return this.expire('timeout', this.limits.idleMs);
    this.arm(); // progress came meanwhile: wait for the new deadline
  }

  private expire(limit: LimitName, ms: number): void {
    this.end();
    this.abort.abort();
    this.onExpire({ limit, phase: this.what, ms });
  }
}

/** The budgets of every host request in flight. */
export class Budgets {
  private readonly active = new Map<JsonRpcId, RequestBudget>();

  constructor(
    private readonly limits: BudgetLimits,
    private readonly onExpire: (id: JsonRpcId, e: Expiry) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Start the clocks of a request being forwarded (none for long-lived methods or with no limits). */
  start(id: JsonRpcId, method: string): RequestWatch | undefined {
    if (LONG_LIVED_METHODS.has(method) || (this.limits.idleMs <= 0 && this.limits.totalMs <= 0)) return undefined;
    this.active.get(id)?.end();
    const budget = new RequestBudget(this.limits, this.now, (e) => {
      this.active.delete(id);
      this.onExpire(id, e);
    });
    this.active.set(id, budget);
    return budget;
  }

  get(id: JsonRpcId): RequestWatch | undefined {
    return this.active.get(id);
  }

  end(id: JsonRpcId): void {
    const budget = this.active.get(id);
    if (!budget) return;
    budget.end();
    this.active.delete(id);
  }

  endAll(): void {
    for (const budget of this.active.values()) budget.end();
    this.active.clear();
  }
}

/** The host-facing text for an expired budget. */
export function expiryMessage(e: Expiry): string {
  const s = Math.round(e.ms / 1000);
  return e.limit === 'timeout'
    ? `no progress from the server for ${s} s (the --timeout limit) while ${e.phase}; the relay stopped waiting and asked the server to cancel the request (raise --timeout if it is expected to work silently this long)`
    : `the request ran for ${s} s (the --max-time limit) while ${e.phase}; the relay stopped waiting and asked the server to cancel it (raise --max-time, or 0 for no limit)`;
}
