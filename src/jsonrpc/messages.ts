/**
 * The few facts the relay needs about a JSON-RPC message. Messages are forwarded as they are;
 * we look at `id`, `method` and (for initialize) `result.protocolVersion`, nothing else, so the
 * relay never rejects or rewrites a message the SDK's stricter schemas would not know yet.
 */
export type JsonRpcId = string | number;

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: JsonRpcId | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: JsonRpcError;
}

/**
 * A message's own text as it arrived, forwarded instead of re-serialising the parsed object.
 * Bytes (one buffer, or the network chunks that carried a large message, in order) come from the
 * byte-level path; stdio.ts still checks them for line breaks before writing them as one line.
 */
export type RawMessage = string | Uint8Array | readonly Uint8Array[];

/** JSON-RPC 2.0 §5.1 */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
/** The SDK's codes for a relay-side failure (ErrorCode.ConnectionClosed / RequestTimeout). */
export const RELAY_ERROR = -32000;
export const REQUEST_TIMEOUT = -32001;

export function isRequest(m: JsonRpcMessage): m is JsonRpcMessage & { id: JsonRpcId; method: string } {
  return typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number');
}

export function isNotification(m: JsonRpcMessage): boolean {
  return typeof m.method === 'string' && m.id === undefined;
}

export function isResponse(m: JsonRpcMessage): m is JsonRpcMessage & { id: JsonRpcId } {
  return m.method === undefined && (typeof m.id === 'string' || typeof m.id === 'number') && ('result' in m || 'error' in m);
}

/** A value that may be forwarded as a JSON-RPC message: an object with jsonrpc "2.0". */
export function asMessage(value: unknown): JsonRpcMessage | undefined {
  if (value && typeof value === 'object' && !Array.isArray(value) && (value as { jsonrpc?: unknown }).jsonrpc === '2.0') {
    return value as JsonRpcMessage;
  }
  return undefined;
}

/** What a line from the host is, once parsed as JSON (see {@link classifyHostValue}). */
export type HostValue =
  | { kind: 'message'; msg: JsonRpcMessage }
  /** Not a valid message: answer -32600 with `id` (null unless a request's id could be read). */
  | { kind: 'invalid'; id: JsonRpcId | null; reason: string }
  /** A malformed response (it has result or error): there is no request to answer, only drop it. */
  | { kind: 'bad-response'; reason: string };

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isId(v: unknown): v is JsonRpcId {
  return typeof v === 'string' || typeof v === 'number';
}

/**
 * Check a parsed JSON value from the host against the shapes of JSON-RPC 2.0 §4-5 and MCP
 * 2025-11-25 (basic, messages: request ids MUST be a string or an integer, never null; no
 * batches). Nothing else is looked at: params and results pass through unchecked.
 */
export function classifyHostValue(value: unknown): HostValue {
  if (Array.isArray(value)) {
    return value.length === 0
      ? { kind: 'invalid', id: null, reason: 'expected a JSON-RPC 2.0 message object, got an empty array' }
      : {
          kind: 'invalid',
          id: null,
          reason: 'got a batch (a JSON array of messages); MCP 2025-11-25 does not support JSON-RPC batches: send one message per line',
        };
  }
  if (!value || typeof value !== 'object') return { kind: 'invalid', id: null, reason: `expected a JSON-RPC 2.0 message object, got ${kindOf(value)}` };
  const o = value as Record<string, unknown>;
  const readableId = typeof o.method === 'string' && isId(o.id) ? o.id : null;
  if (o.jsonrpc !== '2.0')
    return { kind: 'invalid', id: readableId, reason: `"jsonrpc" must be "2.0" (got ${o.jsonrpc === undefined ? 'none' : JSON.stringify(o.jsonrpc)})` };
  if ('method' in o) {
    if (typeof o.method !== 'string') return { kind: 'invalid', id: null, reason: `"method" must be a string (got ${kindOf(o.method)})` };
    if ('id' in o && !isId(o.id)) return { kind: 'invalid', id: null, reason: `"id" must be a string or a number (got ${kindOf(o.id)})` };
    return { kind: 'message', msg: value as JsonRpcMessage };
  }
  if ('result' in o || 'error' in o) {
    if ('result' in o && 'error' in o) return { kind: 'bad-response', reason: 'a response with both "result" and "error"' };
    if (!isId(o.id) && !(o.id === null && 'error' in o)) return { kind: 'bad-response', reason: `a response whose "id" is ${kindOf(o.id)}` };
    return { kind: 'message', msg: value as JsonRpcMessage };
  }
  return { kind: 'invalid', id: null, reason: 'no "method" (a request or notification needs one; a response needs "result" or "error")' };
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcMessage {
  const error: JsonRpcError = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: '2.0', id, error };
}
