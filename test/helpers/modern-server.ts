/**
 * A REAL MCP 2026-07-28 server for end-to-end tests: `createMcpHandler` from
 * @modelcontextprotocol/server 2.4.0 with `legacy: 'reject'` (it speaks ONLY 2026-07-28: an
 * `initialize` gets 400 -32022), mounted on node:http 127.0.0.1 with `toNodeHandler`.
 * It records every HTTP request (method, lower-cased headers, parsed body) so tests assert on
 * what the server saw.
 *
 * Tools: `echo {text}`, `ask {question}` (MRTR form elicitation), `sample {prompt}` (MRTR
 * sampling), `notify_list_changed` (publishes tools list_changed on open listen streams),
 * `slow {steps, delayMs}` (progress on the response stream; counts aborted runs), `region
 * {region, query}` (its `region` is marked `x-mcp-header: Region`), `flaky {text}` (the
 * fixture breaks the first `breakFlaky` answer streams of this tool before the result).
 * Resource `test://hello` (text "hello world"); prompt `greet {name}`.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createMcpHandler, inputRequired, inputResponse, McpServer, acceptedContent } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import * as z from 'zod';

export const MODERN_SERVER_NAME = 'modern-test-server';
export const MODERN_HELLO_URI = 'test://hello';
const LOOPBACK_HOST = '127.0.0.1';
/** Keep-alive comments every so often, so a test can see they are ignored (SDK default is 15 s). */
const KEEP_ALIVE_MS = 200;
/** Event-loop turns close() waits after destroying sockets, so keep-alive pools notice. */
const CLIENT_NOTICE_TURNS = 2;

/** One HTTP request as the fixture received it. */
export interface ModernRecorded {
  method: string;
  headers: Record<string, string | undefined>;
  /** Parsed JSON body of a POST (undefined for GET/DELETE or unparsable bodies). */
  body?: { id?: unknown; method?: string; params?: Record<string, unknown> } | undefined;
}

export interface ModernServerOptions {
  /** Break this many `flaky` answer streams (200 + SSE headers, then the socket is destroyed). */
  breakFlaky?: number;
  /** Answer every POST with 401 + this WWW-Authenticate unless `authorization` equals `Bearer <token>`. */
  bearer?: { token: string; resourceMetadata?: string };
}

