/**
 * DPoP proofs and the token endpoint's nonce retry (src/auth/dpop.ts, token-endpoint.ts), checked
 * the way a server checks them (RFC 9449 §4.3) with jose, and the token request against a real
 * loopback token endpoint that asks for a nonce (§8).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import {
  advertisedDpopAlgs,
  authorizationValue,
  chooseDpopAlg,
  DpopNonces,
  DpopProver,
  generateDpopKey,
  htuOf,
  newLoginDpop,
  requestProof,
  tokenDpop,
  wantsDpop,
} from '../../src/auth/dpop.js';
import { None } from '../../src/auth/client-auth.js';
import { processTokenResponse, tokenRequest } from '../../src/auth/token-endpoint.js';
import { bearerChallenge } from '../../src/http/challenge.js';
import { scrub } from '../../src/log.js';
import { parseTokens } from '../../src/store/guards.js';
import { listenLoopback, type LoopbackServer } from '../helpers/loopback-server.js';

const servers: LoopbackServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** RFC 9449 §4.3 checks of one proof; returns its claims and header. */
async function verifyProof(proof: string, expect_: { htm: string; htu: string; accessToken?: string }) {
  const header = jose.decodeProtectedHeader(proof);
  expect(header.typ).toBe('dpop+jwt');
  const jwk = header.jwk as jose.JWK;
  expect(jwk).toBeDefined();
  for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwk).not.toHaveProperty(secret);
  const { payload } = await jose.jwtVerify(proof, await jose.importJWK(jwk, header.alg), { typ: 'dpop+jwt' });
  expect(payload.htm).toBe(expect_.htm);
  expect(payload.htu).toBe(expect_.htu);
  expect(typeof payload.jti).toBe('string');
  expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThan(60);
  if (expect_.accessToken !== undefined) {
    expect(payload.ath).toBe(createHash('sha256').update(expect_.accessToken).digest('base64url'));
  } else {
    expect(payload).not.toHaveProperty('ath');
  }
  return { payload, header, jkt: await jose.calculateJwkThumbprint(jwk) };
}

describe('DPoP proofs (RFC 9449 §4.2)', () => {
  it('carries typ, the public jwk only, htm, htu without query and fragment, iat, ath and a nonce when given', async () => {
    const key = await generateDpopKey();
    expect(key.alg).toBe('ES256');
    const proof = await new DpopProver().proof(key, { method: 'post', url: 'https://mcp.example/mcp?x=1#frag', accessToken: 'at-1', nonce: 'n-1' });
    const { payload, header } = await verifyProof(proof, { htm: 'POST', htu: 'https://mcp.example/mcp', accessToken: 'at-1' });
    expect(payload.nonce).toBe('n-1');
    expect(header.alg).toBe('ES256');
  });

  it('never repeats a jti across 1,000 proofs of one key', async () => {
    const key = await generateDpopKey();
    const prover = new DpopProver();
    const jtis = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const p = await prover.proof(key, { method: 'GET', url: 'https://mcp.example/mcp', accessToken: 'at' });
      jtis.add(jose.decodeJwt(p).jti as string);
    }
    expect(jtis.size).toBe(1000);
  });

  it('signs with the first advertised algorithm it supports when ES256 is not allowed', async () => {
    expect(chooseDpopAlg(undefined)).toBe('ES256');
    expect(chooseDpopAlg(['RS256', 'ES256'])).toBe('ES256');
    expect(chooseDpopAlg(['HS256', 'PS256'])).toBe('PS256');
    expect(chooseDpopAlg(['HS256'])).toBeUndefined();
    const key = await generateDpopKey('ES384');
    const proof = await new DpopProver().proof(key, { method: 'DELETE', url: 'https://mcp.example/mcp' });
    expect((await verifyProof(proof, { htm: 'DELETE', htu: 'https://mcp.example/mcp' })).header.alg).toBe('ES384');
  });

  it('binds a login per --dpop: auto follows the server, always and never override it', async () => {
    expect(wantsDpop('auto', undefined, false)).toBe(false);
    expect(wantsDpop('auto', ['ES256'], false)).toBe(true);
    expect(wantsDpop('auto', undefined, true)).toBe(true);
    expect(wantsDpop('never', ['ES256'], true)).toBe(false);
    expect(wantsDpop('always', undefined, false)).toBe(true);
    expect(advertisedDpopAlgs({ dpop_signing_alg_values_supported: ['ES256', 'none', 3] })).toEqual(['ES256']);
    const base = { prover: new DpopProver(), nonces: new DpopNonces(), challenge: undefined };
    expect(await newLoginDpop({ ...base, mode: 'auto', metadata: {} })).toBeUndefined();
    expect((await newLoginDpop({ ...base, mode: 'auto', metadata: { dpop_signing_alg_values_supported: ['ES256'] } }))?.key.alg).toBe('ES256');
    await expect(newLoginDpop({ ...base, mode: 'always', metadata: { dpop_signing_alg_values_supported: ['HS256'] } })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
  });

  it('signs MCP requests only for DPoP-bound tokens, which go as "Authorization: DPoP"', async () => {
    const key = await generateDpopKey();
    const bound = { access_token: 'at', token_type: 'DPoP', obtained_at: 0, dpop_key: key };
    const prover = new DpopProver();
    expect(authorizationValue(bound)).toBe('DPoP at');
    expect(authorizationValue({ access_token: 'at', token_type: 'Bearer', obtained_at: 0, dpop_key: key })).toBe('Bearer at');
    const url = new URL('https://mcp.example/mcp');
    expect(
      await requestProof(prover, { ...bound, token_type: 'Bearer' }, { method: 'POST', url, authorization: 'Bearer at', nonce: undefined }),
    ).toBeUndefined();
    const proof = await requestProof(prover, bound, { method: 'POST', url, authorization: 'DPoP at', nonce: undefined });
    await verifyProof(proof!, { htm: 'POST', htu: url.href, accessToken: 'at' });
  });

  it('remembers nonces per origin and ignores malformed ones (RFC 9449 §8.1)', () => {
    const n = new DpopNonces();
    expect(n.remember('https://as.example/token', 'abc')).toBe(true);
    expect(n.get('https://as.example/other')).toBe('abc');
    expect(n.get('https://mcp.example/mcp')).toBeUndefined();
    expect(n.remember('https://as.example/token', 'bad nonce')).toBe(false);
    expect(n.remember('https://as.example/token', 'x"y')).toBe(false);
    expect(n.get('https://as.example/token')).toBe('abc');
    expect(htuOf('https://h.example:8443/a/b?q#f')).toBe('https://h.example:8443/a/b');
  });

  it('reads the DPoP challenge and its use_dpop_nonce error (RFC 9449 §7.1, §9)', () => {
    const h = (v: string) => new Headers({ 'www-authenticate': v });
    expect(bearerChallenge(h('DPoP error="use_dpop_nonce", resource_metadata="https://m/x"'))).toEqual({
      resourceMetadata: 'https://m/x',
      error: 'use_dpop_nonce',
      dpop: { error: 'use_dpop_nonce', only: true },
    });
    expect(bearerChallenge(h('Bearer scope="a", DPoP algs="ES256 PS256"'))).toEqual({ scope: 'a', dpop: { algs: ['ES256', 'PS256'] } });
  });

  it('keeps DPoP tokens out of log text, and prose about DPoP readable', () => {
    expect(scrub('retrying with DPoP eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig')).toBe('retrying with DPoP [redacted]');
    expect(scrub('the server keeps asking for a DPoP nonce')).toBe('the server keeps asking for a DPoP nonce');
  });

  it('stores the key as a private JWK with the tokens, and refuses a key file that is not one', async () => {
    const key = await generateDpopKey();
    const t = { access_token: 'at', token_type: 'DPoP', obtained_at: 1, dpop_key: key };
    expect(parseTokens(JSON.parse(JSON.stringify(t)))).toEqual(t);
    expect(() => parseTokens({ ...t, dpop_key: { alg: 'ES256', jwk: { kty: 'EC', x: 'a' } } })).toThrow(/private JWK/);
  });
});

