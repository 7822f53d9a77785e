/**
 * Helpers for carrying a host request's RequestWatch (types.ts) through a transport.
 */
import type { RequestWatch } from './types.js';

/**
 * Host backpressure (RemoteOptions.hostReady) as an answer stream should wait for it: the time the
 * host takes to read what it was sent is not the server's silence, so it is held off the request's clock.
 */
export function heldReady(
  ready: (() => Promise<void> | undefined) | undefined,
  watch: RequestWatch | undefined,
): (() => Promise<void> | undefined) | undefined {
  if (!ready || !watch) return ready;
  return () => {
    const wait = ready();
    return wait && watch.hold(wait);
  };
}

/**
 * A RequestWatch for one of the relay's own requests (a re-initialize), which has no host budget:
 * it aborts after `ms` in all (0 = never), not counting time held for a login. Without it, a
 * server answering the relay's request with garbage or notifications forever held every host
 * request waiting behind it. Call `end()` once the request is done.
 */
export function ownDeadline(ms: number): RequestWatch & { end(): void } {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    if (ms > 0 && !abort.signal.aborted) {
      timer = setTimeout(() => abort.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
      timer.unref();
    }
  };
  arm();
  return {
    signal: abort.signal,
    progress: () => {},
    phase: () => {},
    hold: async (work) => {
      clearTimeout(timer);
      try {
        return await work;
      } finally {
        arm();
      }
    },
    end: () => clearTimeout(timer),
  };
}
