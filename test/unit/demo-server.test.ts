/**
 * The embedded demo server, driven over real HTTP on 127.0.0.1 with fetch, with the SDK's own
 * client auth helpers and with the SDK Client. Assertions read what the server saw (counters)
 * and what it answered (status, headers, bodies).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { startDemoServer, type DemoServer, type DemoServerOptions } from '../../src/demo/server.js';
import { findApproveForm, followingOpener } from '../../src/demo/browser.js';
import { isRelayError } from '../../src/errors.js';

// ---------------------------------------------------------------- fixtures (all closed in afterEach)

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function demo(opts: DemoServerOptions = {}): Promise<DemoServer> {
  const server = await startDemoServer(opts);
  cleanups.push(() => server.close());
  return server;
}

/** A loopback HTTP server standing in for the client's redirect listener (or any test host). */
async function listener(handler: (url: URL) => { status?: number; body?: string; type?: string } = () => ({})) {
  const hits: URL[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    hits.push(url);
    const out = handler(url);
    res.writeHead(out.status ?? 200, { 'Content-Type': out.type ?? 'text/plain' });
    res.end(out.body ?? 'ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, hits, callback: `${origin}/callback` };
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function register(server: DemoServer, body: Record<string, unknown>) {
  const res = await fetch(`${server.issuer}/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, string> };
}

async function publicClient(server: DemoServer, redirectUri: string): Promise<string> {
  const { json } = await register(server, { redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', client_name: 'Test Client' });
  return json.client_id!;
}

function authorizeUrl(server: DemoServer, p: Record<string, string | undefined>): string {
  const url = new URL(`${server.issuer}/authorize`);
  const all: Record<string, string | undefined> = { response_type: 'code', code_challenge_method: 'S256', resource: server.url, state: 'st-1', ...p };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v);
  return url.href;
}

/** GET an authorization URL without following; the Location it answers with. */
async function authorizeRedirect(url: string): Promise<URL> {
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

async function token(server: DemoServer, params: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, string> };
}

interface TokenSet {
  access_token: string;
  refresh_token: string;
  scope: string;
}

/** Register, authorize (autoApprove) and exchange: a fresh token set. */
async function login(server: DemoServer, extra: Record<string, string> = {}) {
  const cb = await listener();
  const clientId = await publicClient(server, cb.callback);
  const { verifier, challenge } = pkce();
  const location = await authorizeRedirect(authorizeUrl(server, { client_id: clientId, redirect_uri: cb.callback, code_challenge: challenge, ...extra }));
  const code = location.searchParams.get('code')!;
  const res = await token(server, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: cb.callback,
    client_id: clientId,
    resource: extra.resource ?? server.url,
  });
  expect(res.status).toBe(200);
  return { clientId, code, verifier, callback: cb.callback, tokens: res.json as unknown as TokenSet };
}

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};

function mcpPost(server: DemoServer, body: unknown, accessToken?: string, sessionId?: string) {
  return fetch(server.url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
      ...(sessionId ? { 'Mcp-Session-Id': sessionId, 'Mcp-Protocol-Version': '2025-11-25' } : {}),
    },
    body: JSON.stringify(body),
  });
}

async function connectClient(server: DemoServer, accessToken: string) {
  const client = new Client({ name: 'demo-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { Authorization: `Bearer ${accessToken}` } } });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

/** The minimal OAuthClientProvider the SDK's auth() needs, kept in memory. */
class MemoryProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  constructor(readonly redirectUrl: string) {}
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    return 'sdk-state';
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: OAuthTokens) {
    this.saved = t;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

// ---------------------------------------------------------------- tests

describe('demo server: discovery', () => {
  it('serves RFC 9728 metadata at the path-aware and root locations and RFC 8414 / OIDC metadata', async () => {
    const s = await demo({ deviceAuthorization: true, clientIdMetadataDocumentSupported: true });
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const prm = (await (await fetch(`${s.issuer}${path}`)).json()) as Record<string, unknown>;
      expect(prm).toMatchObject({ resource: s.url, authorization_servers: [s.issuer], scopes_supported: ['mcp:tools', 'mcp:read'] });
    }
    const as = (await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(as).toMatchObject({
      issuer: s.issuer,
      authorization_endpoint: `${s.issuer}/authorize`,
      token_endpoint: `${s.issuer}/token`,
      registration_endpoint: `${s.issuer}/register`,
      revocation_endpoint: `${s.issuer}/revoke`,
      device_authorization_endpoint: `${s.issuer}/device`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
      client_id_metadata_document_supported: true,
      authorization_response_iss_parameter_supported: true,
    });
    expect(as.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:device_code');
    const oidc = (await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(oidc).toMatchObject({ issuer: s.issuer, code_challenge_methods_supported: ['S256'], subject_types_supported: ['public'] });
  });

  it('answers /mcp without a token with 401 and a WWW-Authenticate naming the metadata and scope', async () => {
    const s = await demo();
    const res = await mcpPost(s, INIT);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${s.issuer}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`);
    const bad = await mcpPost(s, INIT, 'not-a-token');
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(s.counters).toMatchObject({ unauthorized401: 2, mcpRequests: 2 });
  });

  it('emits a request event per HTTP request, path without query', async () => {
    const s = await demo();
    const seen: Array<{ method: string; path: string }> = [];
    s.events.on('request', (e: { method: string; path: string }) => seen.push(e));
    await fetch(`${s.issuer}/.well-known/oauth-authorization-server?x=1`);
    await mcpPost(s, INIT);
    expect(seen).toEqual([
      { method: 'GET', path: '/.well-known/oauth-authorization-server' },
      { method: 'POST', path: '/mcp' },
    ]);
  });

  it('applies metadataOverrides and resourceMetadataOverrides last (hostile values reach the client as planted)', async () => {
    const s = await demo({
      metadataOverrides: { authorization_endpoint: 'file:///etc/passwd', code_challenge_methods_supported: undefined },
      resourceMetadataOverrides: { resource: 'https://evil.example/mcp' },
    });
    const as = (await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(as.authorization_endpoint).toBe('file:///etc/passwd');
    expect('code_challenge_methods_supported' in as).toBe(false);
    const prm = (await (await fetch(`${s.issuer}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<string, unknown>;
    expect(prm.resource).toBe('https://evil.example/mcp');
  });
});

describe('demo server: authorization code flow', () => {
  it('completes the SDK auth() flow through the following opener, then serves tools to the SDK Client', async () => {
    const s = await demo({ autoApprove: true });
    const cb = await listener();
    const provider = new MemoryProvider(cb.callback);
    expect(await auth(provider, { serverUrl: s.url })).toBe('REDIRECT');
    expect(provider.authorizationUrl!.searchParams.get('resource')).toBe(s.url);
    const visited: string[] = [];
    await followingOpener({ onVisit: (u) => visited.push(u) })(provider.authorizationUrl!.href);
    expect(visited).toHaveLength(2);
    const hit = cb.hits[0]!;
    expect(hit.pathname).toBe('/callback');
    expect(hit.searchParams.get('state')).toBe('sdk-state');
    expect(hit.searchParams.get('iss')).toBe(s.issuer);
    expect(await auth(provider, { serverUrl: s.url, authorizationCode: hit.searchParams.get('code')! })).toBe('AUTHORIZED');
    expect(provider.saved?.refresh_token).toBeTruthy();

    const { client } = await connectClient(s, provider.saved!.access_token);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name).sort()).toEqual(['add', 'admin_report', 'echo', 'slow', 'whoami']);
    expect(await client.callTool({ name: 'echo', arguments: { text: 'hi' } })).toMatchObject({ content: [{ type: 'text', text: 'hi' }] });
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).toMatchObject({ content: [{ text: '42' }] });
    const who = (await client.callTool({ name: 'whoami', arguments: {} })) as { content: Array<{ text: string }> };
    expect(JSON.parse(who.content[0]!.text)).toEqual({ client_id: provider.info!.client_id, scopes: ['mcp:tools', 'mcp:read'] });
    const readme = await client.readResource({ uri: 'demo://readme' });
    expect(readme.contents[0]).toMatchObject({ uri: 'demo://readme', mimeType: 'text/markdown' });
    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    expect(JSON.stringify(prompt.messages)).toContain('Ada');
    expect(s.counters).toMatchObject({ registrations: 1, authorizeRequests: 1, codesIssued: 1, invalidGrant: 0 });
    expect(s.counters.tokenRequests).toEqual({ authorization_code: 1, refresh_token: 0, device_code: 0, client_credentials: 0 });
  });

  it('shows an accessible consent page; Approve (POST) sends the code, Deny sends access_denied, a request answers once', async () => {
    const s = await demo();
    const cb = await listener();
    const clientId = await publicClient(s, cb.callback);
    const url = authorizeUrl(s, { client_id: clientId, redirect_uri: cb.callback, code_challenge: pkce().challenge, scope: 'mcp:tools' });
    const page = await fetch(url, { redirect: 'manual' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await page.text();
    expect(html).toMatch(/<html lang="en">/);
    expect(html).toContain('Test Client');
    expect(html).toContain('<code>mcp:tools</code>');
    expect(html).toMatch(/<button type="submit" name="decision" value="approve"[^>]*>Approve<\/button>/);
    expect(html).toMatch(/<button type="submit" name="decision" value="deny">Deny<\/button>/);
    const form = findApproveForm(html)!;
    expect(form.method).toBe('POST');

    const post = (decision: string) =>
      fetch(new URL(form.action, s.issuer), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ request_id: form.fields.get('request_id')!, decision }),
      });
    const denied = await post('deny');
    const loc = new URL(denied.headers.get('location')!);
    expect(loc.searchParams.get('error')).toBe('access_denied');
    expect(loc.searchParams.get('state')).toBe('st-1');
    expect((await post('approve')).status).toBe(400); // request ids are single-use

    await followingOpener()(url); // fresh consent page; the opener presses Approve
    expect(cb.hits).toHaveLength(1);
    expect(cb.hits[0]!.searchParams.get('code')).toBeTruthy();
    expect(s.counters).toMatchObject({ authorizeRequests: 2, codesIssued: 1 });
  });

  it('accepts a loopback redirect URI on another port (RFC 8252 §7.3) but never redirects to an unregistered one', async () => {
    const s = await demo({ autoApprove: true });
    const clientId = await publicClient(s, 'http://127.0.0.1:1/callback');
    const challenge = pkce().challenge;
    const ok = await authorizeRedirect(authorizeUrl(s, { client_id: clientId, redirect_uri: 'http://127.0.0.1:45678/callback', code_challenge: challenge }));
    expect(ok.port).toBe('45678');
    expect(ok.searchParams.get('code')).toBeTruthy();
    for (const bad of ['http://127.0.0.1:45678/other', 'https://evil.example/callback']) {
      const res = await fetch(authorizeUrl(s, { client_id: clientId, redirect_uri: bad, code_challenge: challenge }), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
  });

  it('rejects plain PKCE, a missing challenge, a missing or foreign resource and unknown scopes, on the redirect URI', async () => {
    const s = await demo({ autoApprove: true });
    const cb = await listener();
    const clientId = await publicClient(s, cb.callback);
    const base = { client_id: clientId, redirect_uri: cb.callback, code_challenge: pkce().challenge };
    const cases: Array<[Record<string, string | undefined>, string]> = [
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge_method: undefined }, 'invalid_request'],
      [{ code_challenge: undefined }, 'invalid_request'],
      [{ resource: undefined }, 'invalid_target'],
      [{ resource: 'https://other.example/mcp' }, 'invalid_target'],
      [{ scope: 'mcp:tools root' }, 'invalid_scope'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
    ];
    for (const [override, error] of cases) {
      const loc = await authorizeRedirect(authorizeUrl(s, { ...base, ...override }));
      expect(loc.searchParams.get('error'), JSON.stringify(override)).toBe(error);
      expect(loc.searchParams.get('state')).toBe('st-1');
      expect(loc.searchParams.get('iss')).toBe(s.issuer);
      expect(loc.searchParams.get('code')).toBeNull();
    }
    expect(s.counters.codesIssued).toBe(0);
  });
});

describe('demo server: token endpoint', () => {
  it('checks PKCE and redirect_uri, and a replayed code is refused and revokes what it issued', async () => {
    const s = await demo({ autoApprove: true });
    const cb = await listener();
    const clientId = await publicClient(s, cb.callback);
    const { verifier, challenge } = pkce();
    const codeFor = async () =>
      (await authorizeRedirect(authorizeUrl(s, { client_id: clientId, redirect_uri: cb.callback, code_challenge: challenge }))).searchParams.get('code')!;
    const exchange = (code: string, over: Record<string, string> = {}) =>
      token(s, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: cb.callback, client_id: clientId, resource: s.url, ...over });

    expect((await exchange(await codeFor(), { code_verifier: pkce().verifier })).json.error).toBe('invalid_grant');
    expect((await exchange(await codeFor(), { redirect_uri: `${cb.origin}/elsewhere` })).json.error).toBe('invalid_grant');
    const noResource = await token(s, {
      grant_type: 'authorization_code',
      code: await codeFor(),
      code_verifier: verifier,
      redirect_uri: cb.callback,
      client_id: clientId,
    });
    expect(noResource.json.error).toBe('invalid_target');

    const code = await codeFor();
    const first = await exchange(code);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'mcp:tools mcp:read' });
    expect((await mcpPost(s, INIT, first.json.access_token)).status).toBe(200);
    const replay = await exchange(code);
    expect(replay.status).toBe(400);
    expect(replay.json.error).toBe('invalid_grant');
    expect((await mcpPost(s, INIT, first.json.access_token)).status).toBe(401);
    expect((await token(s, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token!, client_id: clientId })).json.error).toBe('invalid_grant');
    expect(s.counters.invalidGrant).toBe(4);
    expect(s.counters.tokenRequests.authorization_code).toBe(5);
  });

  it('rotates refresh tokens; reusing an old one is invalid_grant and revokes the whole family', async () => {
    const s = await demo({ autoApprove: true });
    const { clientId, tokens } = await login(s);
    const r1 = await token(s, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId, resource: s.url });
    expect(r1.status).toBe(200);
    expect(r1.json.refresh_token).not.toBe(tokens.refresh_token);
    expect(r1.json.access_token).not.toBe(tokens.access_token);
    const narrowed = await token(s, { grant_type: 'refresh_token', refresh_token: r1.json.refresh_token!, client_id: clientId, scope: 'mcp:read' });
    expect(narrowed.json.scope).toBe('mcp:read');
    const reuse = await token(s, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    expect(reuse.json.error).toBe('invalid_grant');
    // The family is gone: the newest refresh token and the access tokens issued from it.
    expect((await token(s, { grant_type: 'refresh_token', refresh_token: narrowed.json.refresh_token!, client_id: clientId })).json.error).toBe(
      'invalid_grant',
    );
    expect((await mcpPost(s, INIT, narrowed.json.access_token)).status).toBe(401);
    expect(s.counters.tokenRequests.refresh_token).toBe(4);
    expect(s.counters.invalidGrant).toBe(2);
  });

  it('without rotation hands back the same refresh token, which keeps working', async () => {
    const s = await demo({ autoApprove: true, rotateRefreshTokens: false });
    const { clientId, tokens } = await login(s);
    for (let i = 0; i < 2; i++) {
      const r = await token(s, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
      expect(r.status).toBe(200);
      expect(r.json.refresh_token).toBe(tokens.refresh_token);
    }
  });

  it('authenticates confidential clients by their registered method and supports client_credentials', async () => {
    const s = await demo();
    const { status, json } = await register(s, { redirect_uris: ['http://127.0.0.1:9/cb'] });
    expect(status).toBe(201);
    expect(json.token_endpoint_auth_method).toBe('client_secret_basic'); // RFC 7591 default
    expect(json.client_secret).toBeTruthy();
    const basic = `Basic ${Buffer.from(`${json.client_id}:${json.client_secret}`).toString('base64')}`;
    const ok = await token(s, { grant_type: 'client_credentials', resource: s.url }, { Authorization: basic });
    expect(ok.json).toMatchObject({ token_type: 'Bearer', scope: 'mcp:tools mcp:read' });
    expect(ok.json.refresh_token).toBeUndefined();
    expect((await mcpPost(s, INIT, ok.json.access_token)).status).toBe(200);
    const post = await token(s, { grant_type: 'client_credentials', client_id: json.client_id!, client_secret: json.client_secret! });
    expect(post.status).toBe(401);
    expect(post.json.error).toBe('invalid_client');
    const wrong = await token(s, { grant_type: 'client_credentials' }, { Authorization: `Basic ${Buffer.from(`${json.client_id}:nope`).toString('base64')}` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(s.counters.tokenRequests.client_credentials).toBe(3);
  });

  it('validates registrations: only loopback http or https redirect URIs', async () => {
    const s = await demo();
    expect((await register(s, { redirect_uris: ['http://evil.example/cb'] })).json.error).toBe('invalid_redirect_uri');
    expect((await register(s, { redirect_uris: ['myapp:/cb'] })).status).toBe(400);
    expect((await register(s, { redirect_uris: ['http://localhost:3/cb'], token_endpoint_auth_method: 'private_key_jwt' })).json.error).toBe(
      'invalid_client_metadata',
    );
    expect(s.counters.registrations).toBe(0);
    const off = await demo({ registrationEnabled: false });
    expect((await register(off, { redirect_uris: ['http://localhost:3/cb'] })).status).toBe(404);
  });

  it('revokes a refresh token with its family (RFC 7009), and expireAccessTokens / revokeAll / setDown act as documented', async () => {
    const s = await demo({ autoApprove: true });
    const a = await login(s);
    const revoke = await fetch(`${s.issuer}/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: a.tokens.refresh_token!, client_id: a.clientId }),
    });
    expect(revoke.status).toBe(200);
    expect(s.counters.revocations).toBe(1);
    expect((await mcpPost(s, INIT, a.tokens.access_token)).status).toBe(401);

    const b = await login(s);
    s.expireAccessTokens();
    const expired = await mcpPost(s, INIT, b.tokens.access_token);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const refreshed = await token(s, { grant_type: 'refresh_token', refresh_token: b.tokens.refresh_token!, client_id: b.clientId });
    expect((await mcpPost(s, INIT, refreshed.json.access_token)).status).toBe(200);

    s.setDown(true);
    const down = await token(s, { grant_type: 'refresh_token', refresh_token: refreshed.json.refresh_token!, client_id: b.clientId });
    expect(down.status).toBe(503);
    expect((await mcpPost(s, INIT, refreshed.json.access_token)).status).toBe(200); // MCP unaffected
    s.setDown(false);

    s.revokeAll();
    expect((await mcpPost(s, INIT, refreshed.json.access_token)).status).toBe(401);
    expect((await token(s, { grant_type: 'refresh_token', refresh_token: refreshed.json.refresh_token!, client_id: b.clientId })).json.error).toBe(
      'invalid_grant',
    );
  });
});

