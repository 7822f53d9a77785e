/**
 * The RFC 7523 §2.1 JWT bearer grant ("jwt-bearer"): a JWT someone else issued is the grant.
 * - Workload identity federation (the MCP WIF extension, `--workload-token`): the platform's JWT
 *   (a GitHub Actions OIDC token, a Kubernetes projected service-account token) is the
 *   assertion; no registration, no browser. The file is read again for every token request,
 *   because platforms rotate it.
 * - Enterprise-managed authorization (enterprise.ts): the ID-JAG from the IdP is the assertion.
 * The request is tokenRequest + processTokenResponse (token-endpoint.ts).
 */
import { readSecretSource, type SecretSource } from '../config/config.js';
import { RelayError } from '../errors.js';
import type { StoredTokens } from '../store/store.js';
import { type ClientAuth, clientAuthentication } from './client-auth.js';
import { grantFailure, isRefusal, type MachineGrant, type MachineGrantRequest } from './machine-grant.js';
import { staticClient } from './registration.js';
import { processTokenResponse, tokenRequest } from './token-endpoint.js';
import { toStored, tokenEndpoint } from './tokens.js';

/** RFC 7523 §2.1: the grant type of a JWT used as an authorization grant. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** No client authentication: RFC 7523 §3.1 makes it optional for the jwt-bearer grant. */
const anonymous: ClientAuth = async () => {};

export interface JwtBearerRequest extends Pick<MachineGrantRequest, 'discovered' | 'scope' | 'resource' | 'fetch' | 'now' | 'dpop'> {
  assertion: string;
  /** How the client authenticates (client-auth.ts), or none. */
  auth: ClientAuth;
  kind: StoredTokens['grant'];
}

/**
 * One jwt-bearer token request (no store, no lock, no retry). Throws the token endpoint's
 * RelayError as it is (callers explain it for their grant).
 */
export async function requestJwtBearerToken(r: JwtBearerRequest): Promise<StoredTokens> {
  const meta = r.discovered.metadata;
  const params = new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion: r.assertion, ...(r.scope ? { scope: r.scope } : {}) });
  // RFC 8707 §2 and MCP 2025-11-25 authorization: resource MUST be sent on token requests.
  const res = await tokenRequest({
    endpoint: tokenEndpoint(r.discovered),
    params,
    resource: r.resource,
    auth: r.auth,
    issuer: meta.issuer,
    fetch: r.fetch,
    dpop: r.dpop,
  });
  const t = await processTokenResponse(res, { dpop: r.dpop !== undefined });
  // A refresh token is not kept: renewing is presenting a (possibly rotated) assertion again, so
  // there is one way to renew and it never outlives the credential it came from.
  const { refresh_token: _unused, ...access } = t;
  return { ...toStored({ ...access, scope: t.scope ?? r.scope }, r.now(), { issuer: meta.issuer, resource: r.resource, dpop: r.dpop }), grant: r.kind };
}

/** Refuse before sending anything when the metadata says the server has no jwt-bearer grant. */
export function checkJwtBearerSupport(r: MachineGrantRequest, label: string): void {
  const grants = r.discovered.metadata.grant_types_supported;
  if (grants && !grants.includes(JWT_BEARER_GRANT)) {
    throw new RelayError(
      'AUTH_FAILED',
      `${label} failed: the authorization server ${r.discovered.metadata.issuer} does not offer the jwt-bearer grant ("grant_types_supported" lacks ${JWT_BEARER_GRANT})`,
    );
  }
}

/**
 * The static client (--client-id with --client-secret or --client-key-file, or --client-info) as
 * a ClientAuth, or none when there is no client. `flags` names its credential for messages.
 */
export function staticClientAuth(r: MachineGrantRequest): { auth: ClientAuth; clientId: string | undefined; secret: string | undefined; flags: string } {
  const client = staticClient(r.auth, '', r.now());
  const key = r.auth.clientKey;
  const flags = key ? `--client-id / --client-key-file${key.keyId ? ` (kid ${key.keyId})` : ''}` : '--client-id / --client-secret';
  if (!client) return { auth: anonymous, clientId: undefined, secret: undefined, flags };
  // With --client-key-file: private_key_jwt (RFC 7523 §2.2), the same assertion as --client-credentials sends.
  const identity = key ? { client_id: client.client_id } : client;
  const { apply } = clientAuthentication(identity, { supported: r.discovered.metadata.token_endpoint_auth_methods_supported, key, now: r.now });
  return { auth: apply, clientId: client.client_id, secret: client.client_secret, flags };
}

/**
 * Workload identity: `--workload-token` as the assertion of a jwt-bearer grant, with the static
 * client when one is given (else none, RFC 7523 §3.1). The grant type is never switched to
 * another one behind the user's back. A refused assertion is remembered (in this process): the
 * same token is not sent again (the error is answered from memory) until the file holds a new
 * one, so a refusal is reported once instead of being retried in a loop.
 */
export function workloadIdentityGrant(source: SecretSource): MachineGrant {
  let refused: { assertion: string; error: RelayError } | undefined;
  const label = 'workload identity grant';
  const where = 'file' in source ? source.file : 'the variable';
  return {
    kind: 'workload_identity',
    label,
    async request(r) {
      const assertion = readSecretSource(source);
      if (refused?.assertion === assertion) {
        throw new RelayError('AUTH_FAILED', `${refused.error.message} (not sent again: the relay waits for a new token in ${where})`, {
          cause: refused.error.cause,
        });
      }
      checkJwtBearerSupport(r, label);
      const client = staticClientAuth(r);
      try {
        return await requestJwtBearerToken({ ...r, assertion, auth: client.auth, kind: 'workload_identity' });
      } catch (err) {
        const hints: Record<string, string> = {
          invalid_grant: `it refused the workload token from ${source.flag} (expired, wrong audience, or an issuer it does not trust): check the token's "aud" names ${r.discovered.metadata.issuer} and that the platform refreshes ${where}`,
          invalid_client: `it does not accept client ${client.clientId ?? '(none)'}: check ${client.flags}`,
          unauthorized_client: 'this workload may not use the jwt-bearer grant there: allow it at the authorization server',
          invalid_scope: `it refused the scope ${JSON.stringify(r.scope ?? '')}: check --scope`,
          invalid_target: `it refused the resource ${r.resource ?? '(none)'}: check --resource (or --omit-resource)`,
          unsupported_grant_type: 'it does not support the jwt-bearer grant',
        };
        const error = grantFailure(label, `the token endpoint of ${r.discovered.metadata.issuer}`, err, hints, [assertion, client.secret]);
        if (isRefusal(err)) refused = { assertion, error };
        throw error;
      }
    },
  };
}
