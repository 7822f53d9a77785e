/**
 * The state shared by the demo server's endpoints: resolved options, URLs, stores, counters.
 * One context per started server; nothing lives at module level.
 */
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../log.js';
import { ClientRegistry } from './clients.js';
import { DeviceStore } from './device-store.js';
import { GrantStore } from './grants.js';
import { sameResource } from './http.js';
import type { DemoCounters, DemoServerOptions } from './types.js';

export const DEFAULT_SCOPES = ['mcp:tools', 'mcp:read'];
const DEFAULT_ACCESS_TOKEN_TTL_SEC = 3600;
/** Short so the demo's device login feels instant; RFC 8628 §3.2 lets the server choose. */
const DEFAULT_DEVICE_INTERVAL_SEC = 1;
/** RFC 8628 §3.2 example lifetime (10 minutes). */
const DEFAULT_DEVICE_CODE_TTL_SEC = 600;
export const MCP_PATH = '/mcp';

export interface DemoContext {
  issuer: string;
  mcpUrl: string;
  /** Resource indicators tokens can be issued for: mcpUrl first, then otherResources. */
  resources: string[];
  resourceMetadataUrl: string;
  /** The protected resource's scopes_supported. */
  scopesSupported: string[];
  /** Every scope the AS grants: scopesSupported plus the scopes tools require. */
  grantableScopes: string[];
  challengeScope: string;
  requiredScopeForTool: Record<string, string>;
  autoApprove: boolean;
  requireAuth: boolean;
  registrationEnabled: boolean;
  deviceAuthorization: boolean;
  cimdEnabled: boolean;
  deviceIntervalSec: number;
  deviceCodeTtlSec: number;
  metadataOverrides: Record<string, unknown>;
  resourceMetadataOverrides: Record<string, unknown>;
  counters: DemoCounters;
  events: EventEmitter;
  log: Logger;
  now: () => number;
  clients: ClientRegistry;
  grants: GrantStore;
  devices: DeviceStore;
  /** setDown(true): the token endpoint answers 503. */
  down: boolean;
}

export function newCounters(): DemoCounters {
  return {
    registrations: 0,
    authorizeRequests: 0,
    codesIssued: 0,
    tokenRequests: { authorization_code: 0, refresh_token: 0, device_code: 0, client_credentials: 0 },
    invalidGrant: 0,
    deviceAuthorizations: 0,
    mcpRequests: 0,
    unauthorized401: 0,
    insufficientScope403: 0,
    revocations: 0,
  };
}

/** Build the context once the listener's origin (e.g. http://127.0.0.1:PORT) is known. */
export function createContext(opts: DemoServerOptions, origin: string): DemoContext {
  const now = opts.now ?? Date.now;
  const log = opts.log ?? silentLogger();
  const scopesSupported = [...(opts.scopesSupported ?? DEFAULT_SCOPES)];
  const requiredScopeForTool = { ...(opts.requiredScopeForTool ?? {}) };
  const grantableScopes = [...new Set([...scopesSupported, ...Object.values(requiredScopeForTool)])];
  const cimdEnabled = opts.clientIdMetadataDocumentSupported ?? false;
  const clients = new ClientRegistry({ cimdEnabled, now, log });
  for (const c of opts.staticClients ?? []) clients.addStatic(c);
  const mcpUrl = `${origin}${MCP_PATH}`;
  return {
    issuer: origin,
    mcpUrl,
    resources: [mcpUrl, ...(opts.otherResources ?? [])],
    // RFC 9728 §3.1: the well-known suffix is inserted between host and path.
    resourceMetadataUrl: `${origin}/.well-known/oauth-protected-resource${MCP_PATH}`,
    scopesSupported,
    grantableScopes,
    challengeScope: opts.challengeScope ?? (scopesSupported.includes('mcp:tools') ? 'mcp:tools' : scopesSupported.join(' ')),
    requiredScopeForTool,
    autoApprove: opts.autoApprove ?? false,
    requireAuth: opts.requireAuth ?? true,
    registrationEnabled: opts.registrationEnabled ?? true,
    deviceAuthorization: opts.deviceAuthorization ?? false,
    cimdEnabled,
    deviceIntervalSec: opts.deviceIntervalSec ?? DEFAULT_DEVICE_INTERVAL_SEC,
    deviceCodeTtlSec: opts.deviceCodeTtlSec ?? DEFAULT_DEVICE_CODE_TTL_SEC,
    metadataOverrides: { ...(opts.metadataOverrides ?? {}) },
    resourceMetadataOverrides: { ...(opts.resourceMetadataOverrides ?? {}) },
    counters: newCounters(),
    events: new EventEmitter(),
    log,
    now,
    clients,
    grants: new GrantStore({
      now,
      accessTokenTtlSec: opts.accessTokenTtlSec ?? DEFAULT_ACCESS_TOKEN_TTL_SEC,
      rotateRefreshTokens: opts.rotateRefreshTokens ?? true,
    }),
    devices: new DeviceStore(now),
    down: false,
  };
}

/** The served resource a presented indicator names (compared canonically), if any. */
export function servedResource(ctx: DemoContext, presented: string): string | undefined {
  return ctx.resources.find((r) => sameResource(r, presented));
}

/** Parse a space-separated scope parameter (RFC 6749 §3.3). */
export function parseScope(value: string | undefined): string[] {
  return [...new Set((value ?? '').split(' ').filter((s) => s !== ''))];
}
