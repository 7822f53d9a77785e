/**
 * The demo MCP server's features, built with the SDK's McpServer: tools echo, add, whoami,
 * slow (progress notifications), admin_report; resource demo://readme; prompt greet.
 * One instance per session.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { DemoCounters } from './types.js';

export const DEMO_SERVER_NAME = 'mcp-relay-demo';
export const DEMO_SERVER_VERSION = '1.0.0';
/** Bounds of the slow tool, so a typo cannot hold a session for hours. */
const SLOW_MAX_STEPS = 1000;
const SLOW_MAX_DELAY_MS = 60_000;

export const README_TEXT = `# mcp-relay demo server

A local MCP server protected by an embedded OAuth 2.1 authorization server.

Tools: echo, add, whoami, slow (sends progress notifications), admin_report (may need an extra scope).
Prompt: greet. Resource: demo://readme (this text).
`;

export interface McpAppDeps {
  counters: DemoCounters;
  sessionCount: () => number;
}

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

export function createMcpApp(deps: McpAppDeps): McpServer {
  const server = new McpServer(
    { name: DEMO_SERVER_NAME, version: DEMO_SERVER_VERSION },
    { instructions: 'Demo server for mcp-relay. Try the echo, add and whoami tools.' },
  );

  server.registerTool(
    'echo',
    { description: 'Return the given text unchanged.', inputSchema: { text: z.string().describe('Text to echo back') } },
    ({ text: value }) => text(value),
  );

  server.registerTool(
    'add',
    { description: 'Add two numbers.', inputSchema: { a: z.number(), b: z.number() } },
    ({ a, b }) => ({ ...text(String(a + b)), structuredContent: { sum: a + b } }),
  );

  server.registerTool(
    'whoami',
    { description: 'Show the OAuth client and scopes of the access token used for this call.' },
    (extra) => {
      const info = { client_id: extra.authInfo?.clientId ?? null, scopes: extra.authInfo?.scopes ?? [] };
      return { ...text(JSON.stringify(info)), structuredContent: info };
    },
  );

  server.registerTool(
    'slow',
    {
      description: 'Take `steps` steps of `delayMs` each, reporting progress after each one.',
      inputSchema: {
        steps: z.number().int().min(1).max(SLOW_MAX_STEPS),
        delayMs: z.number().int().min(0).max(SLOW_MAX_DELAY_MS),
      },
    },
    async ({ steps, delayMs }, extra) => {
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
  );

  server.registerTool(
    'admin_report',
    { description: 'Counters of the demo server (may require an admin scope).' },
    () => {
      const report = { sessions: deps.sessionCount(), counters: structuredClone(deps.counters) };
      return { ...text(JSON.stringify(report)), structuredContent: report };
    },
  );

  server.registerResource(
    'readme',
    'demo://readme',
    { title: 'About this server', description: 'What the demo server offers', mimeType: 'text/markdown' },
    (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: README_TEXT }] }),
  );

  server.registerPrompt(
    'greet',
    { description: 'Ask the model to greet someone.', argsSchema: { name: z.string().describe('Who to greet') } },
    ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Please greet ${name} warmly, in one sentence.` } }],
    }),
  );

  return server;
}
