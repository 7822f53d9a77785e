/**
 * Give back the memory of a large message once it has been forwarded.
 *
 * A multi-MiB answer passes through the relay as Buffers (the network chunks that carried it).
 * They live outside V8's heap, and V8 collects them only when its own heap needs it or when
 * such external memory has grown by about 64 MB since the last collection. A relay that forwards
 * 8 MiB answers therefore held up to 6x the payload in dead chunks (`npm run bench`, 8 MiB peak
 * RSS growth; docs/performance.md). A young-generation collection right after a large message
 * has been written takes about 0.2 ms and brings that down to the chunks of the message in flight.
 *
 * Node exposes the collector only behind --expose-gc, which a host's `npx mcp-relay` command line
 * cannot pass; the flag is set at run time and the function taken from a fresh context. If
 * that is ever refused, this does nothing and memory behaves as before.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options: { type: 'minor' | 'major'; execution: 'sync' | 'async' }) => void;

let collect: Collect | null | undefined;

function loadCollector(): Collect | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof gc === 'function' ? (gc as Collect) : null;
  } catch {
    return null;
  }
}

/** Run a young-generation collection (where the buffers of a just-forwarded message are). */
export function releaseGarbage(): void {
  if (collect === undefined) collect = loadCollector();
  try {
    collect?.({ type: 'minor', execution: 'sync' });
  } catch {
    collect = null;
  }
}
