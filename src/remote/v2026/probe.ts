/**
 * Era detection over HTTP (MCP 2026-07-28 streamable-http, Backward Compatibility; spec brief §1):
 * POST `server/discover` and read the answer. 401/403 go through the auth hook inside
 * ModernHttp.post and the probe is sent again; 5xx, network errors and timeouts are not era
 * evidence and fail the host's message; any other 4xx without a modern body means legacy.
 * A -32022 (unsupported protocol version) that lists a version we speak is a negotiation
 * (2026-07-28 basic/versioning): the probe is sent once more with that version, and its answer
 * must then be a DiscoverResult. Any other shape is a REMOTE_PROTOCOL error quoting the server.
 */
import { isRelayError, RelayError } from '../../errors.js';
import type { JsonRpcMessage, RawMessage } from '../../jsonrpc/messages.js';
import { requestHeaders } from './headers.js';
import type { ModernHttp } from './post.js';
import type { RequestWatch } from '../types.js';
import { classifyProbeAnswer, quoteAnswer, withProtocolVersion } from './wire.js';

export type ProbeOutcome =
  /** `answer.result` is the server's DiscoverResult (an object with `supportedVersions`). */
  { era: 'modern'; answer: JsonRpcMessage & { id: string | number }; raw: RawMessage | undefined } | { era: 'legacy'; reason: string };

type Sent = { kind: 'legacy'; reason: string } | { kind: 'answer'; msg: JsonRpcMessage & { id: string | number }; raw: RawMessage | undefined; status: number };

/** POST one probe; a 4xx without a JSON-RPC body is a legacy verdict. */
async function sendProbe(http: ModernHttp, msg: JsonRpcMessage & { id: string | number }, idleMs: number, watch: RequestWatch | undefined): Promise<Sent> {
  let out;
  try {
    out = await http.post(msg, { headers: requestHeaders(msg), idleMs, watch });
  } catch (err) {
    const status = isRelayError(err, 'REMOTE_HTTP') ? err.status : undefined;
    // A 4xx with no JSON-RPC body (e.g. a legacy SSE endpoint's 404/405, a 1.x server's plain 400).
    if (status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 403)
      return { kind: 'legacy', reason: `server/discover answered HTTP ${status}` };
    throw err;
  }
  if (out.kind === 'idle') throw new RelayError('REMOTE_TIMEOUT', `the server at ${http.host} did not answer server/discover in time`);
  if (out.kind !== 'answer')
    throw new RelayError('REMOTE_UNAVAILABLE', `the server at ${http.host} ${out.kind === 'broken' ? out.reason : 'stopped'} while answering server/discover`);
  return { kind: 'answer', msg: out.msg, raw: out.raw, status: out.status };
}

/** Send the probe `msg` (a server/discover request) and decide the server's era. */
export async function probeEra(http: ModernHttp, msg: JsonRpcMessage & { id: string | number }, idleMs: number, watch?: RequestWatch): Promise<ProbeOutcome> {
  const first = await sendProbe(http, msg, idleMs, watch);
  if (first.kind === 'legacy') return { era: 'legacy', reason: first.reason };
  const verdict = classifyProbeAnswer(first.msg, first.status);
  if (verdict.era === 'legacy') return verdict;
  if (verdict.retryWith === undefined) return { era: 'modern', answer: first.msg, raw: first.raw };

  // Negotiated once: the server named a version we speak, so anything but a DiscoverResult now is a broken server.
  const version = verdict.retryWith;
  const second = await sendProbe(http, withProtocolVersion(msg, version), idleMs, watch);
  const sent = second.kind === 'legacy' ? second.reason : quoteAnswer(second.msg);
  if (second.kind === 'answer') {
    const again = classifyProbeAnswer(second.msg, second.status); // a 5xx is still a server failure, not a verdict
    if (again.era === 'modern' && again.retryWith === undefined) return { era: 'modern', answer: second.msg, raw: second.raw };
    if (again.era === 'modern')
      throw new RelayError(
        'REMOTE_PROTOCOL',
        `the server at ${http.host} rejected protocol version ${version} again, though its -32022 listed it as supported; it sent ${sent}`,
      );
  }
  throw new RelayError(
    'REMOTE_PROTOCOL',
    `the server at ${http.host} answered server/discover with protocol version ${version} (which it listed as supported) without a DiscoverResult for it; it sent ${sent}`,
  );
}
