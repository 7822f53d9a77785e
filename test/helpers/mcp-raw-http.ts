/**
 * Raw HTTP against the fixture servers (no SDK client), for assertions on status codes and
 * on the bytes of SSE streams.
 */
import { SSE_MESSAGES_PATH } from './mcp-routes.js';
import type { TestServer } from './mcp-server-types.js';

/** The protocol version raw requests claim (the SDK's latest). */
export const PROTOCOL_VERSION = '2025-11-25';

/** A complete `initialize` request body. */
export const RAW_INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
} as const;

/** POSTs `body` as JSON with the Accept header Streamable HTTP requires. */
export function rawPost(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

/** The request that opens a session on `server`: GET /sse for the legacy kind, else POST initialize. */
export function rawOpen(server: TestServer, headers: Record<string, string> = {}): Promise<Response> {
  if (server.kind === 'sse') return fetch(server.url, { headers: { accept: 'text/event-stream', ...headers } });
  return rawPost(server.url, RAW_INITIALIZE, headers);
}

/** A `tools/list` POST in an existing session, addressed the way the kind's clients do. */
export function rawPostInSession(server: TestServer, sessionId: string): Promise<Response> {
  const message = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
  if (server.kind === 'sse') {
    const url = new URL(SSE_MESSAGES_PATH, server.url);
    url.searchParams.set('sessionId', sessionId);
    return rawPost(url.href, message);
  }
  return rawPost(server.url, message, { 'mcp-session-id': sessionId, 'mcp-protocol-version': PROTOCOL_VERSION });
}

/** Reads a streamed response until `done(text)` holds or the stream ends, then cancels it. */
export async function readSseUntil(res: Response, done: (text: string) => boolean): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!done(text)) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel();
  return text;
}
