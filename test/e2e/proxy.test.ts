/**
 * Corporate networks: HTTP(S)_PROXY and NO_PROXY are honoured (Node 20's fetch ignores them;
 * the relay uses undici's EnvHttpProxyAgent). A real CONNECT proxy on loopback counts tunnels.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';
import { browserEnv, closeDemos, demo } from '../helpers/oauth.js';
import type { DemoRequestEvent } from '../../src/demo/types.js';

let proxy: Server | undefined;
let mcp: TestServer | undefined;
/**
 * CONNECT tunnels (both ends). server.closeAllConnections() does not reach a socket handed to the
 * 'connect' event, and server.close() waits for it: without this the teardown waits for the relay
 * process to exit (killAll does not wait for that). One teardown timed out at 30 s on a loaded
 * machine (node matrix, Node 22; not reproduced since), most likely there.
 */
const tunnels = new Set<Duplex>();

afterEach(async () => {
  await killAll();
  await closeDemos();
  await mcp?.close();
  for (const socket of tunnels) socket.destroy();
  tunnels.clear();
  proxy?.closeAllConnections();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  proxy = undefined;
  mcp = undefined;
});

/** A request line seen inside a tunnel: the targets here are plain http, so the proxy can read them. */
const REQUEST_LINE = /(?:^|\r\n)(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) (\S+) HTTP\/1\.1\r\n/g;

/**
 * A minimal forward proxy: CONNECT tunnels and absolute-URI requests are both counted, and the
 * request lines inside each tunnel are recorded (`tunneled`). With `credentials`, a CONNECT without
 * that Proxy-Authorization is refused with 407.
 */
async function startProxy(credentials?: string): Promise<{ url: string; seen: string[]; tunneled: string[] }> {
  const seen: string[] = [];
  const tunneled: string[] = [];
  proxy = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(502).end('this test proxy only tunnels');
  });
  proxy.on('connect', (req, client, head) => {
    seen.push(`CONNECT ${req.url}`);
    if (credentials && req.headers['proxy-authorization'] !== `Basic ${Buffer.from(credentials).toString('base64')}`) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    const sniff = (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) tunneled.push(`${m[1]} ${m[2]!.split('?')[0]}`);
    };
    sniff(head);
    client.on('data', sniff);
    const [host, port] = (req.url ?? '').split(':');
    tunnels.add(client);
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    tunnels.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', () => r()));
  const port = (proxy!.address() as AddressInfo).port;
  return { url: credentials ? `http://${credentials}@127.0.0.1:${port}` : `http://127.0.0.1:${port}`, seen, tunneled };
}

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

describe('proxies', () => {
  it('sends every request through HTTP_PROXY', async () => {
    const p = await startProxy();
    mcp = await startTestServer({ kind: 'stateful' });
    const { client } = await connectRelay([mcp.url], { home: await tempHome(), env: { HTTP_PROXY: p.url } });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'via proxy' } }))).toBe('via proxy');
    expect(p.seen.some((s) => s.includes(`127.0.0.1:${mcp!.port}`))).toBe(true);
  });

  it.each(['127.0.0.1', '127.0.0.0/8', 'localhost,127.0.0.1:PORT'])(
    'bypasses the proxy for hosts in NO_PROXY=%s (a host, a CIDR block, a host with its port)',
    async (noProxy) => {
      const p = await startProxy();
      mcp = await startTestServer({ kind: 'stateful' });
      const { client } = await connectRelay([mcp.url], {
        home: await tempHome(),
        env: { HTTP_PROXY: p.url, NO_PROXY: noProxy.replace('PORT', String(mcp.port)) },
      });
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'direct' } }))).toBe('direct');
      expect(p.seen).toEqual([]);
    },
  );
});

describe('every request through the proxy', () => {
  it('a whole OAuth login (discovery, registration, token, refresh, MCP) goes through an authenticating proxy: zero requests bypass it, and its credentials are never logged', async () => {
    const credentials = 'corp-user:pr0xy-s3cret';
    const p = await startProxy(credentials);
    const d = await demo();
    const requests: string[] = [];
    d.events.on('request', (r: DemoRequestEvent) => requests.push(`${r.method} ${r.path}`));
    const home = await tempHome();
    const { client, stderr } = await connectRelay([d.url, '--debug'], { home, env: { ...browserEnv(home), HTTP_PROXY: p.url, HTTPS_PROXY: p.url } });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'via proxy' } }))).toMatch(/via proxy/);
    d.expireAccessTokens();
    await client.listTools(); // a refresh, through the proxy too
    expect(d.counters.tokenRequests.refresh_token).toBeGreaterThanOrEqual(1);
    // What the browser fetched (the consent page) went direct: it is the browser's, not the relay's.
    const fromRelay = requests.filter((r) => !r.includes('/authorize'));
    expect(fromRelay.length).toBeGreaterThan(5);
    expect([...p.tunneled].sort()).toEqual([...fromRelay].sort());
    expect(fromRelay.some((r) => r.startsWith('POST /register'))).toBe(true);
    expect(fromRelay.some((r) => r.startsWith('POST /token'))).toBe(true);
    expect(stderr()).not.toContain('pr0xy-s3cret');
  });
});

describe('redirects', () => {
  it('follows a same-origin 307 but never carries headers to another origin', async () => {
    mcp = await startTestServer({ kind: 'stateful' });
    const other: string[] = [];
    const elsewhere = createServer((req, res) => {
      other.push(String(req.headers['x-api-key']));
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', () => r()));
    const elsewherePort = (elsewhere.address() as AddressInfo).port;
    // A front door on its own origin: /moved → 307 to the real endpoint on the same origin (proxied),
    // /away → 307 to another origin.
    proxy = createServer((req, res) => {
      if (req.url === '/away') return void res.writeHead(307, { location: `http://127.0.0.1:${elsewherePort}/mcp` }).end();
      if (req.url === '/moved') return void res.writeHead(307, { location: '/mcp' }).end();
      const upstream = connect(mcp!.port, '127.0.0.1', () => {
        upstream.write(
          `${req.method} ${req.url} HTTP/1.1\r\n${Object.entries(req.headers)
            .map(([k, v]) => `${k}: ${String(v)}`)
            .join('\r\n')}\r\nconnection: close\r\n\r\n`,
        );
        req.pipe(upstream);
        // The test may tear the server down while this connect was under way: no socket to answer on.
        if (!res.socket) return void upstream.destroy();
        upstream.pipe(res.socket);
      });
      // A request the relay sends while the test tears the server down (the session's DELETE)
      // meets a closed port: that is the relay's to handle, not an uncaught error in the test.
      upstream.on('error', () => res.destroy());
    });
    await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', () => r()));
    const front = `http://127.0.0.1:${(proxy!.address() as AddressInfo).port}`;
    try {
      const home = await tempHome();
      const ok = await connectRelay([`${front}/moved`, '-H', 'X-Api-Key: k-secret'], { home });
      expect(text(await ok.client.callTool({ name: 'echo', arguments: { text: 'same origin' } }))).toBe('same origin');
      await expect(connectRelay([`${front}/away`, '-H', 'X-Api-Key: k-secret', '--transport', 'http'], { home, timeoutMs: 20_000 })).rejects.toThrow(
        /redirects to http:\/\/127\.0\.0\.1:\d+\/mcp/,
      );
      expect(other).toEqual([]);
    } finally {
      elsewhere.close();
    }
  });
});
