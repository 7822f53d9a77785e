/**
 * What to ask the authorization server for: scopes and the RFC 8707 resource. Pure.
 */
import type { Config } from '../config/config.js';
import type { Discovered } from './discovery.js';

/**
 * MCP 2025-11-25 authorization, scope selection: the scope from the challenge, else the resource
 * metadata's scopes_supported, else none (never invented OpenID scopes). --scope wins; step-up
 * (a `previous` scope) asks for the union of what we had and what the challenge wants. `held`
 * (the scope of tokens being replaced without step-up) comes before the metadata's list.
 */
export function selectScope(o: {
  configured?: string | undefined;
  challenge?: string | undefined;
  previous?: string | undefined;
  held?: string | undefined;
  supported?: string[] | undefined;
}): string | undefined {
  const base = o.configured ?? o.challenge ?? o.held ?? o.supported?.join(' ');
  if (o.previous === undefined) return base || undefined;
  const union = new Set([...o.previous.split(' '), ...(base ?? '').split(' '), ...(o.challenge ?? '').split(' ')].filter(Boolean));
  return [...union].join(' ') || undefined;
}

/**
 * RFC 8707 resource: --resource, else the server's declared resource, else the canonical server URL.
 * The result is an identifier, not a URL to normalise: RFC 9728 §3.3 has the client use the
 * published value as is, and the same string goes into the authorization, token and refresh
 * requests. Nothing downstream may pass it through a URL parser.
 */
export function selectResource(config: Config, d: Discovered): string | undefined {
  if (config.auth.omitResource) return undefined;
  // MCP 2025-11-25 authorization, resource parameter: clients MUST send it, whether or not the
  // server published protected resource metadata (the SDK omits it in that case).
  return config.auth.resource ?? d.resourceMetadata?.resource ?? config.serverUrl.href;
}
