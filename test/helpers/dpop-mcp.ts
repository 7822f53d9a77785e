/**
 * A real MCP server (the SDK's, via mcp-routes.ts) that accepts nothing but DPoP-bound tokens and
 * checks every proof as RFC 9449 §4.3 and §7.1 say: signature, typ, htm/htu, iat, ath, jti never
 * seen before, and the proof key's thumbprint equal to the token's cnf.jkt (the token verified
 * against the authorization server of dpop-as.ts). On 127.0.0.1, counting.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as jose from 'jose';
import { type DpopAs, SCOPE } from './dpop-as.js';
import { listenLoopback } from './loopback-server.js';
import { createCapabilityServer } from './mcp-capabilities.js';
import { createSseRouter, createStatefulRouter, MCP_PATH, type Router, SSE_PATH } from './mcp-routes.js';
import type { TestServerCounters } from './mcp-server-types.js';

/** RFC 9449 §11.1 / the MCP DPoP extension: proofs older or newer than this are refused. */
const PROOF_IAT_WINDOW_S = 300;

export interface McpDpopCounters extends TestServerCounters {
  /** Proofs that passed every check, by HTTP method. */
  verified: Record<string, number>;
  /** Why proofs (or tokens) were refused; must stay empty in a good run. */
  failures: string[];
  /** Every jti seen, and how many came again. */
  jtis: Set<string>;
  repeatedJti: number;
  /** Requests without a DPoP token (the 401 that starts a login). */
  unauthenticated: number;
  /** 401 use_dpop_nonce answers sent (RFC 9449 §9), and proofs that then carried the nonce. */
  nonceChallenges: number;
  nonceHonored: number;
}

export interface DpopMcpServer {
  url: string;
  counters: McpDpopCounters;
  /** Hand out a new nonce from now on (the next proof without it is refused with use_dpop_nonce). */
  rotateNonce(): void;
  close(): Promise<void>;
}

/**
 * The SDK's MCP server behind a DPoP check. With `requireNonce`, a proof must carry the server's
 * current nonce (RFC 9449 §9), which every answer also announces in DPoP-Nonce.
 */
export async function startDpopMcpServer(opts: { as: () => DpopAs; requireNonce?: boolean; kind?: 'stateful' | 'sse' }): Promise<DpopMcpServer> {
  const counters: McpDpopCounters = {
    initialize: 0,
    deleteSession: 0,
    cancelled: 0,
    get: 0,
    verified: {},
    failures: [],
    jtis: new Set(),
    repeatedJti: 0,
    unauthenticated: 0,
    nonceChallenges: 0,
    nonceHonored: 0,
  };
  const newServer = () => createCapabilityServer(counters);
  const router: Router = opts.kind === 'sse' ? createSseRouter(newServer) : createStatefulRouter(newServer, { jsonResponse: false, eventStore: false });
  const path = opts.kind === 'sse' ? SSE_PATH : MCP_PATH;
  let nonce = randomBytes(12).toString('base64url');
  let origin = '';
  const prm = () => `${origin}/.well-known/oauth-protected-resource${path}`;
  const host = await listenLoopback((req, res) => {
    handle(req, res).catch((err: unknown) => {
      counters.failures.push(`server error: ${String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  origin = `http://127.0.0.1:${host.port}`;
  const resource = `${origin}${path}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname.startsWith('/.well-known/oauth-protected-resource')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ resource, authorization_servers: [opts.as().issuer], scopes_supported: [SCOPE], dpop_bound_access_tokens_required: true }));
      return;
    }
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization ?? '';
    const proof = req.headers.dpop;
    if (!/^DPoP /.test(auth)) {
      counters.unauthenticated++;
      return challenge(res, 'DPoP algs="ES256"');
    }
    const problem = await check(method, url, auth.slice(5), proof);
    if (problem === 'nonce') {
      counters.nonceChallenges++;
      return challenge(res, 'DPoP error="use_dpop_nonce", error_description="send the nonce"');
    }
    if (problem) {
      counters.failures.push(`${method}: ${problem}`);
      return challenge(res, `DPoP error="invalid_dpop_proof", error_description="${problem}"`);
    }
    counters.verified[method] = (counters.verified[method] ?? 0) + 1;
    if (opts.requireNonce) res.setHeader('dpop-nonce', nonce);
    if (method === 'GET') counters.get++;
    if (method === 'DELETE') counters.deleteSession++;
    let body: unknown;
    if (method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if ((body as { method?: string }).method === 'initialize') counters.initialize++;
    }
    await router.handle(req, res, url, body);
  }

  function challenge(res: ServerResponse, value: string): void {
    res.writeHead(401, {
      'www-authenticate': `${value}, resource_metadata="${prm()}"`,
      'content-type': 'application/json',
      ...(opts.requireNonce ? { 'dpop-nonce': nonce } : {}),
    });
    res.end(JSON.stringify({ error: 'unauthorized' }));
  }

  /** RFC 9449 §4.3 and §7.1; returns what is wrong, 'nonce' when only the nonce is, undefined when all is well. */
  async function check(method: string, url: URL, token: string, proof: string | string[] | undefined): Promise<string | undefined> {
    if (typeof proof !== 'string' || proof.includes(',')) return 'not exactly one DPoP header';
    let header: jose.ProtectedHeaderParameters;
    let claims: jose.JWTPayload;
    try {
      header = jose.decodeProtectedHeader(proof);
      if (header.typ !== 'dpop+jwt') return `typ is ${header.typ}`;
      if (!header.jwk || 'd' in header.jwk) return 'no public jwk header';
      claims = (await jose.jwtVerify(proof, await jose.importJWK(header.jwk, header.alg), { typ: 'dpop+jwt' })).payload;
    } catch (err) {
      return `proof does not verify: ${String(err)}`;
    }
    if (claims.htm !== method) return `htm ${String(claims.htm)} for ${method}`;
    if (claims.htu !== `${origin}${url.pathname}`) return `htu ${String(claims.htu)} for ${origin}${url.pathname}`;
    if (typeof claims.iat !== 'number' || Math.abs(claims.iat - Date.now() / 1000) > PROOF_IAT_WINDOW_S) return 'iat out of window';
    if (claims.ath !== createHash('sha256').update(token).digest('base64url')) return 'ath does not match the token';
    if (typeof claims.jti !== 'string') return 'no jti';
    if (counters.jtis.has(claims.jti)) counters.repeatedJti++;
    counters.jtis.add(claims.jti);
    let at: jose.JWTPayload;
    try {
      at = (await jose.jwtVerify(token, jose.createLocalJWKSet(opts.as().jwks), { issuer: opts.as().issuer, audience: resource })).payload;
    } catch (err) {
      return `access token refused: ${String(err)}`;
    }
    const jkt = await jose.calculateJwkThumbprint(header.jwk);
    if ((at.cnf as { jkt?: string } | undefined)?.jkt !== jkt) return 'proof key is not the key the token is bound to (cnf.jkt)';
    if (opts.requireNonce) {
      if (claims.nonce !== nonce) return 'nonce';
      counters.nonceHonored++;
    }
    return undefined;
  }

  return {
    url: resource,
    counters,
    rotateNonce: () => {
      nonce = randomBytes(12).toString('base64url');
    },
    close: async () => {
      await router.closeAll();
      await host.close();
    },
  };
}
