/**
 * RFC 8628 device authorization grant: the device authorization endpoint (/device), the
 * verification page where the user approves (/device/verify), and the token endpoint's
 * device_code grant.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientRecord } from './clients.js';
import { parseScope, servedResource, type DemoContext } from './context.js';
import { formatUserCode } from './device-store.js';
import type { TokenResponse } from './grants.js';
import { HttpError, readForm, sameResource, sendHtml, sendJson, sendOAuthError } from './http.js';
import { devicePage, messagePage } from './pages.js';

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
export const DEVICE_PATH = '/device';
export const DEVICE_VERIFY_PATH = '/device/verify';

/** RFC 8628 §3.1 / §3.2: issue a device_code and a user_code. */
export async function handleDeviceAuthorization(ctx: DemoContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const form = await readForm(req);
    const client = await ctx.clients.authenticate(req.headers.authorization, form);
    // MCP 2025-11-25: resource MUST be sent on authorization requests; this is the device flow's one.
    const presented = form.get('resource');
    if (!presented) throw new HttpError(400, 'invalid_target', `resource is required and must be ${ctx.mcpUrl}`);
    const resource = servedResource(ctx, presented);
    if (!resource) throw new HttpError(400, 'invalid_target', `resource ${presented} is not served here (expected ${ctx.mcpUrl})`);
    const requested = parseScope(form.get('scope'));
    const unknown = requested.filter((s) => !ctx.grantableScopes.includes(s));
    if (unknown.length) throw new HttpError(400, 'invalid_scope', `unknown scope: ${unknown.join(' ')}`);
    const device = ctx.devices.create({
      clientId: client.client_id,
      clientName: client.client_name ?? client.client_id,
      scope: requested.length ? requested : [...ctx.scopesSupported],
      resource,
      ttlSec: ctx.deviceCodeTtlSec,
      intervalSec: ctx.deviceIntervalSec,
    });
    ctx.counters.deviceAuthorizations++;
    ctx.log.info({ client_id: client.client_id }, 'demo AS: device authorization started');
    const verificationUri = `${ctx.issuer}${DEVICE_VERIFY_PATH}`;
    const userCode = formatUserCode(device.userCode);
    sendJson(res, 200, {
      device_code: device.deviceCode,
      user_code: userCode,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(userCode)}`,
      expires_in: ctx.deviceCodeTtlSec,
      interval: device.intervalSec,
    });
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    sendOAuthError(res, err.status, err.error, err.description, err.headers);
  }
}

/** RFC 8628 §3.4 / §3.5: one poll by the device. */
export function deviceCodeGrant(ctx: DemoContext, client: ClientRecord, form: Map<string, string>): TokenResponse {
  const deviceCode = form.get('device_code');
  if (!deviceCode) throw new HttpError(400, 'invalid_request', 'device_code is missing');
  const resource = form.get('resource');
  if (resource !== undefined && !servedResource(ctx, resource)) {
    throw new HttpError(400, 'invalid_target', `resource ${resource} is not served here (expected ${ctx.mcpUrl})`);
  }
  const polled = ctx.devices.poll(deviceCode, client.client_id);
  if (polled.kind === 'error') throw new HttpError(400, polled.error, polled.description);
  const d = polled.device;
  if (resource !== undefined && !sameResource(resource, d.resource)) {
    throw new HttpError(400, 'invalid_target', `resource ${resource} differs from the one this device authorization is for (${d.resource})`);
  }
  return ctx.grants.issue({ familyId: ctx.grants.newFamilyId(), clientId: d.clientId, resource: d.resource, scope: d.scope }, true);
}

/** GET /device/verify[?user_code=…]: the page where the user confirms the code. */
export function handleDeviceVerifyPage(ctx: DemoContext, res: ServerResponse, url: URL): void {
  const typed = url.searchParams.get('user_code') ?? '';
  const device = typed ? ctx.devices.pending(typed) : undefined;
  sendHtml(
    res,
    200,
    devicePage({
      action: DEVICE_VERIFY_PATH,
      userCode: typed,
      clientName: device?.clientName,
      scopes: device?.scope,
      error: typed && !device ? 'This code is unknown or expired.' : undefined,
    }),
  );
}

/** POST /device/verify: the user's decision. */
export async function handleDeviceVerifySubmit(ctx: DemoContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let form: Map<string, string>;
  try {
    form = await readForm(req);
  } catch (err) {
    sendHtml(res, 400, messagePage('Device not connected', err instanceof HttpError ? err.description : 'malformed form'));
    return;
  }
  const userCode = form.get('user_code') ?? '';
  const approve = form.get('decision') === 'approve';
  if (!ctx.devices.decide(userCode, approve)) {
    sendHtml(
      res,
      400,
      devicePage({ action: DEVICE_VERIFY_PATH, userCode, clientName: undefined, scopes: undefined, error: 'This code is unknown or expired.' }),
    );
    return;
  }
  ctx.log.info({ approved: approve }, 'demo AS: device authorization decided');
  sendHtml(
    res,
    200,
    approve
      ? messagePage('Device connected', 'You can close this tab and return to your device.')
      : messagePage('Request denied', 'The device was not connected. You can close this tab.'),
  );
}
