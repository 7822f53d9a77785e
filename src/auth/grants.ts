/**
 * Which machine grant (machine-grant.ts) the options ask for: the one place that maps the flags
 * (--client-credentials, --workload-token, --idp-issuer) to a grant.
 */
import { type AuthOptions, machineGrantKind } from '../config/config.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { enterpriseGrant, type IdTokenLogin } from './enterprise.js';
import { workloadIdentityGrant } from './jwt-bearer.js';
import type { MachineGrant } from './machine-grant.js';

/**
 * The machine grant the options ask for, or undefined for a person's login. Call once per
 * coordinator: a grant may remember what the server refused (jwt-bearer.ts) or where the IdP's
 * token endpoint is (enterprise.ts). `idpLogin` signs in at the enterprise IdP when no
 * --idp-id-token is given (idp-login.ts).
 */
export function machineGrant(auth: AuthOptions, idpLogin?: IdTokenLogin): MachineGrant | undefined {
  switch (machineGrantKind(auth)) {
    case 'client_credentials':
      return clientCredentialsGrant;
    case 'workload_identity':
      return workloadIdentityGrant(auth.workloadToken!);
    case 'enterprise_managed':
      return enterpriseGrant(auth.enterprise!, idpLogin);
    default:
      return undefined;
  }
}
