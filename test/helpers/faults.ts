/**
 * Fault injection at the socket, for the "hostile world" suite: a reverse proxy that sits in
 * front of a real server (SDK fixture or the demo authorization server) and, for the requests a
 * test picks, answers with an error, never answers, stalls a stream, or cuts the connection in
 * the middle of an SSE response; a self-signed certificate made with the openssl CLI; and a
 * recording forward proxy that proves the relay never contacted a host it must not contact.
 * Everything listens on 127.0.0.1 with a random port; close() everything in afterEach.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

const LOOPBACK = '127.0.0.1';
/** A self-signed certificate only has to outlive one test run. */
const CERT_DAYS = 1;

/** One request as the proxy received it. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The JSON-RPC method of a POSTed JSON body, when there is one. */
  rpcMethod?: string;
  body: string;
  /** The fault applied to it, if any. */
  fault?: FaultAction['kind'];
  /** The subject CN of the client certificate the connection presented (a proxy with `tls.clientCa`). */
  clientCert?: string;
}

/** What to do with a matching request instead of (or while) forwarding it. */
export type FaultAction =
  /** Answer at once with this status, headers and body; the upstream never sees the request. */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string }
  /** Accept the request and never answer (the socket stays open until close()). */
  | { kind: 'hang' }
  /** Answer 200 text/event-stream headers, then nothing, ever. */
  | { kind: 'stall-stream' }
  /** Cut the client's connection before any response byte. */
  | { kind: 'reset' }
  /** Forward; when the upstream answers with an SSE stream, pass its first event on, then cut both connections. */
  | { kind: 'reset-after-first-event' }
  /** Answer with this status and a plain-text body that repeats the request (headers and body), as some debug error pages do. */
  | { kind: 'echo-request'; status: number }
  /** A hostile answer (see {@link HostileAnswer}); it goes on until the client hangs up. */
  | { kind: 'hostile'; answer: HostileAnswer };

/**
 * Answers a careless or hostile server gives, each kept up until the client disconnects:
 * - `json-silence`: 200 application/json headers, then nothing;
 * - `json-huge-declared`: 200 application/json with a Content-Length of 3 GiB, bytes sent as fast as the socket takes them;
 * - `json-endless`: 200 application/json, chunked, the start of a JSON string that never ends;
 * - `sse-garbage`: events whose data is not JSON, every 20 ms;
 * - `sse-comments`: keep-alive comments only, every 20 ms;
 * - `sse-trickle`: a valid answer event, one byte every 300 ms;
 * - `sse-no-newline`: one `data:` line that never ends, 64 KiB at a time;
 * - `sse-progress-forever`: a valid progress notification every 100 ms, never the answer.
 */
export type HostileAnswer =
  | 'json-silence'
  | 'json-huge-declared'
  | 'json-endless'
  | 'sse-garbage'
  | 'sse-comments'
  | 'sse-trickle'
  | 'sse-no-newline'
  | 'sse-progress-forever';

/** Keep writing `next()` every `everyMs` (0: as fast as the socket drains) until the client goes away. */
function keepWriting(res: ServerResponse, next: () => string | Buffer | undefined, everyMs: number): void {
  let stopped = false;
  res.on('close', () => (stopped = true));
  const step = () => {
    if (stopped || res.destroyed) return;
    const chunk = next();
    if (chunk === undefined) return;
    const ok = res.write(chunk);
    if (everyMs > 0) setTimeout(step, everyMs);
    else if (ok) setImmediate(step);
    else res.once('drain', step);
  };
  step();
}

/** `prefix` once, then `block` forever: the start of a value that never ends. */
function prefixThen(prefix: string, block: Buffer): () => string | Buffer {
  let first = true;
  return () => {
    if (!first) return block;
    first = false;
    return prefix;
  };
}

function hostileAnswer(res: ServerResponse, answer: HostileAnswer, requestId: unknown): void {
  const sse = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
  const json = { 'content-type': 'application/json' };
  const block = Buffer.alloc(64 * 1024, 0x61);
  switch (answer) {
    case 'json-silence':
      res.writeHead(200, json).flushHeaders();
      return;
    case 'json-huge-declared':
      res.writeHead(200, { ...json, 'content-length': String(3 * 1024 ** 3) });
      keepWriting(res, () => block, 0);
      return;
    case 'json-endless': {
      res.writeHead(200, json);
      keepWriting(res, prefixThen(`{"jsonrpc":"2.0","id":${JSON.stringify(requestId)},"result":{"x":"`, block), 0);
      return;
    }
    case 'sse-garbage':
      res.writeHead(200, sse).flushHeaders();
      keepWriting(res, () => 'data: this is not json\n\n', 20);
      return;
    case 'sse-comments':
      res.writeHead(200, sse).flushHeaders();
      keepWriting(res, () => ': keep-alive\n\n', 20);
      return;
    case 'sse-trickle': {
      res.writeHead(200, sse).flushHeaders();
      const text = `data: ${JSON.stringify({ jsonrpc: '2.0', id: requestId, result: { content: [{ type: 'text', text: 'too late' }] } })}\n\n`;
      let i = 0;
      keepWriting(res, () => (i < text.length ? text[i++] : undefined), 300);
      return;
    }
    case 'sse-no-newline': {
      res.writeHead(200, sse);
      keepWriting(res, prefixThen('data: ', block), 0);
      return;
    }
    case 'sse-progress-forever': {
      res.writeHead(200, sse).flushHeaders();
      let n = 0;
      keepWriting(
        res,
        () => `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: `still working ${++n}` } })}\n\n`,
        100,
      );
      return;
    }
  }
}

