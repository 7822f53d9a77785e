/**
 * What a server is (era, transport), remembered across starts in its store directory
 * (remote.json), so a warm start skips the `server/discover` probe and sends exactly the requests
 * a direct client sends. connect.ts decides when a record may be used and when the server's
 * answers overrule it.
 *
 * Lifetime: {@link ERA_RECORD_TTL_MS}. A record that became wrong costs little either way: a
 * server that dropped the 2025 handshake refuses the remembered `initialize` with a 4xx, and the
 * relay probes again at once; a server that added 2026-07-28 still answers `initialize`
 * (backward compatibility) and is probed again when the record expires. A day bounds that second
 * case while costing one probe per server per day, the lifetime discovery.json uses too.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServerStore, StoredRemote } from '../store/store.js';

export const ERA_RECORD_TTL_MS = 24 * 60 * 60_000;

export interface EraRecord {
  era: 'legacy' | 'modern';
  transport: 'http' | 'sse';
}

/** Where AutoRemote keeps its verdicts between starts. */
export interface EraMemory {
  /** The last verdict, if still fresh. Never rejects: an unusable store only costs a probe. */
  recall(): Promise<EraRecord | undefined>;
  /**
   * Record a verdict the server just gave. Never rejects. Callers do not wait for it before the
   * next message; they wait for it before exiting, so the next start finds it.
   */
  remember(record: EraRecord): Promise<void>;
}

/** An EraMemory over the server's remote.json. */
export function storeEraMemory(server: Pick<ServerStore, 'readRemote' | 'writeRemote'>, log: Logger, now: () => number = Date.now): EraMemory {
  return {
    async recall() {
      let last: StoredRemote | undefined;
      try {
        last = await server.readRemote();
      } catch (err) {
        log.debug(`could not read remote.json: ${describeError(err)}`);
        return undefined;
      }
      if (!last) return undefined;
      const age = now() - last.checked_at;
      // A clock set back makes a negative age: not trusted either.
      if (age < 0 || age >= ERA_RECORD_TTL_MS) return undefined;
      return { era: last.era, transport: last.transport };
    },
    remember(record) {
      return server.writeRemote({ ...record, checked_at: now() }).catch((err) => log.debug(`could not write remote.json: ${describeError(err)}`));
    },
  };
}
