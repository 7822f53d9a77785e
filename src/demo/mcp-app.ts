/**
 * The demo MCP server's features on the SDK's low-level `Server`: tools echo, add, whoami,
 * slow (progress notifications), admin_report; resource demo://readme; prompt greet.
 * One instance per session.
 *
 * Tool inputs are declared as JSON Schema (what `tools/list` sends, MCP 2025-11-25 "Tools") and
 * checked against that same schema with the SDK's Ajv validator, so the demo needs no schema
 * library of its own (zod is not a runtime dependency of mcp-relay). As with the SDK's
 * McpServer, a tool that is unknown, gets invalid arguments or fails answers a tool result with
 * `isError: true` (MCP "Tools": errors in tool execution are reported in the result); an unknown
 * prompt or resource is a JSON-RPC Invalid Params error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import type { DemoCounters } from './types.js';

export const DEMO_SERVER_NAME = 'mcp-relay-demo';
export const DEMO_SERVER_VERSION = '1.0.0';
/** Bounds of the slow tool, so a typo cannot hold a session for hours. */
const SLOW_MAX_STEPS = 1000;
const SLOW_MAX_DELAY_MS = 60_000;

const README_URI = 'demo://readme';
export const README_TEXT = `# mcp-relay demo server

A local MCP server protected by an embedded OAuth 2.1 authorization server.

Tools: echo, add, whoami, slow (sends progress notifications), admin_report (may need an extra scope).
Prompt: greet. Resource: demo://readme (this text).
`;

export interface McpAppDeps {
  counters: DemoCounters;
  sessionCount: () => number;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type InputSchema = Tool['inputSchema'];

/** A tool as listed, plus its handler; `args` has passed `inputSchema`. */
interface DemoTool {
  description: string;
  inputSchema: InputSchema;
  run(args: Record<string, unknown>, extra: Extra, deps: McpAppDeps): CallToolResult | Promise<CallToolResult>;
}

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });
const NO_ARGUMENTS: InputSchema = { type: 'object', properties: {} };

const TOOLS: Record<string, DemoTool> = {
  echo: {
    description: 'Return the given text unchanged.',
    inputSchema: {
      type: 'object',
      properties: { text: { type: 'string', description: 'Text to echo back' } },
      required: ['text'],
    },
    run: (args) => text(args.text as string),
  },
  add: {
    description: 'Add two numbers.',
    inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
    run: (args) => {
      const sum = (args.a as number) + (args.b as number);
      return { ...text(String(sum)), structuredContent: { sum } };
    },
  },
  whoami: {
    description: 'Show the OAuth client and scopes of the access token used for this call.',
    inputSchema: NO_ARGUMENTS,
    run: (_args, extra) => {
      const info = { client_id: extra.authInfo?.clientId ?? null, scopes: extra.authInfo?.scopes ?? [] };
      return { ...text(JSON.stringify(info)), structuredContent: info };
    },
  },
  slow: {
    description: 'Take `steps` steps of `delayMs` each, reporting progress after each one.',
    inputSchema: {
      type: 'object',
      properties: {
        steps: { type: 'integer', minimum: 1, maximum: SLOW_MAX_STEPS },
        delayMs: { type: 'integer', minimum: 0, maximum: SLOW_MAX_DELAY_MS },
      },
      required: ['steps', 'delayMs'],
    },
    run: async (args, extra) => {
      const steps = args.steps as number;
      const delayMs = args.delayMs as number;
      const progressToken = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        // Rejects with AbortError when the client cancels (notifications/cancelled).
        await sleep(delayMs, undefined, { signal: extra.signal });
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: i, total: steps, message: `step ${i} of ${steps}` },
          });
        }
      }
      return text(`done after ${steps} steps`);
    },
  },
  admin_report: {
    description: 'Counters of the demo server (may require an admin scope).',
    inputSchema: NO_ARGUMENTS,
    run: (_args, _extra, deps) => {
      const report = { sessions: deps.sessionCount(), counters: structuredClone(deps.counters) };
      return { ...text(JSON.stringify(report)), structuredContent: report };
    },
  },
};

/** Compiled once per process: every session checks arguments against the schemas it lists. */
const ajv = new AjvJsonSchemaValidator();
const validators = new Map(Object.entries(TOOLS).map(([name, tool]) => [name, ajv.getValidator<Record<string, unknown>>(tool.inputSchema)]));

const toolError = (message: string): CallToolResult => ({ ...text(message), isError: true });

async function callTool(name: string, rawArgs: unknown, extra: Extra, deps: McpAppDeps): Promise<CallToolResult> {
  const tool = TOOLS[name];
  const validate = validators.get(name);
  if (!tool || !validate) return toolError(`Tool ${name} not found`);
  const checked = validate(rawArgs ?? {});
  if (!checked.valid) return toolError(`Invalid arguments for tool ${name}: ${checked.errorMessage}`);
  try {
    return await tool.run(checked.data, extra, deps);
  } catch (error) {
    return toolError(error instanceof Error ? error.message : String(error));
  }
}

function greet(args: Record<string, string> | undefined) {
  const name = args?.name;
  if (typeof name !== 'string') throw new McpError(ErrorCode.InvalidParams, 'Invalid arguments for prompt greet: "name" is required');
  return {
    messages: [{ role: 'user' as const, content: { type: 'text' as const, text: `Please greet ${name} warmly, in one sentence.` } }],
  };
}

export function createMcpApp(deps: McpAppDeps): Server {
  const server = new Server(
    { name: DEMO_SERVER_NAME, version: DEMO_SERVER_VERSION },
    {
      capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true } },
      instructions: 'Demo server for mcp-relay. Try the echo, add and whoami tools.',
    },
  );

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: Object.entries(TOOLS).map(([name, { description, inputSchema }]) => ({ name, description, inputSchema })),
  }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => callTool(request.params.name, request.params.arguments, extra, deps));

  const readme = { uri: README_URI, name: 'readme', title: 'About this server', description: 'What the demo server offers', mimeType: 'text/markdown' };
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: [readme] }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: [] }));
  server.setRequestHandler(ReadResourceRequestSchema, (request) => {
    if (request.params.uri !== README_URI) throw new McpError(ErrorCode.InvalidParams, `Resource ${request.params.uri} not found`);
    return { contents: [{ uri: README_URI, mimeType: 'text/markdown', text: README_TEXT }] };
  });

  server.setRequestHandler(ListPromptsRequestSchema, () => ({
    prompts: [
      {
        name: 'greet',
        description: 'Ask the model to greet someone.',
        arguments: [{ name: 'name', description: 'Who to greet', required: true }],
      },
    ],
  }));
  server.setRequestHandler(GetPromptRequestSchema, (request) => {
    if (request.params.name !== 'greet') throw new McpError(ErrorCode.InvalidParams, `Prompt ${request.params.name} not found`);
    return greet(request.params.arguments);
  });

  return server;
}