export interface ModernServer {
  url: string;
  port: number;
  requests: ModernRecorded[];
  /** JSON-RPC methods seen in POST bodies, in arrival order. */
  methods(): string[];
  /** Runs of `slow` that stopped because the client went away. */
  counters: { slowAborted: number; flakyBroken: number };
  close(): Promise<void>;
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Start the server on a random loopback port. Always `close()` it in afterEach. */
export async function startModernServer(opts: ModernServerOptions = {}): Promise<ModernServer> {
  const requests: ModernRecorded[] = [];
  const counters = { slowAborted: 0, flakyBroken: 0 };
  let notifyToolsChanged = () => {};

  const factory = () => {
    const server = new McpServer(
      { name: MODERN_SERVER_NAME, version: '2.0.0' },
      {
        capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, logging: {} },
        instructions: 'a modern test server',
      },
    );
    server.registerTool('echo', { description: 'Echo the text back', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
      content: [{ type: 'text', text }],
    }));
    server.registerTool(
      'ask',
      { description: 'Ask the user a question (MRTR elicitation)', inputSchema: z.object({ question: z.string() }) },
      async ({ question }, ctx) => {
        const answer = inputResponse(ctx.mcpReq.inputResponses, 'answer');
        if (answer.kind === 'elicit' && answer.action !== 'accept') return { content: [{ type: 'text', text: `the user chose ${answer.action}` }] };
        const content = acceptedContent<{ answer: string }>(ctx.mcpReq.inputResponses, 'answer');
        if (content && ctx.mcpReq.requestState() === 'asked') return { content: [{ type: 'text', text: `you said ${content.answer}` }] };
        return inputRequired({
          inputRequests: {
            answer: inputRequired.elicit({
              message: question,
              requestedSchema: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] },
            }),
          },
          requestState: 'asked',
        });
      },
    );
    server.registerTool(
      'sample',
      { description: 'Ask the host LLM (MRTR sampling)', inputSchema: z.object({ prompt: z.string() }) },
      async ({ prompt }, ctx) => {
        const view = inputResponse(ctx.mcpReq.inputResponses, 'llm');
        if (view.kind === 'sampling') {
          const c = view.result.content as { type: string; text?: string };
          return { content: [{ type: 'text', text: `sampled: ${c.text ?? '?'}` }] };
        }
        return inputRequired({
          inputRequests: { llm: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 50 }) },
        });
      },
    );
    server.registerTool('notify_list_changed', { description: 'Publish tools list_changed' }, async () => {
      notifyToolsChanged();
      return { content: [{ type: 'text', text: 'notified' }] };
    });
    server.registerTool(
      'slow',
      { description: 'Report progress for a while', inputSchema: z.object({ steps: z.number().int(), delayMs: z.number().int() }) },
      async ({ steps, delayMs }, ctx) => {
        const token = ctx.mcpReq._meta?.progressToken;
        for (let i = 1; i <= steps; i++) {
          await new Promise((r) => setTimeout(r, delayMs));
          if (ctx.mcpReq.signal.aborted) {
            counters.slowAborted++;
            return { content: [{ type: 'text', text: 'aborted' }] };
          }
          if (token !== undefined) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } });
        }
        return { content: [{ type: 'text', text: `done ${steps}` }] };
      },
    );
    server.registerTool(
      'region',
      {
        description: 'A tool whose region is mirrored into Mcp-Param-Region',
        inputSchema: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }), query: z.string() }),
      },
      async ({ region, query }) => ({ content: [{ type: 'text', text: `${region}: ${query}` }] }),
    );
    server.registerTool('flaky', { description: 'Its first answer streams break', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
      content: [{ type: 'text', text: `flaky ${text}` }],
    }));
    server.registerResource('hello', MODERN_HELLO_URI, { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'hello world' }] }));
    server.registerPrompt('greet', { description: 'Greet someone', argsSchema: z.object({ name: z.string() }) }, async ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${name}!` } }],
    }));
    return server;
  };

  const handler = createMcpHandler(factory, { legacy: 'reject', keepAliveMs: KEEP_ALIVE_MS });
  notifyToolsChanged = () => handler.notify.toolsChanged();
  const node = toNodeHandler(handler);

  const http = createServer((req, res) => {
    void (async () => {
      const entry: ModernRecorded = { method: req.method ?? 'GET', headers: lowerCaseHeaders(req) };
      requests.push(entry);
      let parsed: unknown;
      if (entry.method === 'POST') {
        const raw = await readBody(req);
        try {
          parsed = JSON.parse(raw);
          entry.body = parsed as ModernRecorded['body'];
        } catch {
          parsed = raw;
        }
      }
      if (opts.bearer && entry.headers.authorization !== `Bearer ${opts.bearer.token}`) {
        const rm = opts.bearer.resourceMetadata ? `, resource_metadata="${opts.bearer.resourceMetadata}"` : '';
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': `Bearer error="invalid_token"${rm}` }).end('Unauthorized');
        return;
      }
      const body = entry.body;
      if (body?.method === 'tools/call' && body.params?.name === 'flaky' && counters.flakyBroken < (opts.breakFlaky ?? 0)) {
        counters.flakyBroken++;
        // A real broken answer stream: headers of an SSE answer, a keep-alive, then the socket dies.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(':\n\n', () => res.destroy());
        return;
      }
      await node(req, res, parsed);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
      else res.destroy();
    });
  });
  const sockets = new Set<Socket>();
  http.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, LOOPBACK_HOST, () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${LOOPBACK_HOST}:${port}/mcp`,
    port,
    requests,
    counters,
    methods: () => requests.map((r) => r.body?.method).filter((m): m is string => typeof m === 'string'),
    close: () =>
      (closing ??= (async () => {
        await handler.close().catch(() => {});
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
          for (const s of sockets) s.destroy();
        });
        for (let turn = 0; turn < CLIENT_NOTICE_TURNS; turn++) await new Promise((r) => setImmediate(r));
      })()),
  };
}

/** What a scripted server answers to one POST. */
export interface ScriptedReply {
  status?: number;
  /** A JSON-RPC message (sent as application/json) … */
  json?: unknown;
  /** … or SSE events (each one `data:` line), after which the stream ends (or breaks, with `destroy`). */
  sse?: unknown[];
  destroy?: boolean;
  /** Plain text body (with `status`). */
  text?: string;
  headers?: Record<string, string>;
}

export interface ScriptedServer {
  url: string;
  requests: ModernRecorded[];
  close(): Promise<void>;
}

/**
 * A hand-scripted MCP endpoint on a real loopback socket, for the cases a real SDK server will not
 * produce on demand (endless input_required, 5xx to the probe, a stream that always breaks).
 */
export async function startScriptedServer(reply: (body: ModernRecorded['body'], n: number) => ScriptedReply): Promise<ScriptedServer> {
  const requests: ModernRecorded[] = [];
  const http = createServer((req, res) => {
    void (async () => {
      const entry: ModernRecorded = { method: req.method ?? 'GET', headers: lowerCaseHeaders(req) };
      requests.push(entry);
      const raw = await readBody(req);
      try {
        entry.body = JSON.parse(raw) as ModernRecorded['body'];
      } catch {
        // not JSON: recorded without a body
      }
      const r = reply(entry.body, requests.length);
      if (r.sse) {
        res.writeHead(r.status ?? 200, { 'content-type': 'text/event-stream', ...r.headers });
        for (const e of r.sse) res.write(`event: message\ndata: ${JSON.stringify(e)}\n\n`);
        if (r.destroy) res.write(':\n\n', () => res.destroy());
        else res.end();
        return;
      }
      if (r.json !== undefined) {
        res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers }).end(JSON.stringify(r.json));
        return;
      }
      res.writeHead(r.status ?? 200, { 'content-type': 'text/plain', ...r.headers }).end(r.text ?? '');
    })();
  });
  await new Promise<void>((resolve) => http.listen(0, LOOPBACK_HOST, () => resolve()));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK_HOST}:${port}/mcp`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