export interface Fault {
  /** Which requests the fault applies to (default: every request). */
  match?: (r: SeenRequest) => boolean;
  /** How many matching requests it applies to (default 1; Infinity = until cleared). */
  times?: number;
  action: FaultAction;
}

export interface FaultProxy {
  /** `http(s)://127.0.0.1:PORT` */
  origin: string;
  port: number;
  /** Every request received, in order. */
  seen: SeenRequest[];
  /** Where unfaulted requests go (an origin, e.g. the fixture's `http://127.0.0.1:PORT`). */
  setTarget(origin: string): void;
  /** Queue a fault; faults are tried in the order they were added. */
  inject(fault: Fault): void;
  /** Remove every queued fault. */
  clear(): void;
  close(): Promise<void>;
}

/** Match helpers for {@link Fault.match}. */
export const on = {
  rpc: (method: string) => (r: SeenRequest) => r.rpcMethod === method,
  path: (path: string) => (r: SeenRequest) => r.path === path,
};

function rpcMethodOf(body: string): string | undefined {
  try {
    const v = JSON.parse(body) as { method?: unknown };
    return typeof v.method === 'string' ? v.method : undefined;
  } catch {
    return undefined;
  }
}

function rpcIdOf(body: string): unknown {
  try {
    return (JSON.parse(body) as { id?: unknown }).id ?? null;
  } catch {
    return null;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
    for (const s of sockets) s.destroy();
  });
}

/**
 * A reverse proxy on 127.0.0.1 in front of `target` (set now or later with setTarget), plain
 * http or, with `tls`, https. Unfaulted requests are forwarded byte for byte (streams flow
 * through as they arrive); `inject` picks requests to break.
 */
export async function startFaultProxy(opts: { target?: string; tls?: { key: string; cert: string; clientCa?: string } } = {}): Promise<FaultProxy> {
  let target = opts.target;
  const faults: Array<Required<Pick<Fault, 'times'>> & Fault> = [];
  const seen: SeenRequest[] = [];

  function takeFault(r: SeenRequest): FaultAction | undefined {
    const i = faults.findIndex((f) => (f.match ?? (() => true))(r));
    if (i < 0) return undefined;
    const f = faults[i]!;
    f.times -= 1;
    if (f.times <= 0) faults.splice(i, 1);
    return f.action;
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const text = body.toString('utf8');
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const r: SeenRequest = { method: req.method ?? 'GET', path: url.pathname, headers: req.headers, body: text };
    const peer = (req.socket as Socket & { getPeerCertificate?: () => { subject?: { CN?: string } } }).getPeerCertificate?.();
    if (peer?.subject?.CN) r.clientCert = peer.subject.CN;
    const rpc = rpcMethodOf(text);
    if (rpc !== undefined) r.rpcMethod = rpc;
    seen.push(r);
    const action = takeFault(r);
    if (action) r.fault = action.kind;
    switch (action?.kind) {
      case 'respond':
        res.writeHead(action.status, action.headers ?? {});
        res.end(action.body ?? '');
        return;
      case 'echo-request': {
        const lines = Object.entries(req.headers).map(([k, v]) => `${k}: ${String(v)}`);
        res.writeHead(action.status, { 'content-type': 'text/plain' });
        res.end(`error; you sent ${req.method} ${req.url} ${lines.join(' ')} ${text}`);
        return;
      }
      case 'hang':
        return;
      case 'hostile':
        hostileAnswer(res, action.answer, rpcIdOf(text));
        return;
      case 'stall-stream':
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.flushHeaders();
        return;
      case 'reset':
        req.socket.destroy();
        return;
      default:
        break;
    }
    if (!target) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('fault proxy: no target');
      return;
    }
    const upstreamUrl = new URL(req.url ?? '/', target);
    // Hop-by-hop headers belong to the client's connection, not to the proxy's pooled one to the
    // upstream (RFC 9110 §7.6.1): a forwarded `connection: close` made the upstream refuse the next
    // request on that socket with a 400 ("Data after Connection: close").
    const { connection: _connection, 'keep-alive': _keepAlive, ...endToEnd } = req.headers;
    const headers = { ...endToEnd, host: upstreamUrl.host };
    const upstream = httpRequest(upstreamUrl, { method: req.method, headers });
    upstream.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.on('response', (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      res.flushHeaders();
      const sse = (up.headers['content-type'] ?? '').includes('text/event-stream');
      let buffered = '';
      let cut = false;
      up.on('data', (chunk: Buffer) => {
        if (action?.kind === 'reset-after-first-event' && sse) {
          if (cut) return;
          buffered += chunk.toString('utf8');
          const end = buffered.search(/\r?\n\r?\n/);
          if (end >= 0) {
            cut = true;
            // The first whole event reaches the client; then the connection dies mid-response.
            res.write(buffered.slice(0, end + 2), () => {
              up.destroy();
              res.socket?.destroy();
            });
          }
          return;
        }
        res.write(chunk);
      });
      up.on('end', () => res.end());
      up.on('error', () => res.destroy());
    });
    upstream.end(body);
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res).catch(() => res.destroy());
  };
  // With `clientCa`, a mutual-TLS gateway: a connection without a client certificate signed by that CA is refused.
  const mutual = opts.tls?.clientCa ? { requestCert: true, rejectUnauthorized: true, ca: opts.tls.clientCa } : {};
  const server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert, ...mutual }, handler) : createHttpServer(handler);
  const sockets = trackSockets(server as Server);
  const port = await listen(server as Server);
  let closing: Promise<void> | undefined;
  return {
    origin: `${opts.tls ? 'https' : 'http'}://${LOOPBACK}:${port}`,
    port,
    seen,
    setTarget: (origin) => {
      target = origin;
    },
    inject: (fault) => faults.push({ ...fault, times: fault.times ?? 1 }),
    clear: () => {
      faults.length = 0;
    },
    close: () => (closing ??= closeServer(server as Server, sockets)),
  };
}

