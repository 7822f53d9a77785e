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

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcMessage {
  const error: JsonRpcError = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: '2.0', id, error };
}
