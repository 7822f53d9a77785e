/**
 * Public types of the embedded demo server (an OAuth 2.1 authorization server plus an
 * OAuth-protected MCP resource server on one node:http listener).
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';

/** A client known in advance (RFC 6749 §2 pre-registration). */
export interface StaticClient {
  client_id: string;
  /** With a secret the client is confidential and may use client_secret_post or client_secret_basic. */
  client_secret?: string;
  /** Undefined: any loopback http redirect URI is allowed (RFC 8252 §7.3). */
  redirect_uris?: string[];
  client_name?: string;
  /**
   * The client's public keys (an RFC 7517 JWK set, as RFC 7591 `jwks`): the client may then
   * authenticate with private_key_jwt (RFC 7523 §2.2) at the token endpoint.
   */
  jwks?: { keys: Array<Record<string, unknown>> };
  /**
   * RFC 7591 §2: the one method the client must use at the token endpoint. Default: both
   * client_secret_basic and client_secret_post with a secret, private_key_jwt with jwks, none otherwise.
   */
  token_endpoint_auth_method?: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
}

export interface DemoServerOptions {
  /** Interface to bind; default '127.0.0.1'. */
  host?: string;
  /** Port to bind; default 0 (a random free port). */
  port?: number;
  /** Lifetime of access tokens; default 3600. */
  accessTokenTtlSec?: number;
  /**
   * Default true: each refresh returns a new refresh token and invalidates the old one. Presenting
   * an invalidated one is answered with invalid_grant and revokes the whole token family.
   */
  rotateRefreshTokens?: boolean;
  /** Default false: GET /authorize shows a consent page; true: redirect straight back with a code. */
  autoApprove?: boolean;
  /** Default true: /mcp needs a valid bearer token. */
  requireAuth?: boolean;
  /** Default ['mcp:tools', 'mcp:read']; also the protected resource's scopes_supported. */
  scopesSupported?: string[];
  /**
   * Scope advertised in the 401 challenge; default 'mcp:tools' when supported, else every
   * supported scope.
   */
  challengeScope?: string;
  /** Tool name → scope needed to call it (e.g. { admin_report: 'mcp:admin' }). */
  requiredScopeForTool?: Record<string, string>;
  /** Advertise and accept Client ID Metadata Documents (https, or http on loopback for tests). */
  clientIdMetadataDocumentSupported?: boolean;
  /** Default true: RFC 7591 dynamic registration at /register. */
  registrationEnabled?: boolean;
  /** Default false: RFC 8628 device authorization grant at /device. */
  deviceAuthorization?: boolean;
  /** Polling interval returned by /device; default 1 (kept short so demos feel instant). */
  deviceIntervalSec?: number;
  /** Lifetime of device codes; default 600. */
  deviceCodeTtlSec?: number;
  /**
   * More resource indicators the AS issues tokens for (other resource servers behind the same
   * AS). The MCP endpoint rejects their tokens: that is the audience check (RFC 8707 §2).
   */
  otherResources?: string[];
  /** Merged last into the authorization server metadata (tests plant hostile values). */
  metadataOverrides?: Record<string, unknown>;
  /** Merged last into the protected resource metadata. */
  resourceMetadataOverrides?: Record<string, unknown>;
  staticClients?: StaticClient[];
  log?: Logger;
  /** Clock in epoch milliseconds; default Date.now (tests advance a fake one). */
  now?: () => number;
}

export interface DemoCounters {
  registrations: number;
  /** GET /authorize requests received: one per browser tab a client opened. */
  authorizeRequests: number;
  codesIssued: number;
  tokenRequests: { authorization_code: number; refresh_token: number; device_code: number; client_credentials: number };
  /** Token endpoint answers with error=invalid_grant, whatever the grant. */
  invalidGrant: number;
  deviceAuthorizations: number;
  /** Every HTTP request to the MCP endpoint. */
  mcpRequests: number;
  unauthorized401: number;
  insufficientScope403: number;
  /** Requests to /revoke answered 200. */
  revocations: number;
}

/** Emitted as 'request' on {@link DemoServer.events} for every HTTP request (path without query). */
export interface DemoRequestEvent {
  method: string;
  path: string;
}

export interface DemoServer {
  /** The MCP endpoint and canonical resource URI, e.g. http://127.0.0.1:PORT/mcp */
  url: string;
  /** The authorization server issuer, e.g. http://127.0.0.1:PORT */
  issuer: string;
  /** URL of the RFC 9728 document advertised in WWW-Authenticate. */
  resourceMetadataUrl: string;
  /** Live counters (mutated in place). */
  counters: DemoCounters;
  /** Emits 'request' ({@link DemoRequestEvent}). */
  events: EventEmitter;
  /** Make every access token issued so far expired (simulates time passing). */
  expireAccessTokens(): void;
  /** Revoke every access and refresh token (a client must log in again). */
  revokeAll(): void;
  /** While down the token endpoint answers 503 (the MCP endpoint is unaffected). */
  setDown(down: boolean): void;
  /** Approve a pending device authorization (RFC 8628) by its user code; throws if unknown. */
  approveDevice(userCode: string): void;
  /** Close every MCP session, so the next request with an old session id gets 404. */
  dropSessions(): Promise<void>;
  close(): Promise<void>;
}
