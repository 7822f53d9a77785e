/**
 * Hostile discovery documents and challenges, end to end: the demo OAuth server (or a bare 401
 * endpoint) serves URLs the relay must refuse before it fetches, registers, or launches
 * anything. Every relay runs with HTTP(S)_PROXY pointing at a recording proxy (loopback exempt),
 * so an attempt to reach a non-loopback host would be recorded rather than leave the machine.
 * (Hostile authorization_endpoint values are in oauth.test.ts; a few trickier ones are here.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeFaults, faultProxy, proxyEnv, recordingProxy } from '../helpers/faults.js';
import { browserEnv, browserLaunches, closeDemos, demo } from '../helpers/oauth.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';

afterEach(async () => {
  await killAll();
  await closeFaults();
  await closeDemos();
});

/** Start a relay against `url` and expect its initialize to be refused with `message`. */
async function expectRefused(url: string, message: RegExp): Promise<{ home: string; attempts: string[] }> {
  const home = await tempHome();
  const proxy = await recordingProxy();
  await expect(connectRelay([url], { home, env: { ...browserEnv(home), ...proxyEnv(proxy) } })).rejects.toThrow(message);
  return { home, attempts: proxy.attempts };
}

const HOSTILE = [
  ['file:///etc/passwd', /must be an https URL \(got scheme "file:"/],
  // (the SDK's metadata schema already refuses these two, naming the field)
  ['javascript:alert(1)', /must be an https URL \(got scheme "javascript:"|URL cannot use javascript:, data:, or vbscript: scheme/],
  ['data:text/plain,hello', /must be an https URL \(got scheme "data:"|URL cannot use javascript:, data:, or vbscript: scheme/],
  ['http://evil.example/x', /must be an https URL \(got scheme "http:" for host "evil\.example"\)/],
] as const;

describe('hostile endpoint URLs in authorization server metadata', () => {
  it.each(HOSTILE)('token_endpoint %s: refused naming the field; nothing registered, fetched or opened', async (value, why) => {
    const d = await demo({ metadataOverrides: { token_endpoint: value } });
    const { home, attempts } = await expectRefused(d.url, new RegExp(`"token_endpoint".*(${why.source})`));
    expect(d.counters.registrations).toBe(0);
    expect(browserLaunches(home)).toHaveLength(0);
    expect(attempts).toEqual([]);
  });

  it.each([HOSTILE[0], HOSTILE[3]])('registration_endpoint %s: refused naming the field; nothing registered, fetched or opened', async (value, why) => {
    const d = await demo({ metadataOverrides: { registration_endpoint: value } });
    const { home, attempts } = await expectRefused(d.url, new RegExp(`"registration_endpoint".*(${why.source})`));
    expect(d.counters.registrations).toBe(0);
    expect(browserLaunches(home)).toHaveLength(0);
    expect(attempts).toEqual([]);
  });

  it.each([
    ['http://127.0.0.1.nip.io/authorize'], // looks like loopback, is not
    ['https://as.example@evil.example/authorize'], // credentials that hide the real host
    ['https://evil.example/authorize|calc.exe'],
  ])('authorization_endpoint %s: refused, no browser launched', async (value) => {
    const d = await demo({ metadataOverrides: { authorization_endpoint: value } });
    const { home, attempts } = await expectRefused(d.url, /authorization_endpoint/);
    expect(browserLaunches(home)).toHaveLength(0);
    expect(d.counters.registrations).toBe(0);
    expect(attempts).toEqual([]);
  });
});

describe('hostile protected resource metadata and challenges', () => {
  it.each(HOSTILE)('resource_metadata=%s in a 401 WWW-Authenticate: refused before it is fetched', async (value, why) => {
    // A bare MCP endpoint that answers every request 401 with the hostile challenge.
    const p = await faultProxy();
    p.inject({
      times: Infinity,
      action: { kind: 'respond', status: 401, headers: { 'www-authenticate': `Bearer resource_metadata="${value}", scope="mcp"` }, body: '' },
    });
    const { home, attempts } = await expectRefused(`${p.origin}/mcp`, new RegExp(`resource_metadata \\(WWW-Authenticate\\).*(${why.source})`));
    expect(browserLaunches(home)).toHaveLength(0);
    expect(attempts).toEqual([]);
    // Only the MCP endpoint itself was asked: no metadata fetch from anywhere.
    expect(p.seen.every((r) => r.path === '/mcp')).toBe(true);
  });

  it('authorization_servers pointing at plain http on another host: refused, never fetched', async () => {
    const d = await demo({ resourceMetadataOverrides: { authorization_servers: ['http://evil.example'] } });
    const { home, attempts } = await expectRefused(d.url, /"authorization_servers\[0\]".*must be an https URL/);
    expect(browserLaunches(home)).toHaveLength(0);
    expect(attempts).toEqual([]);
  });

  it('protected resource metadata for another resource: refused (RFC 9728 §3.3)', async () => {
    const d = await demo({ resourceMetadataOverrides: { resource: 'https://evil.example/mcp' } });
    const { home } = await expectRefused(d.url, /"resource" in protected resource metadata must be/);
    expect(browserLaunches(home)).toHaveLength(0);
    expect(d.counters.registrations).toBe(0);
  });

  it('an issuer that does not match where the metadata was fetched from: refused (RFC 8414 §3.3), no registration or browser', async () => {
    const d = await demo({ metadataOverrides: { issuer: 'https://evil.example' } });
    const { home, attempts } = await expectRefused(d.url, /issuer.*https:\/\/evil\.example/);
    expect(browserLaunches(home)).toHaveLength(0);
    expect(d.counters.registrations).toBe(0);
    expect(attempts).toEqual([]);
  });
});
