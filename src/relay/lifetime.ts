/**
 * How a relay process lives and ends, the same for one server (cli/proxy.ts) and for an aggregate
 * (relay/aggregate/index.ts): it runs until the host closes stdin or a signal comes, then closes
 * the server side within a grace time, flushes the logs (briefly: a host that does not read our
 * stderr must not keep us alive) and resolves with the exit code.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { drainStderr } from '../stderr.js';

/** Give up on a clean shutdown after this long (a hung DELETE must not keep a zombie relay). */
export const SHUTDOWN_GRACE_MS = 3_000;
/** Longest wait for log lines to reach stderr or the log file at exit. */
export const LOG_FLUSH_MAX_MS = 1_000;

export class Lifetime {
  private stopping = false;
  private done: (code: number) => void = () => {};
  private readonly finished = new Promise<number>((resolve) => (this.done = resolve));

  /** `close` ends the server side (sessions deleted, pending requests answered); errors are logged. */
  constructor(
    private readonly log: Logger,
    private readonly close: (reason: string) => Promise<void>,
  ) {}

  /** Begin the shutdown (once; later calls are ignored). */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info(`shutting down: ${reason}`);
    const grace = setTimeout(() => {
      this.log.warn('shutdown took too long; exiting anyway');
      this.done(0);
    }, SHUTDOWN_GRACE_MS);
    grace.unref();
    try {
      await this.close(reason);
    } catch (err) {
      this.log.warn(`error during shutdown: ${describeError(err)}`);
    }
    clearTimeout(grace);
    this.done(0);
  }

  /** Start the host side, stop on SIGINT/SIGTERM/SIGHUP, and resolve with the exit code once stopped and flushed. */
  async run(host: { start(): void }): Promise<number> {
    const onSignal = (sig: NodeJS.Signals) => void this.stop(`received ${sig}`);
    // `on`, not `once` (stop() runs once anyway): proper-lockfile's signal-exit, loaded with the
    // first lock, re-raises a signal when it finds itself the only listener left, which killed the
    // relay mid-shutdown (no DELETE, no answers, exit by signal) when a `once` listener had gone.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    host.start();
    const code = await this.finished;
    await Promise.race([
      new Promise<void>((resolve) => this.log.flush(() => resolve())),
      new Promise<void>((resolve) => setTimeout(resolve, LOG_FLUSH_MAX_MS).unref()),
    ]);
    await drainStderr(LOG_FLUSH_MAX_MS);
    return code;
  }
}
