/**
 * "last used" in `mcp-relay status`: a relay that keeps running records each use of the stored
 * login in server.json, cheaply. The write happens at most once per interval per process (the
 * start of the relay already recorded one), so a busy relay costs one small atomic write every
 * few minutes, not one per request.
 */
import type { AuthHook } from './hook.js';

/** Default interval between two "last used" writes of one process. */
export const LAST_USED_INTERVAL_MS = 5 * 60_000;

/**
 * `hook` with each successful use of its credentials reported to `record`, at most once per
 * `intervalMs` (counted from `startedAt`, when the relay recorded its start). `record` must not
 * throw or reject (ServerStore.touch does neither).
 */
export function recordingUse(
  hook: AuthHook,
  record: (now: number) => Promise<void>,
  opts: { intervalMs: number; startedAt: number; now?: () => number },
): AuthHook {
  const now = opts.now ?? Date.now;
  let last = opts.startedAt;
  return {
    authorization: async () => {
      const value = await hook.authorization();
      const t = now();
      if (value !== undefined && t - last >= opts.intervalMs) {
        last = t;
        void record(t);
      }
      return value;
    },
    unauthorized: (info) => hook.unauthorized(info),
    ...(hook.headers ? { headers: () => hook.headers!() } : {}),
    // Every member of the hook passes through: a dropped one silently turns a feature off.
    ...(hook.dpopProof ? { dpopProof: (r) => hook.dpopProof!(r) } : {}),
  };
}
