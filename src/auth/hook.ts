/**
 * What a remote asks of the auth side, and nothing more: the transports know that credentials
 * exist and may be refused, never how they are obtained or stored (the coordinator implements
 * this on top of store/; `lazy.ts` defers loading it until a server first asks for a login).
 */
import type { BearerChallenge } from '../http/challenge.js';

export interface UnauthorizedInfo {
  status: 401 | 403;
  challenge: BearerChallenge;
  /** The Authorization value the server rejected (so the auth side can tell a stale token from a fresh one). */
  rejected: string | undefined;
}

/** How a remote gets credentials. Implemented by the auth coordinator; absent for header-only use. */
export interface AuthHook {
  /** The Authorization header value for the next request, if there are credentials. */
  authorization(): Promise<string | undefined>;
  /**
   * The server refused the credentials (401, or 403 insufficient_scope). Resolves when fresh
   * credentials are in place and the request should be retried; rejects (AUTH_*) when they cannot be had.
   */
  unauthorized(info: UnauthorizedInfo): Promise<void>;
  /** Other credential headers to send with every request (from --headers-command), if any. */
  headers?(): Promise<Record<string, string>>;
  /**
   * RFC 9449 §7.1: the DPoP proof for one request that carries `authorization`, or undefined when
   * that value is not a DPoP-bound token. A new proof (a new `jti`) on every call, retries included.
   */
  dpopProof?(request: DpopProofRequest): Promise<string | undefined>;
}

export interface DpopProofRequest {
  method: string;
  url: URL;
  /** The Authorization value the request carries (as authorization() returned it). */
  authorization: string;
  /** The nonce the MCP server last handed out (RFC 9449 §9), if any. */
  nonce: string | undefined;
}