describe('token requests with DPoP (RFC 9449 §5, §8)', () => {
  it('sends a proof, retries once with the nonce a 400 use_dpop_nonce gave, and accepts token_type DPoP', async () => {
    const seen: Array<{ proof: string; body: string }> = [];
    const server = await listenLoopback((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ proof: String(req.headers.dpop), body });
        const nonce = jose.decodeJwt(String(req.headers.dpop)).nonce;
        res.setHeader('content-type', 'application/json');
        res.setHeader('dpop-nonce', 'server-nonce-1');
        if (nonce !== 'server-nonce-1') {
          res.statusCode = 400;
          res.end(JSON.stringify({ error: 'use_dpop_nonce' }));
          return;
        }
        res.end(JSON.stringify({ access_token: 'bound', token_type: 'DPoP', expires_in: 60 }));
      });
    });
    servers.push(server);
    const endpoint = `http://127.0.0.1:${server.port}/token`;
    const nonces = new DpopNonces();
    const dpop = tokenDpop(await generateDpopKey(), new DpopProver(), nonces);
    const res = await tokenRequest({
      endpoint,
      params: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'rt' }),
      auth: None('c'),
      fetch,
      dpop,
    });
    expect(await processTokenResponse(res, { dpop: true })).toMatchObject({ access_token: 'bound', token_type: 'DPoP' });
    expect(seen).toHaveLength(2);
    const [first, second] = await Promise.all(seen.map((s) => verifyProof(s.proof, { htm: 'POST', htu: endpoint })));
    expect(first!.payload).not.toHaveProperty('nonce');
    expect(second!.payload.nonce).toBe('server-nonce-1');
    expect(first!.payload.jti).not.toBe(second!.payload.jti);
    expect(first!.jkt).toBe(second!.jkt);
    expect(nonces.get(endpoint)).toBe('server-nonce-1');
    // A DPoP token from a request that proved no key is unusable: refused.
    const plain = new Response(JSON.stringify({ access_token: 'x', token_type: 'DPoP' }), { status: 200 });
    await expect(processTokenResponse(plain)).rejects.toMatchObject({ cause: { field: 'token_type' } });
  });

  it('does not retry a second use_dpop_nonce: the answer goes back to the caller', async () => {
    let count = 0;
    const server = await listenLoopback((_req, res) => {
      count++;
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      res.setHeader('dpop-nonce', `n${count}`);
      res.end(JSON.stringify({ error: 'use_dpop_nonce' }));
    });
    servers.push(server);
    const dpop = tokenDpop(await generateDpopKey(), new DpopProver(), new DpopNonces());
    const res = await tokenRequest({
      endpoint: `http://127.0.0.1:${server.port}/token`,
      params: new URLSearchParams({ grant_type: 'client_credentials' }),
      auth: None('c'),
      fetch,
      dpop,
    });
    await expect(processTokenResponse(res, { dpop: true })).rejects.toMatchObject({ cause: { error: 'use_dpop_nonce' } });
    expect(count).toBe(2);
  });
});
