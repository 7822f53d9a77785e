/**
 * Era detection over HTTP (MCP 2026-07-28 basic/transports/streamable-http, "Backward
 * Compatibility"; basic/versioning, "Backward Compatibility with Initialization-Based Versions"):
 * POST `server/discover` and read the answer. 401/403 go through the auth hook inside
 * ModernHttp.post and the probe is sent again; 5xx, network errors and timeouts are not era
 * evidence and fail the host's message; any other 4xx without a modern body means legacy.
 */
import { isRelayError, RelayError } from '../../errors.js';
import type { JsonRpcMessage, RawMessage } from '../../jsonrpc/messages.js';
import { requestHeaders } from './headers.js';
import type { ModernHttp } from './post.js';
import type { RequestWatch } from '../types.js';
import { classifyProbeAnswer } from './wire.js';

export type ProbeOutcome =
  | { era: 'modern'; answer: JsonRpcMessage & { id: string | number }; raw: RawMessage | undefined }
  | { era: 'legacy'; reason: string };

/** Send the probe `msg` (a server/discover request) and decide the server's era. */
export async function probeEra(http: ModernHttp, msg: JsonRpcMessage & { id: string | number }, idleMs: number, watch?: RequestWatch): Promise<ProbeOutcome> {
  let out;
  try {
    out = await http.post(msg, { headers: requestHeaders(msg), idleMs, watch });
  } catch (err) {
    const status = isRelayError(err, 'REMOTE_HTTP') ? err.status : undefined;
    // A 4xx with no JSON-RPC body (e.g. a legacy SSE endpoint's 404/405, a 1.x server's plain 400).
    if (status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 403) return { era: 'legacy', reason: `server/discover answered HTTP ${status}` };
    throw err;
  }
  if (out.kind === 'idle') throw new RelayError('REMOTE_TIMEOUT', `the server at ${http.host} did not answer server/discover in time`);
  if (out.kind !== 'answer') throw new RelayError('REMOTE_UNAVAILABLE', `the server at ${http.host} ${out.kind === 'broken' ? out.reason : 'stopped'} while answering server/discover`);
  const verdict = classifyProbeAnswer(out.msg, out.status);
  return verdict.era === 'modern' ? { era: 'modern', answer: out.msg, raw: out.raw } : verdict;
}