describe('demo server: MCP endpoint', () => {
  it('rejects a valid token issued for another resource (audience check)', async () => {
    const s = await demo({ autoApprove: true, otherResources: ['http://127.0.0.1:1/other-mcp'] });
    const { tokens } = await login(s, { resource: 'http://127.0.0.1:1/other-mcp' });
    const res = await mcpPost(s, INIT, tokens.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('serves MCP without any token when requireAuth is false', async () => {
    const s = await demo({ requireAuth: false });
    const client = new Client({ name: 'demo-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(s.url)));
    cleanups.push(() => client.close());
    const who = (await client.callTool({ name: 'whoami', arguments: {} })) as { content: Array<{ text: string }> };
    expect(JSON.parse(who.content[0]!.text)).toEqual({ client_id: null, scopes: [] });
    expect(s.counters.unauthorized401).toBe(0);
  });

  it('answers a tool call lacking its scope with 403 insufficient_scope before the transport, and step-up works', async () => {
    const s = await demo({ autoApprove: true, requiredScopeForTool: { admin_report: 'mcp:admin' } });
    const { tokens } = await login(s);
    const init = await mcpPost(s, INIT, tokens.access_token);
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.text();
    const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'admin_report', arguments: {} } };
    const res = await mcpPost(s, call, tokens.access_token, sessionId);
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", scope="mcp:tools mcp:read mcp:admin", resource_metadata="${s.resourceMetadataUrl}", error_description="this call needs scope mcp:admin"`,
    );
    expect(((await res.json()) as { id: number }).id).toBe(7);
    expect(s.counters.insufficientScope403).toBe(1);
    const as = (await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
    expect(as.scopes_supported).toContain('mcp:admin');

    const stepped = await login(s, { scope: 'mcp:tools mcp:read mcp:admin' });
    const { client } = await connectClient(s, stepped.tokens.access_token);
    const report = (await client.callTool({ name: 'admin_report', arguments: {} })) as unknown as {
      structuredContent: { counters: { insufficientScope403: number } };
    };
    expect(report.structuredContent.counters.insufficientScope403).toBe(1);
  });

  it('keeps sessions: progress notifications flow, DELETE ends a session, dropSessions makes old ids 404', async () => {
    const s = await demo({ autoApprove: true });
    const { tokens } = await login(s);
    const { client, transport } = await connectClient(s, tokens.access_token);
    const progress: number[] = [];
    const result = await client.callTool({ name: 'slow', arguments: { steps: 3, delayMs: 1 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(result).toMatchObject({ content: [{ text: 'done after 3 steps' }] });
    expect(progress).toEqual([1, 2, 3]);

    const oldId = transport.sessionId!;
    await transport.terminateSession();
    const afterDelete = await mcpPost(s, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, tokens.access_token, oldId);
    expect(afterDelete.status).toBe(404);

    const init = await mcpPost(s, INIT, tokens.access_token);
    const id = init.headers.get('mcp-session-id')!;
    await init.text();
    await s.dropSessions();
    expect((await mcpPost(s, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, tokens.access_token, id)).status).toBe(404);
    expect((await mcpPost(s, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, tokens.access_token)).status).toBe(400);
  });
});

describe('demo server: device authorization (RFC 8628)', () => {
  it('runs pending → slow_down → approved → tokens, then the device code is spent; expiry and denial answer per §3.5', async () => {
    let clock = 1_000_000;
    const s = await demo({ deviceAuthorization: true, deviceIntervalSec: 2, now: () => clock });
    const clientId = await publicClient(s, 'http://127.0.0.1:9/cb');
    const start = async () => {
      const res = await fetch(`${s.issuer}/device`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: clientId, resource: s.url, scope: 'mcp:tools' }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, string | number>;
    };
    const poll = (deviceCode: string) => token(s, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode, client_id: clientId });

    const d = await start();
    expect(d).toMatchObject({ verification_uri: `${s.issuer}/device/verify`, interval: 2, expires_in: 600 });
    expect(String(d.user_code)).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    const code = String(d.device_code);
    expect((await poll(code)).json.error).toBe('authorization_pending');
    expect((await poll(code)).json.error).toBe('slow_down'); // no time passed
    clock += 7_000; // interval is now 2 + 5 s
    expect((await poll(code)).json.error).toBe('authorization_pending');

    // The user opens verification_uri_complete and presses Approve.
    const page = await (await fetch(String(d.verification_uri_complete))).text();
    expect(page).toContain('mcp:tools');
    await followingOpener()(String(d.verification_uri_complete));
    clock += 7_000;
    const granted = await poll(code);
    expect(granted.status).toBe(200);
    expect(granted.json.scope).toBe('mcp:tools');
    expect((await mcpPost(s, INIT, granted.json.access_token)).status).toBe(200);
    clock += 7_000;
    expect((await poll(code)).json.error).toBe('invalid_grant');

    const late = await start();
    clock += 601_000;
    expect((await poll(String(late.device_code))).json.error).toBe('expired_token');
    expect(() => s.approveDevice(String(late.user_code))).toThrow();

    const denied = await start();
    await fetch(`${s.issuer}/device/verify`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user_code: String(denied.user_code).toLowerCase(), decision: 'deny' }),
    });
    expect((await poll(String(denied.device_code))).json.error).toBe('access_denied');

    const viaApi = await start();
    s.approveDevice(String(viaApi.user_code));
    expect((await poll(String(viaApi.device_code))).status).toBe(200);
    expect(s.counters.tokenRequests.device_code).toBe(8);
    expect(s.counters.deviceAuthorizations).toBe(4);
  });
});

describe('demo server: clients by metadata document and pre-registration', () => {
  it('fetches a Client ID Metadata Document, checks its client_id and redirect_uris, and refuses a mismatching one', async () => {
    const cb = await listener();
    let docClientId = '';
    const host = await listener((url) =>
      url.pathname === '/client.json'
        ? { type: 'application/json', body: JSON.stringify({ client_id: docClientId, client_name: 'Doc Client', redirect_uris: [cb.callback] }) }
        : { status: 404 },
    );
    const s = await demo({ clientIdMetadataDocumentSupported: true, autoApprove: true });
    const clientId = `${host.origin}/client.json`;
    docClientId = clientId;
    const { verifier, challenge } = pkce();
    const loc = await authorizeRedirect(authorizeUrl(s, { client_id: clientId, redirect_uri: cb.callback, code_challenge: challenge }));
    const tok = await token(s, {
      grant_type: 'authorization_code',
      code: loc.searchParams.get('code')!,
      code_verifier: verifier,
      redirect_uri: cb.callback,
      client_id: clientId,
      resource: s.url,
    });
    expect(tok.status).toBe(200);
    expect(s.counters.registrations).toBe(0);

    const evilId = `${host.origin}/client.json?v=2`; // document still claims the other URL
    const bad = await fetch(authorizeUrl(s, { client_id: evilId, redirect_uri: cb.callback, code_challenge: challenge }), { redirect: 'manual' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('client_id');
    const unlisted = await fetch(authorizeUrl(s, { client_id: clientId, redirect_uri: 'http://127.0.0.1:1/not-listed', code_challenge: challenge }), {
      redirect: 'manual',
    });
    expect(unlisted.status).toBe(400);
  });

  it('accepts a static public client on any loopback redirect and a static confidential one with either secret method', async () => {
    const s = await demo({
      autoApprove: true,
      staticClients: [{ client_id: 'pub' }, { client_id: 'conf', client_secret: 's3cret', redirect_uris: ['http://127.0.0.1:5/cb'] }],
    });
    const { verifier, challenge } = pkce();
    const loc = await authorizeRedirect(authorizeUrl(s, { client_id: 'pub', redirect_uri: 'http://localhost:31337/anything', code_challenge: challenge }));
    expect(loc.host).toBe('localhost:31337');
    const ok = await token(s, {
      grant_type: 'authorization_code',
      code: loc.searchParams.get('code')!,
      code_verifier: verifier,
      redirect_uri: 'http://localhost:31337/anything',
      client_id: 'pub',
      resource: s.url,
    });
    expect(ok.status).toBe(200);
    const https = await fetch(authorizeUrl(s, { client_id: 'pub', redirect_uri: 'https://example.com/cb', code_challenge: challenge }), { redirect: 'manual' });
    expect(https.status).toBe(400);
    expect((await token(s, { grant_type: 'client_credentials', client_id: 'conf', client_secret: 's3cret' })).status).toBe(200);
    expect((await token(s, { grant_type: 'client_credentials' }, { Authorization: `Basic ${Buffer.from('conf:s3cret').toString('base64')}` })).status).toBe(
      200,
    );
  });
});

describe('demo server: logging', () => {
  it('never writes a token, code, verifier or client secret to its log', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const s = await demo({ autoApprove: true, log: pino({ level: 'trace' }, sink) }); // no redaction: the demo itself must not log secrets
    const { clientId, code, verifier, tokens } = await login(s);
    const r = await token(s, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    await token(s, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId }); // reuse: logged refusal
    await mcpPost(s, INIT, 'bogus-token-value');
    const conf = await register(s, { redirect_uris: ['http://127.0.0.1:9/cb'] });
    const log = lines.join('');
    expect(log).toContain('tokens issued');
    for (const secret of [
      code,
      verifier,
      tokens.access_token!,
      tokens.refresh_token!,
      r.json.access_token!,
      r.json.refresh_token!,
      conf.json.client_secret!,
      'bogus-token-value',
    ]) {
      expect(log).not.toContain(secret);
    }
  });
});

describe('followingOpener', () => {
  it('refuses anything that is not http or https, including redirects to such URLs', async () => {
    await expect(followingOpener()('file:///etc/passwd')).rejects.toSatisfy((e) => isRelayError(e, 'UNSAFE_URL'));
    await expect(followingOpener()('javascript:alert(1)')).rejects.toSatisfy((e) => isRelayError(e, 'UNSAFE_URL'));
    const evil = await listener();
    const redirector = createServer((_req, res) => {
      res.writeHead(302, { Location: 'file:///etc/passwd' });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => redirector.close(() => resolve())));
    const url = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/start`;
    await expect(followingOpener()(url)).rejects.toSatisfy((e) => isRelayError(e, 'UNSAFE_URL'));
    expect(evil.hits).toHaveLength(0);
  });

  it('gives up after 10 requests in a redirect loop', async () => {
    const visits: string[] = [];
    const looper = createServer((req, res) => {
      res.writeHead(302, { Location: `/again${req.url}` });
      res.end();
    });
    await new Promise<void>((resolve) => looper.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => looper.close(() => resolve())));
    const start = `http://127.0.0.1:${(looper.address() as AddressInfo).port}/`;
    await expect(followingOpener({ onVisit: (u) => visits.push(u) })(start)).rejects.toSatisfy((e) => isRelayError(e, 'AUTH_FAILED'));
    expect(visits).toHaveLength(10);
  });
});
