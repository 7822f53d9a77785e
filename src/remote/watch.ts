/**
 * Helpers for carrying a host request's RequestWatch (types.ts) through a transport.
 */
import type { RequestWatch } from './types.js';

/**
 * Host backpressure (RemoteOptions.hostReady) as an answer stream should wait for it: the time the
 * host takes to read what it was sent is not the server's silence, so it is held off the request's clock.
 */
export function heldReady(ready: (() => Promise<void> | undefined) | undefined, watch: RequestWatch | undefined): (() => Promise<void> | undefined) | undefined {
  if (!ready || !watch) return ready;
  return () => {
    const wait = ready();
    return wait && watch.hold(wait);
  };
}
