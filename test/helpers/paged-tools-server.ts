/**
 * A stateless MCP 2025-11-25 server (the SDK's low-level Server behind StreamableHTTPServerTransport
 * on 127.0.0.1) whose `tools/list` answers in pages: tools `t0 … t<count-1>`, `pageSize` per page,
 * the cursor being the index of the next tool. Each tool echoes its `text`. For tests of merged
 * pagination; `listCursors` records the cursor of every tools/list it answered.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { listenLoopback } from './loopback-server.js';

export interface PagedServer {
  url: string;
  /** The cursor of each tools/list request, in arrival order (undefined for a first page). */
  listCursors: Array<string | undefined>;
  close(): Promise<void>;
}

export async function startPagedServer(opts: { count: number; pageSize: number }): Promise<PagedServer> {
  const listCursors: Array<string | undefined> = [];
  const newServer = () => {
    const server = new Server({ name: 'paged-test-server', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, (req) => {
      const cursor = req.params?.cursor;
      listCursors.push(cursor);
      const start = cursor === undefined ? 0 : Number(cursor);
      const end = Math.min(opts.count, start + opts.pageSize);
      const tools = [];
      for (let i = start; i < end; i++) tools.push({ name: `t${i}`, inputSchema: { type: 'object' as const, properties: { text: { type: 'string' } } } });
      return end < opts.count ? { tools, nextCursor: String(end) } : { tools };
    });
    server.setRequestHandler(CallToolRequestSchema, (req) => ({
      content: [{ type: 'text', text: `${req.params.name}: ${String(req.params.arguments?.text)}` }],
    }));
    return server;
  };
  const host = await listenLoopback((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const server = newServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => void server.close());
      await server.connect(transport);
      await transport.handleRequest(req, res, text ? JSON.parse(text) : undefined);
    })().catch(() => res.destroy());
  });
  return { url: `http://127.0.0.1:${host.port}/mcp`, listCursors, close: () => host.close() };
}
