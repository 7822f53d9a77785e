/**
 * The one exchange (src/remote/exchange.ts) with a DPoP-bound token against a real loopback MCP
 * endpoint: a 401 `use_dpop_nonce` (RFC 9449 §9) is answered by one resend with the nonce and a
 * fresh proof, and is never handed to the auth side as a refused token (no login, no refresh).
 */
import type { IncomingMessage } from 'node:http';
import * as jose from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { DpopProver, generateDpopKey, requestProof } from '../../src/auth/dpop.js';
import type { AuthHook, DpopProofRequest } from '../../src/auth/hook.js';
import { createNodeHttpFetch } from '../../src/http/node-http.js';
import { Exchange } from '../../src/remote/exchange.js';
import type { StoredTokens } from '../../src/store/store.js';
import { listenLoopback, type LoopbackServer } from '../helpers/loopback-server.js';

const servers: LoopbackServer[] = [];
const clients: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const c of clients.splice(0)) c.close();
});

/** A DPoP-bound login that records what the exchange asked of it. */
class BoundLogin implements AuthHook {
  unauthorizedCalls = 0;
  private readonly prover = new DpopProver();
  constructor(private readonly tokens: StoredTokens) {}
  async authorization(): Promise<string> {
    return `DPoP ${this.tokens.access_token}`;
  }
  async unauthorized(): Promise<void> {
    this.unauthorizedCalls++;
  }
  dpopProof(r: DpopProofRequest): Promise<string | undefined> {
    return requestProof(this.prover, this.tokens, r);
  }
}

/** A server answering `use_dpop_nonce` until a proof carries its nonce (`stubborn`: a new nonce every time, never satisfied). */
async function nonceServer(stubborn: boolean) {
  const proofs: jose.JWTPayload[] = [];
  let issued = 0;
  const server = await listenLoopback((req: IncomingMessage, res) => {
    const claims = jose.decodeJwt(String(req.headers.dpop));
    proofs.push(claims);
    const current = `nonce-${issued}`;
    if (stubborn || claims.nonce !== current) {
      issued++;
      res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': `nonce-${issued}` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  servers.push(server);
  return { url: new URL(`http://127.0.0.1:${server.port}/mcp?x=1`), proofs };
}

async function setup(stubborn: boolean) {
  const s = await nonceServer(stubborn);
  const login = new BoundLogin({ access_token: 'bound-token', token_type: 'DPoP', obtained_at: 0, dpop_key: await generateDpopKey() });
  const fetch = createNodeHttpFetch();
  clients.push(fetch);
  const exchange = new Exchange({ url: s.url, headers: {}, fetch, auth: login, closing: new AbortController().signal });
  return { ...s, login, exchange };
}

describe('DPoP nonces from the MCP server (RFC 9449 §9)', () => {
  it('resends once with the nonce and a fresh proof; no login', async () => {
    const { exchange, proofs, login, url } = await setup(false);
    const res = await exchange.request('POST', { body: '{}' });
    await res.body?.cancel();
    expect(res.status).toBe(200);
    expect(proofs).toHaveLength(2);
    expect(proofs[0]!.nonce).toBeUndefined();
    expect(proofs[1]!.nonce).toBe('nonce-1');
    expect(proofs[1]!.jti).not.toBe(proofs[0]!.jti);
    expect(proofs.every((p) => p.htu === `${url.origin}${url.pathname}` && p.htm === 'POST')).toBe(true);
    expect(login.unauthorizedCalls).toBe(0);
    // The nonce is remembered: the next request carries it from the start.
    const next = await exchange.request('GET');
    await next.body?.cancel();
    expect(next.status).toBe(200);
    expect(proofs).toHaveLength(3);
    expect(proofs[2]).toMatchObject({ nonce: 'nonce-1', htm: 'GET' });
  });

  it('a server that keeps asking gets one resend, then an error, and still no login', async () => {
    const { exchange, proofs, login } = await setup(true);
    await expect(exchange.request('POST', { body: '{}' })).rejects.toMatchObject({ code: 'REMOTE_HTTP', status: 401 });
    expect(proofs).toHaveLength(2);
    expect(login.unauthorizedCalls).toBe(0);
  });
});
