/**
 * Pending device authorizations (RFC 8628) of the demo authorization server, and the polling
 * rules of §3.5: authorization_pending, slow_down, access_denied, expired_token.
 */
import { randomInt } from 'node:crypto';
import { randomToken } from './http.js';

/** RFC 8628 §6.1: a base-20 alphabet without vowels, so codes spell no words and are easy to type. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;
/** RFC 8628 §3.5: on slow_down the interval MUST be increased by 5 seconds for all later requests. */
export const SLOW_DOWN_INCREMENT_SEC = 5;
/** Network latency can make a punctual client look a few milliseconds early; don't punish that. */
const POLL_TOLERANCE_MS = 50;

export interface DeviceRecord {
  deviceCode: string;
  /** Normalized: 8 letters, no dash. */
  userCode: string;
  clientId: string;
  clientName: string;
  scope: string[];
  resource: string;
  expiresAt: number;
  intervalSec: number;
  lastPollAt: number | undefined;
  status: 'pending' | 'approved' | 'denied' | 'used';
}

export type PollResult = { kind: 'ok'; device: DeviceRecord } | { kind: 'error'; error: string; description: string };

/** Upper-case, letters only: what the user typed, compared with what we issued. */
export function normalizeUserCode(input: string): string {
  return input.toUpperCase().replace(/[^A-Z]/g, '');
}

/** XXXX-XXXX for display. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, USER_CODE_LENGTH / 2)}-${code.slice(USER_CODE_LENGTH / 2)}`;
}

export class DeviceStore {
  private readonly byDeviceCode = new Map<string, DeviceRecord>();
  private readonly byUser = new Map<string, DeviceRecord>();

  constructor(private readonly now: () => number) {}

  create(fields: { clientId: string; clientName: string; scope: string[]; resource: string; ttlSec: number; intervalSec: number }): DeviceRecord {
    let userCode: string;
    do {
      userCode = Array.from({ length: USER_CODE_LENGTH }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]).join('');
    } while (this.byUser.has(userCode));
    const rec: DeviceRecord = {
      deviceCode: randomToken(),
      userCode,
      clientId: fields.clientId,
      clientName: fields.clientName,
      scope: fields.scope,
      resource: fields.resource,
      expiresAt: this.now() + fields.ttlSec * 1000,
      intervalSec: fields.intervalSec,
      lastPollAt: undefined,
      status: 'pending',
    };
    this.byDeviceCode.set(rec.deviceCode, rec);
    this.byUser.set(userCode, rec);
    return rec;
  }

  /** A pending, unexpired authorization for a user code as typed by the user. */
  pending(userCodeInput: string): DeviceRecord | undefined {
    const rec = this.byUser.get(normalizeUserCode(userCodeInput));
    return rec && rec.status === 'pending' && rec.expiresAt > this.now() ? rec : undefined;
  }

  /** Record the user's decision; false when the code is unknown, expired or already decided. */
  decide(userCodeInput: string, approve: boolean): boolean {
    const rec = this.pending(userCodeInput);
    if (!rec) return false;
    rec.status = approve ? 'approved' : 'denied';
    return true;
  }

  /** One poll of the token endpoint (RFC 8628 §3.4, §3.5). */
  poll(deviceCode: string, clientId: string): PollResult {
    const rec = this.byDeviceCode.get(deviceCode);
    if (!rec || rec.clientId !== clientId) return { kind: 'error', error: 'invalid_grant', description: 'unknown device_code for this client' };
    if (rec.status === 'used') return { kind: 'error', error: 'invalid_grant', description: 'device_code already used' };
    const now = this.now();
    if (rec.expiresAt <= now) return { kind: 'error', error: 'expired_token', description: 'device_code expired; start a new device authorization' };
    if (rec.status === 'denied') return { kind: 'error', error: 'access_denied', description: 'the user denied the request' };
    const early = rec.lastPollAt !== undefined && now - rec.lastPollAt < rec.intervalSec * 1000 - POLL_TOLERANCE_MS;
    rec.lastPollAt = now;
    if (early) {
      rec.intervalSec += SLOW_DOWN_INCREMENT_SEC;
      return { kind: 'error', error: 'slow_down', description: `polling too fast; wait ${rec.intervalSec} s between requests` };
    }
    if (rec.status === 'pending') return { kind: 'error', error: 'authorization_pending', description: 'the user has not approved yet' };
    rec.status = 'used';
    return { kind: 'ok', device: rec };
  }
}
