import * as z from 'zod/v4';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TestServerCounters } from './mcp-server-types.js';
import { sleep } from '../../src/sleep.js';

/** Upper bound sent with `sampling/createMessage` (the client-side test handler ignores it). */
const SAMPLE_MAX_TOKENS = 100;

/** The fixed resource every fixture serves. */
export const HELLO_RESOURCE_URI = 'test://hello';
/** The resource template every fixture serves; `test://item/42` reads as `item 42`. */
export const ITEM_TEMPLATE_URI = 'test://item/{id}';

function text(value: string): CallToolResult {
  return { content: [{ type: 'text', text: value }] };
}

function lowerCaseKeys(headers: Record<string, string | string[] | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * A fresh McpServer with the fixture's tools, resources and prompts.
 *
 * Tools: `echo`, `add`, `slow` (progress + cancellation), `sample` (sampling/createMessage),
 * `ask` (form elicitation), `roots` (roots/list; URIs joined with "\n"), `headers` (JSON of the
 * current HTTP request's lower-cased headers), `big` (`bytes` 'x' characters),
 * `notify_list_changed` (notifications/tools/list_changed, sent unrelated to the request, so it
 * travels on the standalone GET stream for Streamable HTTP), `log` (notifications/message on the
 * request's stream).
 *
 * `sample`, `ask` and `roots` send server→client requests on the tool call's response stream and
 * wait for the client's answer in a later POST, so they only work with the `stateful` and `sse`
 * kinds: `stateless` routes that answer to a different server instance, and `json`
 * (enableJsonResponse) has no stream to carry the request. Likewise, request-scoped
 * notifications (`slow` progress, `log`) are dropped by the SDK in `json` mode.
 */
export function createCapabilityServer(counters: TestServerCounters): McpServer {
  const mcp = new McpServer({ name: 'mcp-relay-test-server', version: '1.0.0' }, { capabilities: { logging: {} } });

  mcp.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text: value }) => text(value));

  mcp.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => text(String(a + b)));

  mcp.registerTool('slow', { inputSchema: { steps: z.number().int().min(0), delayMs: z.number().int().min(0) } }, async ({ steps, delayMs }, extra) => {
    const progressToken = extra._meta?.progressToken;
    for (let step = 1; step <= steps; step += 1) {
      // Progress is sent when a step starts, so every notification is followed by delayMs of
      // quiet: the SDK Client dispatches notifications a microtask late and drops progress that
      // arrives in the same read as the final response.
      if (progressToken !== undefined) {
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken, progress: step, total: steps, message: `step ${step}` },
        });
      }
      await sleep(delayMs, extra.signal);
      if (extra.signal.aborted) {
        // The SDK also aborts handlers when the session closes; by the time this runs it has
        // dropped its transport, which tells a client cancellation from a shutdown.
        if (mcp.server.transport !== undefined) counters.cancelled += 1;
        return text(`cancelled during step ${step}`);
      }
    }
    return text(`done ${steps}`);
  });

  mcp.registerTool('sample', { inputSchema: { prompt: z.string() } }, async ({ prompt }, extra) => {
    const result = await mcp.server.createMessage(
      { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: SAMPLE_MAX_TOKENS },
      { relatedRequestId: extra.requestId },
    );
    return text(result.content.type === 'text' ? result.content.text : JSON.stringify(result.content));
  });

  mcp.registerTool('ask', { inputSchema: { question: z.string() } }, async ({ question }, extra) => {
    const result = await mcp.server.elicitInput(
      {
        mode: 'form',
        message: question,
        requestedSchema: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] },
      },
      { relatedRequestId: extra.requestId },
    );
    return text(result.action === 'accept' ? String(result.content?.answer) : `action: ${result.action}`);
  });

  mcp.registerTool('roots', {}, async (extra) => {
    const { roots } = await mcp.server.listRoots(undefined, { relatedRequestId: extra.requestId });
    return text(roots.map((root) => root.uri).join('\n'));
  });

  mcp.registerTool('headers', {}, (extra) => text(JSON.stringify(lowerCaseKeys(extra.requestInfo?.headers))));

  mcp.registerTool('big', { inputSchema: { bytes: z.number().int().min(0) } }, ({ bytes }) => text('x'.repeat(bytes)));

  mcp.registerTool('notify_list_changed', {}, () => {
    mcp.sendToolListChanged();
    return text('ok');
  });

  mcp.registerTool('log', { inputSchema: { message: z.string() } }, async ({ message }, extra) => {
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'test', data: message } });
    return text('ok');
  });

  mcp.registerResource('hello', HELLO_RESOURCE_URI, { mimeType: 'text/plain' }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'hello world' }],
  }));

  mcp.registerResource('item', new ResourceTemplate(ITEM_TEMPLATE_URI, { list: undefined }), { mimeType: 'text/plain' }, (uri, { id }) => ({
    contents: [{ uri: uri.href, mimeType: 'text/plain', text: `item ${String(id)}` }],
  }));

  mcp.registerPrompt('greet', { argsSchema: { name: z.string() } }, ({ name }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${name}!` } }],
  }));

  return mcp;
}
