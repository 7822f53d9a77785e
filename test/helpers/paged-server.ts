/**
 * A real MCP server (the SDK's, stateful Streamable HTTP on 127.0.0.1) whose tools, prompts,
 * resources and resource templates come in pages of {@link PAGE_SIZE}, and that counts every
 * call, get and read by name, so filter tests assert on what reached the server.
 * Tool `notify` sends notifications/tools/list_changed.
 */
import type { IncomingMessage } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { listenLoopback } from './loopback-server.js';
import { createStatefulRouter, MCP_PATH } from './mcp-routes.js';

/** Items per list page: small, so every list the tests use spans several pages. */
export const PAGE_SIZE = 2;

export interface PagedServer {
  url: string;
  /** tools/call, prompts/get and resources/read that reached the server, as "method name". */
  seen: string[];
  /** List pages served, as "method cursor". */
  pages: string[];
  close(): Promise<void>;
}

export interface PagedContent {
  tools: string[];
  prompts: string[];
  resources: string[];
  templates: string[];
}

function page<T>(items: T[], cursor: string | undefined): { items: T[]; nextCursor?: string } {
  const start = cursor === undefined ? 0 : Number(cursor);
  const next = start + PAGE_SIZE;
  return { items: items.slice(start, next), ...(next < items.length ? { nextCursor: String(next) } : {}) };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : undefined;
}

export async function startPagedServer(content: PagedContent): Promise<PagedServer> {
  const seen: string[] = [];
  const pages: string[] = [];
  const newServer = () => {
    const mcp = new McpServer(
      { name: 'paged', version: '1.0.0' },
      { capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } } },
    );
    const s = mcp.server;
    s.setRequestHandler(ListToolsRequestSchema, (r) => {
      pages.push(`tools/list ${r.params?.cursor ?? ''}`);
      const p = page(content.tools, r.params?.cursor);
      return { tools: p.items.map((name) => ({ name, inputSchema: { type: 'object' as const } })), nextCursor: p.nextCursor };
    });
    s.setRequestHandler(CallToolRequestSchema, async (r) => {
      seen.push(`tools/call ${r.params.name}`);
      if (r.params.name === 'notify') await s.sendToolListChanged();
      return { content: [{ type: 'text' as const, text: `called ${r.params.name}` }] };
    });
    s.setRequestHandler(ListPromptsRequestSchema, (r) => {
      pages.push(`prompts/list ${r.params?.cursor ?? ''}`);
      const p = page(content.prompts, r.params?.cursor);
      return { prompts: p.items.map((name) => ({ name })), nextCursor: p.nextCursor };
    });
    s.setRequestHandler(GetPromptRequestSchema, (r) => {
      seen.push(`prompts/get ${r.params.name}`);
      return { messages: [{ role: 'user' as const, content: { type: 'text' as const, text: r.params.name } }] };
    });
    s.setRequestHandler(ListResourcesRequestSchema, (r) => {
      pages.push(`resources/list ${r.params?.cursor ?? ''}`);
      const p = page(content.resources, r.params?.cursor);
      return { resources: p.items.map((uri) => ({ uri, name: uri })), nextCursor: p.nextCursor };
    });
    s.setRequestHandler(ListResourceTemplatesRequestSchema, (r) => {
      const p = page(content.templates, r.params?.cursor);
      return { resourceTemplates: p.items.map((uriTemplate) => ({ uriTemplate, name: uriTemplate })), nextCursor: p.nextCursor };
    });
    s.setRequestHandler(ReadResourceRequestSchema, (r) => {
      seen.push(`resources/read ${r.params.uri}`);
      return { contents: [{ uri: r.params.uri, text: 'content' }] };
    });
    return mcp;
  };
  const router = createStatefulRouter(newServer, { jsonResponse: false, eventStore: false });
  const host = await listenLoopback((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    (req.method === 'POST' ? readBody(req) : Promise.resolve(undefined))
      .then((body) => router.handle(req, res, url, body))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
  });
  return {
    url: `http://127.0.0.1:${host.port}${MCP_PATH}`,
    seen,
    pages,
    close: async () => {
      await router.closeAll();
      await host.close();
    },
  };
}
