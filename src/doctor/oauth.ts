/**
 * The OAuth steps of `mcp-relay doctor`: protected-resource and authorization-server metadata
 * (the relay's own discovery and validation, so a refusal here is the refusal a login would
 * meet), the ways to get a client there, and the stored login (expiry and scopes, never a token).
 */
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { discover, type Discovered } from '../auth/discovery.js';
import { type Config, machineGrantKind } from '../config/config.js';
import { describeError } from '../errors.js';
import type { FetchFn } from '../http/fetch.js';
import type { Logger } from '../log.js';
import type { StoredClient, StoredTokens } from '../store/store.js';
import { STEP_TIMEOUT_MS, step, withinStep, type DoctorStep } from './step.js';

/** Discovery tries up to three well-known URLs (RFC 9728, RFC 8414, OpenID), one step's time each. */
const DISCOVERY_TIMEOUT_MS = 3 * STEP_TIMEOUT_MS;

/** The resource_metadata URL of a WWW-Authenticate Bearer challenge (RFC 9728 §5.1). */
function resourceMetadataUrl(challenge: string | null | undefined): string | undefined {
  return challenge?.match(/resource_metadata="([^"]+)"/)?.[1];
}

export interface MetadataFindings {
  step: DoctorStep;
  discovered?: Discovered | undefined;
}

export async function checkMetadata(
  config: Config,
  fetch: FetchFn,
  log: Logger,
  challenge: string | null | undefined,
  loginAsked: boolean,
): Promise<MetadataFindings> {
  try {
    const discovered = await withinStep(
      discover({
        serverUrl: config.serverUrl,
        resourceMetadataUrl: resourceMetadataUrl(challenge),
        allowHttp: config.allowHttp,
        fetch,
        log,
        // A machine grant sends no authorization request: no PKCE to require.
        requirePkce: machineGrantKind(config.auth) === undefined,
      }),
      'OAuth discovery',
      DISCOVERY_TIMEOUT_MS,
    );
    const m = discovered.metadata;
    const prm = discovered.resourceMetadata
      ? `protected resource metadata names ${discovered.authorizationServerUrl}`
      : 'no protected resource metadata (RFC 9728); the server origin is taken as the authorization server';
    const detail = `${prm}; issuer ${m.issuer}; PKCE ${m.code_challenge_methods_supported?.join(', ') ?? 'not advertised'}; scopes ${m.scopes_supported?.join(' ') ?? 'not advertised'}`;
    return {
      discovered,
      step: step(
        'metadata',
        discovered.resourceMetadata ? 'ok' : 'warn',
        detail,
        discovered.resourceMetadata ? undefined : 'MCP 2025-06-18 and later servers should publish /.well-known/oauth-protected-resource',
      ),
    };
  } catch (err) {
    const text = describeError(err);
    if (!loginAsked) return { step: step('metadata', 'skip', `the server did not ask for a login, and its OAuth metadata is not usable (${text})`) };
    const advice = /issuer/.test(text)
      ? 'the authorization server metadata names another issuer than the URL it was fetched from (RFC 8414 §3.3): the server operator must fix "issuer"; the relay refuses to log in there'
      : /S256/.test(text)
        ? 'the authorization server must list "S256" in "code_challenge_methods_supported" (MCP requires PKCE); the server operator must fix it'
        : 'the server operator must publish valid OAuth metadata (RFC 9728 and RFC 8414)';
    return { step: step('metadata', 'fail', text, advice) };
  }
}

/** The ways to get an OAuth client at the authorization server, in the order the relay tries them. */
export function checkRegistration(config: Config, metadata: AuthorizationServerMetadata | undefined, stored: StoredClient | undefined): DoctorStep {
  const m = (metadata ?? {}) as AuthorizationServerMetadata & { client_id_metadata_document_supported?: boolean };
  const ways: string[] = [];
  if (config.auth.clientId !== undefined || config.auth.clientInfo !== undefined) ways.push('static client (--client-id/--client-info)');
  if (m.client_id_metadata_document_supported === true)
    ways.push(`client ID metadata document${config.auth.clientMetadataUrl ? '' : ' (supported; give --client-metadata-url to use it)'}`);
  if (m.registration_endpoint) ways.push('dynamic registration (RFC 7591)');
  const storedText = stored ? `; a ${stored.kind} client is stored` : '';
  if (ways.length === 0 && !stored) {
    return step(
      'registration',
      'fail',
      'no static client, no client ID metadata document support and no registration_endpoint',
      'ask the server operator for a client id and pass --client-id (and --client-secret if one was issued)',
    );
  }
  return step('registration', 'ok', `${ways.join(', ') || 'none besides the stored client'}${storedText}`);
}

/** The stored login for this server: expiry and scopes, never a token. */
export function checkLogin(url: URL, tokens: StoredTokens | undefined, loginAsked: boolean, now: number): DoctorStep {
  const login = `run \`mcp-relay login ${url.href}\``;
  if (!tokens) {
    return loginAsked
      ? step('login', 'warn', 'no stored login for this server', `${login} (or let the relay open the browser on first use)`)
      : step('login', 'ok', 'no stored login (none needed so far)');
  }
  const scopes = tokens.scope ? `scopes "${tokens.scope}"` : 'no scopes recorded';
  const refresh = tokens.refresh_token ? 'a refresh token is stored' : 'no refresh token';
  if (tokens.expires_at !== undefined && tokens.expires_at <= now) {
    const ago = Math.round((now - tokens.expires_at) / 60_000);
    return step(
      'login',
      tokens.refresh_token ? 'ok' : 'warn',
      `access token expired ${ago} min ago; ${refresh}; ${scopes}`,
      tokens.refresh_token ? undefined : `${login} to log in again`,
    );
  }
  const until = tokens.expires_at !== undefined ? `valid until ${new Date(tokens.expires_at).toISOString()}` : 'no expiry given';
  return step('login', 'ok', `access token ${until}; ${refresh}; ${scopes}${tokens.grant ? `; obtained by ${tokens.grant}` : ''}`);
}