/**
 * A throwaway self-signed certificate for 127.0.0.1 (EC P-256, one day), made with the openssl
 * CLI. Returns PEM text and a path to the certificate (for NODE_EXTRA_CA_CERTS).
 */
export function selfSignedCert(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = join(dir, 'test-key.pem');
  const certFile = join(dir, 'test-ca.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      String(CERT_DAYS),
      '-subj',
      `/CN=${LOOPBACK}`,
      '-addext',
      `subjectAltName=IP:${LOOPBACK}`,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

/** A forward proxy that records every request and CONNECT it is asked for and refuses them all. */
export interface RecordingProxy {
  url: string;
  /** `METHOD target` lines, e.g. `GET http://evil.example/x` or `CONNECT evil.example:443`. */
  attempts: string[];
  close(): Promise<void>;
}

export async function startRecordingProxy(): Promise<RecordingProxy> {
  const attempts: string[] = [];
  const server = createHttpServer((req, res) => {
    attempts.push(`${req.method} ${req.url}`);
    res.writeHead(502, { 'content-type': 'text/plain' }).end('recording proxy: refused');
  });
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    attempts.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  return { url: `http://${LOOPBACK}:${port}`, attempts, close: () => closeServer(server, sockets) };
}

/**
 * Environment that routes the relay's outgoing requests through `proxy` except loopback ones,
 * so any attempt to reach another host is recorded instead of leaving the machine.
 */
export function proxyEnv(proxy: RecordingProxy): Record<string, string> {
  return { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: `${LOOPBACK},localhost` };
}

/** Every started proxy, for closeFaults() in afterEach. */
const started: Array<{ close(): Promise<void> }> = [];

export async function faultProxy(opts: Parameters<typeof startFaultProxy>[0] = {}): Promise<FaultProxy> {
  const p = await startFaultProxy(opts);
  started.push(p);
  return p;
}

export async function recordingProxy(): Promise<RecordingProxy> {
  const p = await startRecordingProxy();
  started.push(p);
  return p;
}

export async function closeFaults(): Promise<void> {
  for (const p of started.splice(0)) await p.close();
}

/**
 * The lightest possible Streamable HTTP peer for throughput tests: no SDK, no session. Answers
 * `initialize` with a minimal result, any other request with `{"echo": <params>}` as one
 * application/json body, notifications with 202, GET with 405. Counts the requests it answered.
 */
export interface EchoRpcServer {
  url: string;
  answered: () => number;
  close(): Promise<void>;
}

export async function echoRpcServer(): Promise<EchoRpcServer> {
  let answered = 0;
  const server = createHttpServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    readBody(req).then(
      (body) => {
        const msg = JSON.parse(body.toString('utf8')) as { id?: unknown; method?: string; params?: unknown };
        if (msg.id === undefined) {
          res.writeHead(202).end();
          return;
        }
        const result =
          msg.method === 'initialize'
            ? { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'echo-rpc', version: '1' } }
            : { echo: msg.params ?? null };
        answered += 1;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      },
      () => res.destroy(),
    );
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  const p = { url: `http://${LOOPBACK}:${port}/mcp`, answered: () => answered, close: () => closeServer(server, sockets) };
  started.push(p);
  return p;
}
